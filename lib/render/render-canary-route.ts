/**
 * The Gateway API HTTPRoute (`gateway.networking.k8s.io/v1`) of a canary release: attached to the
 * Gateway named in the props, it sends `weight` percent of the requests to the candidate's Service
 * and the rest to the stable Service. Promoting the candidate is changing the props (its image
 * becomes the service's, the canary goes). Pure.
 */
import type { IHTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute' with {
  'resolution-mode': 'import',
};
import { type CanarySpec, type InferenceServiceSpec, TRACK_LABEL } from '../core';
import { asKubeObject, type KubeObject } from './kube-object';
import { standardLabels } from './labels';

/** The route splitting the stable service's requests with its candidate's. */
export function renderCanaryRoute(
  stable: InferenceServiceSpec,
  canary: CanarySpec,
  candidate: InferenceServiceSpec,
): KubeObject {
  const { gateway } = canary;
  const route: IHTTPRoute = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: {
      name: stable.name,
      ...(stable.namespace !== undefined ? { namespace: stable.namespace } : {}),
      labels: routeLabels(stable),
    },
    spec: {
      parentRefs: [
        {
          group: 'gateway.networking.k8s.io',
          kind: 'Gateway',
          name: gateway.name,
          ...(gateway.namespace !== undefined ? { namespace: gateway.namespace } : {}),
          ...(gateway.sectionName !== undefined ? { sectionName: gateway.sectionName } : {}),
        },
      ],
      ...(canary.hostnames.length > 0 ? { hostnames: [...canary.hostnames] } : {}),
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [
            { kind: 'Service', name: stable.name, port: stable.port, weight: 100 - canary.weight },
            { kind: 'Service', name: candidate.name, port: candidate.port, weight: canary.weight },
          ],
        },
      ],
    },
  };
  return asKubeObject(route);
}

/** The stable service's labels, but its version and track (the route is both tracks'). */
function routeLabels(stable: InferenceServiceSpec): Record<string, string> {
  const {
    'app.kubernetes.io/version': _version,
    [TRACK_LABEL]: _track,
    ...labels
  } = standardLabels(stable, '');
  return labels;
}
