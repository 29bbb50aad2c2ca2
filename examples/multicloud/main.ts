// The Iris classifier on three clusters behind one hostname: EKS in us-east-1 first, then GKE in
// europe-west4 and a cluster on premises. `npm run synth:multicloud` (from the repo root) writes one
// manifest per cluster to examples/multicloud/dist/ (eks-us.k8s.yaml, gke-eu.k8s.yaml,
// onprem.k8s.yaml) and the Argo CD ApplicationSet that rolls them out wave by wave
// (iris-applicationset.k8s.yaml). Paths are relative to this folder, where cdk8s runs.
import { App } from 'cdk8s';
import { ModelImage, MultiCloudDeployment } from 'modelfab/cdk8s';

const app = new App();

// One image for every cluster, pushed once: `npx modelfab build dist/image.image --push`.
const image = new ModelImage(app, 'image', {
  model: '../iris/model/iris.onnx',
  repository: 'ghcr.io/acme/iris',
});

const deployment = new MultiCloudDeployment(app, 'iris', {
  // What every target runs. Each target's replicas come from the capacity its own gate measures
  // (targets on the same hardware share one measurement through the gate cache).
  service: {
    image,
    namespace: 'ml',
    resources: { cpu: '1', memory: '512Mi' },
    autoscaling: { maxReplicas: 20 },
    ingress: { className: 'nginx', tls: { clusterIssuer: 'letsencrypt' } },
    gate: {
      latencyP99Ms: 20,
      accuracy: { dataset: '../iris/model/eval.jsonl', metric: 'top1', min: 0.9 },
      budgetSeconds: 8,
    },
  },
  targets: [
    { name: 'eks-us', cloud: 'aws', region: 'us-east-1', routing: { weight: 60 } },
    { name: 'gke-eu', cloud: 'gcp', region: 'europe-west4', routing: { weight: 30 }, wave: 2 },
    // On premises: larger pods (2 CPUs, measured by a gate of their own) and a smaller share.
    {
      name: 'onprem',
      cloud: 'other',
      routing: { weight: 10 },
      wave: 2,
      resources: { cpu: '2', memory: '1Gi' },
    },
  ],
  // The external-dns in each cluster writes its weighted Route53 record for iris.example.com from
  // the annotations on its Ingress; Route53 drops a target whose health check fails.
  routing: { hostname: 'iris.example.com', policy: 'weighted' },
  // 3,000 rps over all clusters, still met with any one of them lost.
  slo: { targetRps: 3000, survive: 1 },
  rollout: {
    applicationSet: {
      repoURL: 'https://github.com/acme/deploy.git',
      path: 'iris/dist',
      targetRevision: 'main',
    },
  },
});

// The plan, as the targets' gates measured it.
process.stderr.write(`${deployment.summary.planTable}\n`);

app.synth();
