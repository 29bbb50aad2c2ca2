/**
 * InferenceService network props: the NetworkPolicy's peers and the Ingress.
 */

import { show } from './errors';
import {
  type IngressProps,
  type InferenceServiceProps,
  type NetworkPeerProps,
  INFERENCE_SERVICE_DEFAULTS,
} from './inference-service-props';
import { type IngressSpec, type NetworkPeer } from './inference-service-spec';
import { isDns1123Label, isDns1123Subdomain, isIngressHost, isQualifiedName } from './names';
import { type PropsChecker } from './props-checker';

const CIDR =
  /^(?:(?:\d{1,3}\.){3}\d{1,3}\/(?:3[0-2]|[12]?\d)|[0-9a-fA-F:]*:[0-9a-fA-F:.]*\/(?:12[0-8]|1[01]\d|[1-9]?\d))$/;

export function isCidr(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    CIDR.test(value) &&
    (!value.includes('.') ||
      value
        .split('/')[0]
        .split('.')
        .every((o) => Number(o) <= 255))
  );
}

export function resolvePeer(check: PropsChecker, prop: string, peer: NetworkPeerProps): NetworkPeer {
  check.record(prop, peer);
  const hasLabels = peer.podLabels !== undefined || peer.namespaceLabels !== undefined;
  if (peer.cidr !== undefined) {
    if (hasLabels) {
      check.fail(
        prop,
        `${prop} sets cidr ${show(peer.cidr)} together with labels; a peer is either an ip range or a label selection, so split it into two peers`,
      );
    }
    if (!isCidr(peer.cidr))
      check.fail(`${prop}.cidr`, `${prop}.cidr ${show(peer.cidr)} is not a cidr; use e.g. '10.0.0.0/8'`);
    for (const e of peer.except ?? []) {
      if (!isCidr(e))
        check.fail(`${prop}.except`, `${prop}.except entry ${show(e)} is not a cidr; use e.g. '10.0.5.0/24'`);
    }
    return { cidr: peer.cidr, except: [...(peer.except ?? [])] };
  }
  if (!hasLabels) {
    check.fail(prop, `${prop} ${show(peer)} selects nothing; set podLabels, namespaceLabels or cidr`);
  }
  if (peer.except !== undefined) check.fail(`${prop}.except`, `${prop}.except is only allowed with cidr`);
  return {
    ...(peer.podLabels !== undefined ? { podLabels: check.labels(`${prop}.podLabels`, peer.podLabels) } : {}),
    ...(peer.namespaceLabels !== undefined
      ? { namespaceLabels: check.labels(`${prop}.namespaceLabels`, peer.namespaceLabels) }
      : {}),
  };
}

export function resolvePeers(check: PropsChecker, prop: string, peers: unknown): NetworkPeer[] {
  if (!Array.isArray(peers) || peers.length === 0) {
    check.fail(
      prop,
      `${prop} must be a non-empty list of peers, got ${show(peers)}; omit it to admit pods of the same namespace`,
    );
  }
  return peers.map((p, i) => resolvePeer(check, `${prop}[${i}]`, p as NetworkPeerProps));
}

export function resolveNetworkPolicy(
  check: PropsChecker,
  props: InferenceServiceProps,
  ingress: IngressProps | undefined,
) {
  const np = props.networkPolicy ?? {};
  check.record('networkPolicy', np);
  const sameNamespace: NetworkPeer = { podLabels: {} };
  const servingDefault: NetworkPeer[] = [sameNamespace];
  if (ingress !== undefined) {
    const controllerNamespace =
      ingress.controllerNamespace ?? INFERENCE_SERVICE_DEFAULTS.ingressControllerNamespace;
    if (typeof controllerNamespace !== 'string' || !isDns1123Label(controllerNamespace)) {
      check.fail(
        'ingress.controllerNamespace',
        `ingress.controllerNamespace ${show(controllerNamespace)} is not a valid namespace name`,
      );
    }
    servingDefault.push({ namespaceLabels: { 'kubernetes.io/metadata.name': controllerNamespace } });
  }
  return {
    servingFrom:
      np.allowFrom === undefined
        ? servingDefault
        : resolvePeers(check, 'networkPolicy.allowFrom', np.allowFrom),
    metricsFrom:
      np.metricsFrom === undefined
        ? [sameNamespace]
        : resolvePeers(check, 'networkPolicy.metricsFrom', np.metricsFrom),
  };
}

export function resolveIngress(check: PropsChecker, ingress: IngressProps, name: string): IngressSpec {
  check.record('ingress', ingress);
  const rawHosts: unknown = ingress.hosts ?? [];
  if (!Array.isArray(rawHosts)) {
    check.fail('ingress.hosts', `ingress.hosts must be a list of host names, got ${show(rawHosts)}`);
  }
  const hosts = (rawHosts as readonly unknown[]).map((host) => {
    if (typeof host !== 'string' || !isIngressHost(host)) {
      check.fail(
        'ingress.hosts',
        `ingress.hosts entry ${show(host)} is not a dns name; use e.g. 'iris.example.com' or '*.example.com'`,
      );
    }
    return host;
  });
  const routePath = ingress.path ?? '/';
  if (typeof routePath !== 'string' || !routePath.startsWith('/')) {
    check.fail('ingress.path', `ingress.path ${show(routePath)} must start with '/'`);
  }
  if (
    ingress.className !== undefined &&
    (typeof ingress.className !== 'string' || !isDns1123Subdomain(ingress.className))
  ) {
    check.fail(
      'ingress.className',
      `ingress.className ${show(ingress.className)} is not a valid ingress class name`,
    );
  }
  const annotations = check.record('ingress.annotations', ingress.annotations ?? {});
  for (const [key, value] of Object.entries(annotations)) {
    if (!isQualifiedName(key) || typeof value !== 'string') {
      check.fail(
        'ingress.annotations',
        `ingress.annotations[${show(key)}] = ${show(value)} is not a valid annotation; keys are qualified names, values strings`,
      );
    }
  }
  let tls: IngressSpec['tls'];
  if (ingress.tls !== undefined) {
    check.record('ingress.tls', ingress.tls);
    if (hosts.length === 0) {
      check.fail(
        'ingress.tls',
        `ingress.tls is set but ingress.hosts is ${show(ingress.hosts ?? [])}; a certificate names its hosts, so add hosts such as ['iris.example.com']`,
      );
    }
    const { secretName = `${name}-tls`, clusterIssuer, issuer } = ingress.tls;
    if (typeof secretName !== 'string' || !isDns1123Subdomain(secretName)) {
      check.fail(
        'ingress.tls.secretName',
        `ingress.tls.secretName ${show(secretName)} is not a valid secret name (dns-1123 subdomain)`,
      );
    }
    if (clusterIssuer !== undefined && issuer !== undefined) {
      check.fail(
        'ingress.tls',
        `ingress.tls sets both clusterIssuer ${show(clusterIssuer)} and issuer ${show(issuer)}; cert-manager takes one, keep one`,
      );
    }
    for (const [prop, value] of [
      ['clusterIssuer', clusterIssuer],
      ['issuer', issuer],
    ] as const) {
      if (value !== undefined && (typeof value !== 'string' || !isDns1123Subdomain(value))) {
        check.fail(`ingress.tls.${prop}`, `ingress.tls.${prop} ${show(value)} is not a valid issuer name`);
      }
    }
    tls = { secretName, ...(clusterIssuer ? { clusterIssuer } : {}), ...(issuer ? { issuer } : {}) };
  }
  return {
    hosts,
    path: routePath,
    ...(ingress.className !== undefined ? { className: ingress.className } : {}),
    ...(tls ? { tls } : {}),
    annotations: annotations as Record<string, string>,
  };
}
