/** The MultiCloudDeployment both engines' tests deploy: the Iris service on three clusters. */
import * as path from 'node:path';
import { type MultiCloudDeploymentProps } from '../../lib/core';
import { SHARED_IRIS_GATE } from './shared-gate';

const IRIS = path.resolve(__dirname, '../../examples/iris/model/iris.onnx');

/** Three targets: EKS in wave 1, GKE and an on-premises standby in wave 2. */
export const MULTI: MultiCloudDeploymentProps = {
  service: {
    model: IRIS,
    image: 'ghcr.io/acme/iris:1.0.0',
    namespace: 'ml',
    gate: SHARED_IRIS_GATE,
    autoscaling: { maxReplicas: 50 },
    ingress: { className: 'nginx' },
  },
  targets: [
    { name: 'eks-us', cloud: 'aws', region: 'us-east-1', routing: { weight: 60 } },
    { name: 'gke-eu', cloud: 'gcp', region: 'europe-west4', routing: { weight: 40 }, wave: 2 },
    { name: 'onprem', cloud: 'other', routing: { weight: 0 }, wave: 2, replicas: 2 },
  ],
  routing: { hostname: 'iris.example.com', policy: 'weighted' },
  slo: { targetRps: 1000 },
  rollout: { applicationSet: { repoURL: 'https://github.com/acme/deploy.git', path: 'iris' } },
};
