// The Iris classifier as a production inference service, from a Pulumi program: the model and its
// server built into an image and pushed (to an ECR repository created here, or to your registry),
// benchmarked against the gate, and served on the cluster of your kubeconfig. Pulumi runs it from
// this folder, so paths are relative to it. Steps: README.md.
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { InferenceService, ModelImage } from 'modelfab/pulumi';

const config = new pulumi.Config();

// The cluster: a kubeconfig file (or its contents) and context; without them, $KUBECONFIG or
// ~/.kube/config and its current context.
const cluster = new k8s.Provider('cluster', {
  kubeconfig: config.get('kubeconfig'),
  context: config.get('context'),
});

// Where the image goes: a registry when `registry` is set (`ghcr.io`, `localhost:5000`), with a
// login when `registryUsername` is; else an ECR repository this program creates (scan on push,
// immutable tags, the newest 20 images kept), logged in with your AWS credentials. forceDelete lets
// `pulumi destroy` remove the example's repository with its images; leave it off in production.
const registry = config.get('registry');
const username = config.get('registryUsername');
const image = new ModelImage('iris', {
  model: '../iris/model/iris.onnx',
  ...(registry !== undefined
    ? {
        repository: config.require('repository'), // on that registry: ghcr.io/acme/iris
        registry: {
          server: registry,
          ...(username !== undefined ? { username, password: config.requireSecret('registryPassword') } : {}),
        },
      }
    : { repository: 'modelfab/iris', ecr: { keepImages: 20, forceDelete: true } }),
});

// Runs the pushed image by digest. The gate benchmarks the model with onnxruntime under these
// resources on every preview and update; a missed threshold fails it before any Kubernetes object
// is created or changed.
const service = new InferenceService(
  'iris',
  {
    image,
    namespace: 'ml',
    resources: { cpu: '1', memory: '512Mi' },
    autoscaling: { maxReplicas: 10, cpuUtilization: 70 },
    gate: {
      latencyP99Ms: 20,
      minThroughputRps: 300,
      accuracy: { dataset: '../iris/model/eval.jsonl', metric: 'top1', min: 0.9 },
      parity: { dataset: '../iris/model/expected.jsonl', atol: 1e-5, rtol: 1e-4 },
      maxColdStartMs: 2000,
    },
    // minReplicas comes from the capacity plan: 2000 rps over 70% of the throughput the gate measured.
    slo: { targetRps: 2000, targetUtilization: 0.7 },
  },
  { provider: cluster },
);

export const repoDigest = image.repoDigest;
export const url = service.url;
export const gateStatus = service.gateStatus;
