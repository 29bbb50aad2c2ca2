export * from './prepare-inference-service';
export * from './push-target';
export * from './prepare-model-image';
export * from './write-build-context';
export * from './prepare-multicloud';
