export * from './prepare-model-image';
export * from './write-build-context';
