/** The GPU pool and the GPU service the pool tests of both engines place on it. */
import * as path from 'node:path';
import {
  type AutoscaledGpuPoolProps,
  type InferenceServiceProps,
  type ModelImageSource,
} from '../../lib/core';

const IRIS = path.resolve(__dirname, '../../examples/iris/model/iris.onnx');

/** An a10g pool of up to 8 GPUs on Karpenter, every other prop its default. */
export const GPU_POOL: AutoscaledGpuPoolProps = {
  gpu: 'a10g',
  maxGpus: 8,
  karpenter: { clusterName: 'prod', nodeRole: 'KarpenterNodeRole-prod' },
};

/** A Triton image that runs its model (Iris) on the GPU (KIND_GPU), as a ModelImage hands it over. */
export const GPU_IMAGE: ModelImageSource = {
  imageRef: 'ghcr.io/acme/detector:0123456789abcdef',
  modelPath: IRIS,
  runtime: 'triton',
  modelName: 'detector',
  modelVersion: '1',
  tritonKind: 'gpu',
};

/** A service of that image, 2 CPU and 4 GiB a pod; its placement is the test's. */
export const GPU_SERVICE: Omit<InferenceServiceProps, 'placement'> = {
  image: GPU_IMAGE,
  resources: { cpu: '2', memory: '4Gi' },
};

/** An l4 pool on GKE, spot first: the ComputeClass flavour, priced by hand (the catalog has no GCP prices). */
export const GKE_POOL: AutoscaledGpuPoolProps = {
  gpu: 'l4',
  capacityTypes: ['spot', 'on-demand'],
  pricePerHour: 0.71,
  gke: {},
};

/** An a10g pool of up to 8 GPUs as an EKS managed node group (Pulumi only). */
export const NODE_GROUP_POOL: AutoscaledGpuPoolProps = {
  gpu: 'a10g',
  maxGpus: 8,
  labels: { team: 'vision' },
  eksNodeGroup: { clusterName: 'prod', subnetIds: ['subnet-0a', 'subnet-0b'] },
};
