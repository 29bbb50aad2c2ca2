export { InferenceService, type InferenceServiceArgs, type InferenceServiceProps } from './inference-service';
export { ModelImage } from './model-image';
export type { EcrArgs, ModelImageArgs, RegistryArgs } from './model-image-args';
export { AutoscaledGpuPool, type AutoscaledGpuPoolArgs } from './autoscaled-gpu-pool';
export {
  MultiCloudDeployment,
  type MultiCloudDeploymentArgs,
  type MultiCloudTargetArgs,
} from './multi-cloud-deployment';
