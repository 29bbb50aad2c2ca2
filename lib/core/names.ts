/** Kubernetes name and label syntax (k8s.io/apimachinery/pkg/util/validation). */
import * as path from 'node:path';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** A DNS-1123 label (namespaces): lower-case alphanumerics and '-', at most 63 characters. */
export function isDns1123Label(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

/** A DNS-1035 label (Service names): a DNS-1123 label that starts with a letter. */
export function isDns1035Label(value: string): boolean {
  return value.length <= 63 && DNS1035_LABEL.test(value);
}

/** A DNS-1123 subdomain (most object names, Secret names, host names without the wildcard). */
export function isDns1123Subdomain(value: string): boolean {
  return value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

/** An Ingress host: a DNS-1123 subdomain, optionally with a leading `*.` wildcard label. */
export function isIngressHost(value: string): boolean {
  return isDns1123Subdomain(value.startsWith('*.') ? value.slice(2) : value);
}

/** A label or annotation key: an optional DNS-1123 subdomain prefix and '/', then a name of at most 63. */
export function isQualifiedName(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  const name = parts.length === 2 ? parts[1] : parts[0];
  if (parts.length === 2 && !isDns1123Subdomain(parts[0])) return false;
  return name.length <= 63 && LABEL_NAME.test(name);
}

/** A label value: empty, or at most 63 alphanumerics, '-', '_' and '.', alphanumeric at both ends. */
export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}

/** An environment variable name as the Kubernetes API accepts it. */
export function isEnvVarName(value: string): boolean {
  return ENV_VAR_NAME.test(value);
}

/**
 * The default name of a model as served (`/v2/models/<name>`) and as the `app.kubernetes.io/name`
 * label: the file name without `.onnx`, reduced to a DNS-1123 label.
 */
export function defaultModelName(modelPath: string): string {
  const base = path.basename(modelPath).replace(/\.onnx$/i, '');
  const safe = base
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return safe || 'model';
}
