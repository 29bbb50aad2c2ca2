/**
 * Whether onnxruntime-node here can load a GPU execution provider. Its npm package bundles the CPU
 * provider only; the CUDA and TensorRT providers are shared libraries its install script downloads
 * (from NuGet) beside the addon when asked with `ONNXRUNTIME_NODE_INSTALL=cuda12`, and modelfab's
 * `.npmrc` skips that download. Without them a session asking for CUDA fails to create
 * (`Failed to load shared library`). The files are looked for, not loaded: loading them needs the
 * CUDA runtime too, which only a session's creation on the GPU machine shows.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type GpuExecutionProvider, PROVIDER_LABELS } from '../core/execution-provider';

/** The platform onnxruntime-node downloads GPU providers for (its install-metadata.js `requirements`). */
export const GPU_PROVIDER_PLATFORM = 'linux/x64';

/** The libraries each GPU provider needs in onnxruntime-node's `bin/napi-v6/linux/x64/`. */
export const GPU_PROVIDER_LIBRARIES: Readonly<Record<GpuExecutionProvider, readonly string[]>> = {
  cuda: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  tensorrt: [
    'libonnxruntime_providers_shared.so',
    'libonnxruntime_providers_tensorrt.so',
    'libonnxruntime_providers_cuda.so',
  ],
};

/** The command that downloads the GPU providers into the onnxruntime-node that `packageDir` holds. */
export function gpuProviderInstallCommand(packageDir: string = onnxruntimeNodeDir()): string {
  const script = path.relative(process.cwd(), path.join(packageDir, 'script', 'install.js')) || '.';
  return `ONNXRUNTIME_NODE_INSTALL=cuda12 node ${script}`;
}

/** The onnxruntime-node package directory this process loads. */
export function onnxruntimeNodeDir(): string {
  return path.dirname(require.resolve('onnxruntime-node/package.json'));
}

/** Where onnxruntime-node keeps its addon and the provider libraries for this platform. */
export function onnxruntimeBinDir(
  packageDir: string = onnxruntimeNodeDir(),
  platform: string = `${process.platform}/${process.arch}`,
): string {
  return path.join(packageDir, 'bin', 'napi-v6', platform);
}

/** What keeps a GPU provider from loading here: nothing (it may load), or why not. */
export type GpuProviderAvailability =
  { readonly available: true } | { readonly available: false; readonly problem: string };

/**
 * Whether `provider`'s libraries are where onnxruntime-node loads them from; the problem names the
 * missing files and the command that installs them.
 * @param exists how a file is looked for (tests pass their own)
 */
export function gpuProviderAvailability(
  provider: GpuExecutionProvider,
  options: {
    readonly packageDir?: string;
    readonly platform?: string;
    readonly exists?: (file: string) => boolean;
  } = {},
): GpuProviderAvailability {
  const packageDir = options.packageDir ?? onnxruntimeNodeDir();
  const platform = options.platform ?? `${process.platform}/${process.arch}`;
  const label = `onnxruntime's ${PROVIDER_LABELS[provider]} provider`;
  if (platform !== GPU_PROVIDER_PLATFORM) {
    return {
      available: false,
      problem: `${label} is not available on ${platform}: onnxruntime-node ships its GPU providers for ${GPU_PROVIDER_PLATFORM} only`,
    };
  }
  const exists = options.exists ?? ((file: string) => fs.existsSync(file));
  const dir = onnxruntimeBinDir(packageDir, platform);
  const missing = GPU_PROVIDER_LIBRARIES[provider].filter((file) => !exists(path.join(dir, file)));
  if (missing.length === 0) return { available: true };
  return {
    available: false,
    problem: `${label} cannot load: onnxruntime-node's GPU libraries are not installed (${missing.join(', ')} missing from ${dir}; they are a separate download that modelfab's .npmrc and ONNXRUNTIME_NODE_INSTALL=skip skip); install them on this machine with: ${gpuProviderInstallCommand(packageDir)} (it downloads Microsoft.ML.OnnxRuntime.Gpu.Linux from api.nuget.org; the provider also needs CUDA 12 and cuDNN on the machine)`,
  };
}
