// The Iris classifier served by NVIDIA Triton on GPUs, on two clouds: A10G nodes that Karpenter
// launches on EKS, and L4 machines GKE auto-provisions through a ComputeClass. `npm run synth:gpu`
// (from the repo root) writes one manifest per chart to examples/gpu/dist/: aws.k8s.yaml and
// gcp.k8s.yaml, each applied to its own cluster. Paths are relative to this folder, where cdk8s runs.
import { App, Chart } from 'cdk8s';
import { AutoscaledGpuPool, InferenceService, ModelImage } from 'modelfab/cdk8s';

const app = new App();

// AWS: Karpenter's NodePools ask for 1-GPU A10G instances from the catalog (g5.xlarge to
// g5.16xlarge), spot first and on-demand when spot has none, up to 8 GPUs, and the NVIDIA device
// plugin runs on those nodes.
const aws = new Chart(app, 'aws', { namespace: 'ml' });
const a10g = new AutoscaledGpuPool(aws, 'gpu', {
  gpu: 'a10g',
  maxGpus: 8,
  capacityTypes: ['spot', 'on-demand'],
  karpenter: { clusterName: 'prod', nodeRole: 'KarpenterNodeRole-prod' },
});

// One image for both clouds: Triton runs the model on the GPU (KIND_GPU). Its build context lands
// in dist/aws-image.image/; `npx modelfab build dist/aws-image.image --push` builds and pushes it.
const image = new ModelImage(aws, 'image', {
  model: '../iris/model/iris.onnx',
  repository: 'ghcr.io/acme/iris-gpu',
  runtime: 'triton',
  triton: { kind: 'gpu', instanceCount: 1 },
});

// Placed on the pool: the pods select its nodes, tolerate the GPU taint and ask for one GPU. At
// synth, a pod's requests must fit one of the pool's instance types after the system reserve;
// service.cost prices it on the cheapest one that fits.
const onAws = new InferenceService(aws, 'iris', {
  image,
  resources: { cpu: '2', memory: '4Gi' },
  autoscaling: { minReplicas: 1, maxReplicas: 8 },
  placement: a10g.placement({ gpus: 1 }),
});

// GCP: a ComputeClass for L4 machines (G2), spot first. The catalog has no GCP prices: give the
// node price of your region and commitment (USD per hour) so the cost figures mean something.
const gcp = new Chart(app, 'gcp', { namespace: 'ml' });
const l4 = new AutoscaledGpuPool(gcp, 'gpu', {
  gpu: 'l4',
  capacityTypes: ['spot', 'on-demand'],
  pricePerHour: 0.71,
  gke: { bootDiskGiB: 200 },
});
const onGcp = new InferenceService(gcp, 'iris', {
  image,
  resources: { cpu: '2', memory: '4Gi' },
  autoscaling: { minReplicas: 1, maxReplicas: 8 },
  placement: l4.placement({ gpus: 1 }),
});

for (const service of [onAws, onGcp]) {
  const cost = service.cost!;
  process.stderr.write(
    `${service.node.path}: ${cost.replicas} × ${cost.instanceType} at $${cost.pricePerNodeHour}/h = $${cost.costPerHour.toFixed(3)}/h\n`,
  );
}

app.synth();
