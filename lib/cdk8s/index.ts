export { InferenceService, type InferenceServiceProps } from './inference-service';
export { ModelImage, type ModelImageProps } from './model-image';
