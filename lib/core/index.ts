export * from './errors';
export * from './quantity';
export * from './names';
export * from './image-reference';
export * from './inference-service-props';
export * from './inference-service-spec';
export * from './resolve-inference-service';
