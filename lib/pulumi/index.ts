export * from './inference-service';
export * from './model-image';
export * from './model-image-args';
