export { InferenceService, type InferenceServiceProps } from './inference-service';
export { ModelImage, type ModelImageProps } from './model-image';
export { AutoscaledGpuPool, type AutoscaledGpuPoolProps } from './autoscaled-gpu-pool';
export { MultiCloudDeployment, type MultiCloudDeploymentProps } from './multi-cloud-deployment';
