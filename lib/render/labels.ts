import { type InferenceServiceSpec } from '../core';

/** Annotation keys modelfab writes. */
export const ANNOTATIONS = {
  modelSha256: 'modelfab.dev/model-sha256',
  policyWaivers: 'modelfab.dev/policy-waivers',
  /** `passed`, `failed` or `skipped`. */
  gate: 'modelfab.dev/gate',
  gateSummary: 'modelfab.dev/gate-summary',
} as const;

/** Labels that select the service's pods. Stable across versions: a Deployment's selector is immutable. */
export function selectorLabels(spec: InferenceServiceSpec): Record<string, string> {
  return {
    'app.kubernetes.io/name': spec.modelName,
    'app.kubernetes.io/instance': spec.name,
  };
}

/** Labels on every object and pod: the recommended app.kubernetes.io set, then the user's own. */
export function standardLabels(spec: InferenceServiceSpec, modelSha256: string): Record<string, string> {
  return {
    ...spec.labels,
    ...selectorLabels(spec),
    'app.kubernetes.io/version': spec.version ?? modelSha256.slice(0, 12),
    'app.kubernetes.io/component': 'inference',
    'app.kubernetes.io/managed-by': 'modelfab',
  };
}
