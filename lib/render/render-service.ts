import type { IService } from 'kubernetes-models/v1/Service' with { 'resolution-mode': 'import' };
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount' with {
  'resolution-mode': 'import',
};
import { type InferenceServiceSpec } from '../core';
import { asKubeObject, type KubeObject } from './kube-object';
import { selectorLabels } from './labels';

/** The pods' identity; no API token is mounted unless the user asks (the server needs no API access). */
export function renderServiceAccount(
  spec: InferenceServiceSpec,
  metadata: KubeObject['metadata'],
): KubeObject {
  const account: IServiceAccount = {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata,
    automountServiceAccountToken: spec.serviceAccountToken,
  };
  return asKubeObject(account);
}

/** A ClusterIP Service with the serving port and the metrics port, both by container port name. */
export function renderService(spec: InferenceServiceSpec, metadata: KubeObject['metadata']): KubeObject {
  const service: IService = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(spec),
      ports: [
        { name: 'http', port: spec.port, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' },
        {
          name: 'metrics',
          port: spec.metricsPort,
          targetPort: 'metrics',
          protocol: 'TCP',
          appProtocol: 'http',
        },
      ],
    },
  };
  return asKubeObject(service);
}
