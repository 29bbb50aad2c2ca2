/**
 * The benchmark worker's first step for a GPU service: a session of the model with the GPU provider,
 * created and released before anything is measured, so a provider that cannot load (its libraries,
 * the CUDA runtime or the driver missing) fails the gate at once, saying so, instead of a server that
 * exits while loading. Loads onnxruntime-node: imported by the worker only, never by the synth.
 */
import { InferenceSession } from 'onnxruntime-node';
import { PROVIDER_LABELS, type GpuExecutionProvider } from '../core';
import { gpuProviderInstallCommand, sessionOptionsFor } from '../runtime';
import { describeDevice } from './gpu-gate';
import { type DetectedGpu } from './gpu-presence';

/** How a session is created (onnxruntime-node's; tests pass their own). */
export type SessionFactory = (
  modelPath: string,
  options: InferenceSession.SessionOptions,
) => Promise<{ release(): Promise<void> }>;

/**
 * Creates and releases a session of `modelPath` with `provider` (the serving session options).
 * @throws Error naming the provider, the GPU, onnxruntime's message and how to install the libraries
 */
export async function probeGpuProvider(
  modelPath: string,
  intraOpThreads: number,
  provider: GpuExecutionProvider,
  device: Pick<DetectedGpu, 'product' | 'driverVersion'>,
  create: SessionFactory = (file, options) => InferenceSession.create(file, options),
): Promise<void> {
  let session: { release(): Promise<void> };
  try {
    session = await create(modelPath, sessionOptionsFor({ intraOpThreads, executionProvider: provider }));
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).trim();
    throw new Error(
      `onnxruntime's ${PROVIDER_LABELS[provider]} provider could not create a session on ${describeDevice(device)}: ${message}; CPU figures never pass a GPU service's thresholds, so nothing was measured; install onnxruntime-node's GPU libraries with: ${gpuProviderInstallCommand()} (the provider also needs CUDA 12 and cuDNN on the machine)`,
      { cause: error },
    );
  }
  await session.release();
}
