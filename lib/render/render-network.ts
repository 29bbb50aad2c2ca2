import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress' with {
  'resolution-mode': 'import',
};
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy' with {
  'resolution-mode': 'import',
};
import type { IIoK8sApiNetworkingV1NetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer' with {
  'resolution-mode': 'import',
};
import { type IngressSpec, type InferenceServiceSpec, type NetworkPeer } from '../core';
import { asKubeObject, type KubeObject } from './kube-object';
import { selectorLabels } from './labels';

/** A label selector; `{}` (select all) when there are no labels. */
function selector(labels: Readonly<Record<string, string>>) {
  return Object.keys(labels).length > 0 ? { matchLabels: { ...labels } } : {};
}

function networkPolicyPeer(peer: NetworkPeer): IIoK8sApiNetworkingV1NetworkPolicyPeer {
  if (peer.cidr !== undefined) {
    return { ipBlock: { cidr: peer.cidr, ...(peer.except?.length ? { except: [...peer.except] } : {}) } };
  }
  return {
    ...(peer.podLabels !== undefined ? { podSelector: selector(peer.podLabels) } : {}),
    ...(peer.namespaceLabels !== undefined ? { namespaceSelector: selector(peer.namespaceLabels) } : {}),
  };
}

/** Ingress to the pods only on the serving port and the metrics port, each from its own allowed peers. */
export function renderNetworkPolicy(
  spec: InferenceServiceSpec,
  metadata: KubeObject['metadata'],
): KubeObject {
  const policy: INetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata,
    spec: {
      podSelector: { matchLabels: selectorLabels(spec) },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: spec.networkPolicy.servingFrom.map(networkPolicyPeer),
          ports: [{ protocol: 'TCP', port: spec.port }],
        },
        {
          from: spec.networkPolicy.metricsFrom.map(networkPolicyPeer),
          ports: [{ protocol: 'TCP', port: spec.metricsPort }],
        },
      ],
    },
  };
  return asKubeObject(policy);
}

/** An Ingress to the Service's serving port, with TLS and the cert-manager issuer annotation when asked. */
export function renderIngress(
  spec: InferenceServiceSpec,
  ingress: IngressSpec,
  metadata: KubeObject['metadata'],
): KubeObject {
  const issuerAnnotations: Record<string, string> = {};
  if (ingress.tls?.clusterIssuer)
    issuerAnnotations['cert-manager.io/cluster-issuer'] = ingress.tls.clusterIssuer;
  if (ingress.tls?.issuer) issuerAnnotations['cert-manager.io/issuer'] = ingress.tls.issuer;
  const http = {
    paths: [
      {
        path: ingress.path,
        pathType: 'Prefix' as const,
        backend: { service: { name: spec.name, port: { name: 'http' } } },
      },
    ],
  };
  const object: IIngress = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      ...metadata,
      annotations: { ...metadata.annotations, ...ingress.annotations, ...issuerAnnotations },
    },
    spec: {
      ...(ingress.className !== undefined ? { ingressClassName: ingress.className } : {}),
      ...(ingress.tls ? { tls: [{ hosts: [...ingress.hosts], secretName: ingress.tls.secretName }] } : {}),
      rules: ingress.hosts.length > 0 ? ingress.hosts.map((host) => ({ host, http })) : [{ http }],
    },
  };
  return asKubeObject(object);
}
