export * from './inference-service';
export * from './model-image';
export * from './model-image-args';
export * from './kubernetes-resource';
export * from './load-aws';
