/**
 * The execution provider, chosen in one place: the provider list each choice gives onnxruntime,
 * the server setting that selects it, and what happens where a GPU provider's libraries are not
 * installed (as here: modelfab's .npmrc skips onnxruntime-node's CUDA download): the session fails
 * to create, and nothing falls back to the CPU.
 */
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  Executor,
  executionProvidersFor,
  GPU_PROVIDER_LIBRARIES,
  gpuProviderAvailability,
  gpuProviderInstallCommand,
  onnxruntimeBinDir,
  sessionOptionsFor,
} from '../lib/runtime';

const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');
/** Whether this checkout's onnxruntime-node has its CUDA provider's libraries (it has not, by default). */
const cudaInstalled = gpuProviderAvailability('cuda').available;

describe('executionProvidersFor', () => {
  it('gives the CPU alone, CUDA on device 0, and TensorRT before CUDA on device 0', () => {
    expect(executionProvidersFor('cpu')).toEqual(['cpu']);
    expect(executionProvidersFor('cuda')).toEqual([{ name: 'cuda', deviceId: 0 }]);
    expect(executionProvidersFor('tensorrt')).toEqual([
      { name: 'tensorrt', deviceId: 0 },
      { name: 'cuda', deviceId: 0 },
    ]);
    expect(() => executionProvidersFor('gpu' as never)).toThrow(
      'executionProvider must be one of cpu, cuda, tensorrt, received "gpu"',
    );
  });

  it('is what sessionOptionsFor puts in the session options, the CPU by default', () => {
    expect(sessionOptionsFor({ intraOpThreads: 2 }).executionProviders).toEqual(['cpu']);
    const cuda = sessionOptionsFor({ intraOpThreads: 2, executionProvider: 'cuda' });
    expect(cuda.executionProviders).toEqual([{ name: 'cuda', deviceId: 0 }]);
    // Everything else is the same whatever the provider: the gate measures what the pods run.
    const { executionProviders: _cpu, ...cpuRest } = sessionOptionsFor({ intraOpThreads: 2 });
    const { executionProviders: _cuda, ...cudaRest } = cuda;
    expect(cudaRest).toEqual(cpuRest);
  });
});

describe('gpuProviderAvailability', () => {
  const packageDir = '/opt/app/node_modules/onnxruntime-node';
  const bin = `${packageDir}/bin/napi-v6/linux/x64`;

  it('finds the provider when its libraries are where onnxruntime-node loads them', () => {
    const present = new Set(GPU_PROVIDER_LIBRARIES.tensorrt.map((file) => `${bin}/${file}`));
    const exists = (file: string) => present.has(file);
    expect(gpuProviderAvailability('cuda', { packageDir, platform: 'linux/x64', exists })).toEqual({
      available: true,
    });
    expect(gpuProviderAvailability('tensorrt', { packageDir, platform: 'linux/x64', exists })).toEqual({
      available: true,
    });
  });

  it('names the missing files and the install command when they are not', () => {
    const exists = (file: string) => file.endsWith('libonnxruntime_providers_shared.so');
    const result = gpuProviderAvailability('cuda', { packageDir, platform: 'linux/x64', exists });
    expect(result.available).toBe(false);
    expect(!result.available && result.problem).toBe(
      `onnxruntime's CUDA provider cannot load: onnxruntime-node's GPU libraries are not installed (libonnxruntime_providers_cuda.so missing from ${bin}; they are a separate download that modelfab's .npmrc and ONNXRUNTIME_NODE_INSTALL=skip skip); install them on this machine with: ${gpuProviderInstallCommand(packageDir)} (it downloads Microsoft.ML.OnnxRuntime.Gpu.Linux from api.nuget.org; the provider also needs CUDA 12 and cuDNN on the machine)`,
    );
    expect(gpuProviderInstallCommand(packageDir)).toMatch(
      /^ONNXRUNTIME_NODE_INSTALL=cuda12 node .*node_modules\/onnxruntime-node\/script\/install\.js$/,
    );
  });

  it('says onnxruntime-node has no GPU provider for another platform', () => {
    const result = gpuProviderAvailability('cuda', {
      packageDir,
      platform: 'darwin/arm64',
      exists: () => true,
    });
    expect(!result.available && result.problem).toBe(
      "onnxruntime's CUDA provider is not available on darwin/arm64: onnxruntime-node ships its GPU providers for linux/x64 only",
    );
  });

  it('looks in the onnxruntime-node this process loads', () => {
    expect(onnxruntimeBinDir()).toBe(
      path.join(
        path.dirname(require.resolve('onnxruntime-node/package.json')),
        'bin',
        'napi-v6',
        `${process.platform}/${process.arch}`,
      ),
    );
  });
});

describe.skipIf(cudaInstalled)('a GPU provider without its libraries (this checkout)', () => {
  it('fails the session instead of running on the CPU', async () => {
    await expect(
      ort.InferenceSession.create(IRIS, sessionOptionsFor({ intraOpThreads: 1, executionProvider: 'cuda' })),
    ).rejects.toThrow(/Failed to load shared library/);
    await expect(
      ort.InferenceSession.create(
        IRIS,
        sessionOptionsFor({ intraOpThreads: 1, executionProvider: 'tensorrt' }),
      ),
    ).rejects.toThrow(/TensorRT: Failed to load shared library/);
    const cpu = await ort.InferenceSession.create(IRIS, sessionOptionsFor({ intraOpThreads: 1 }));
    await cpu.release();
  });

  it('fails the executor (the server and the gate start theirs this way), naming the model', async () => {
    await expect(
      Executor.create({ modelPath: IRIS, executionProvider: 'cuda', inline: 'never' }),
    ).rejects.toThrow(/iris\.onnx.*Failed to load shared library/s);
  });
});
