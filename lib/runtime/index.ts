// ort-tensor.ts (toOrtTensor, fromOrtTensor) is left out on purpose: it loads onnxruntime-node's
// native addon (~65 ms, ~12 MB), which processes that only validate or convert (synth) never need.
export * from './errors';
export * from './tensor';
export * from './tensor-json';
export * from './oip-datatypes';
export * from './float16';
export * from './float-range';
export * from './session-options';
export * from './gpu-provider-libraries';
export * from './validate-inputs';
export * from './random-inputs';
export * from './prng';
export * from './input-shapes';
export * from './batch-queue';
export * from './spin-budget';
export * from './available-cpus';
export * from './executor';
export { type BatchingOptions, type ExecutorOptions, type InferOptions } from './executor-options';
export * from './inline-choice';
export { resolveWorkerScript, type WorkerScript } from './worker-script';
