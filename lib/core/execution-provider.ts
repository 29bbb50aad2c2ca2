/**
 * onnxruntime's execution providers a modelfab session can run on: the CPU (what the image's
 * server runs), and NVIDIA GPUs through CUDA or TensorRT (what the gate measures a service placed
 * on a GPU pool with). In lib/core because the server's settings (the table) and the gate both
 * name them; the session options for each are decided in lib/runtime `sessionOptionsFor`.
 */

/** An execution provider, by onnxruntime-node's name for it: `cpu`, `cuda` or `tensorrt`. */
export type ExecutionProvider = 'cpu' | 'cuda' | 'tensorrt';

/** Every {@link ExecutionProvider}, in the order messages list them. */
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ['cpu', 'cuda', 'tensorrt'];

/** The providers that run on a GPU. */
export type GpuExecutionProvider = Exclude<ExecutionProvider, 'cpu'>;

/** How messages and reports name a provider: `onnxruntime's CUDA provider`. */
export const PROVIDER_LABELS: Readonly<Record<ExecutionProvider, string>> = {
  cpu: 'CPU',
  cuda: 'CUDA',
  tensorrt: 'TensorRT',
};
