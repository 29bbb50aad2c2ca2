export * from './kube-object';
export * from './labels';
export * from './policy';
export * from './render-deployment';
export * from './render-service';
export * from './render-availability';
export * from './render-network';
export * from './render-inference-service';
