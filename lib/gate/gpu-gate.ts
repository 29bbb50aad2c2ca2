/**
 * What the gate does for a service placed on a GPU pool, as pure decisions and messages: CPU
 * figures never pass a GPU service's thresholds, so its served path is measured on the pool's GPU
 * with onnxruntime's CUDA provider, here when this machine has that GPU and the provider's
 * libraries, or elsewhere with `modelfab bench --gpu` and shared through the gate cache; otherwise
 * the gate refuses, naming the GPU, what this machine has, the command to run where the GPU is, and
 * `MODELFAB_GATE=skip`.
 */
import * as path from 'node:path';
import {
  formatCpu,
  formatMemory,
  GATE_DEFAULTS,
  type GateSpec,
  gatePropsOf,
  type GpuExecutionProvider,
  type GpuName,
  PROVIDER_LABELS,
} from '../core';
import { type GpuProviderAvailability } from '../runtime';
import { type DetectedGpu } from './gpu-presence';

/**
 * The provider the gate measures a GPU service's served path with: CUDA, which is what Triton's
 * ONNX Runtime backend runs a `KIND_GPU` model on unless its config adds TensorRT.
 */
export const GATE_GPU_PROVIDER: GpuExecutionProvider = 'cuda';

/** A detected GPU that is one a pool knows. */
export type NamedGpu = DetectedGpu & { readonly name: GpuName };

/** The GPU of this machine the gate measures `gpu` on: the first one of that name (nvidia-smi order). */
export function measuringDevice(gpu: GpuName, detected: readonly DetectedGpu[]): NamedGpu | undefined {
  return detected.find((d): d is NamedGpu => d.name === gpu);
}

/** What this machine has, in words: `no NVIDIA GPU`, `only NVIDIA H200`. */
export function describeGpus(detected: readonly DetectedGpu[]): string {
  if (detected.length === 0) return 'no NVIDIA GPU (nvidia-smi found none, or is not installed)';
  return `only ${[...new Set(detected.map((d) => d.product))].join(', ')}`;
}

/** `NVIDIA A10G (driver 550.127.05)`. */
export function describeDevice(device: Pick<DetectedGpu, 'product' | 'driverVersion'>): string {
  return `${device.product} (driver ${device.driverVersion})`;
}

/** What a command line needs to measure the same gate on a machine with the GPU. */
export interface GpuBenchInputs {
  /** The model file, absolute. */
  readonly modelPath: string;
  readonly gpu: GpuName;
  readonly gate: GateSpec;
  readonly resources: { readonly cpuMillis: number; readonly memoryBytes: number };
  /** The server's environment the gate starts it with (part of the cache key). */
  readonly serverEnv: Readonly<Record<string, string>>;
  readonly targetUtilization: number;
  /** The cache directory the report must land in, absolute. */
  readonly cacheDir: string;
  /** Where the command runs from (paths are relative to it). @default process.cwd() */
  readonly cwd?: string;
}

/** A word for a POSIX shell: as it is when it needs no quoting, else single-quoted. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `path` relative to `cwd` when it is inside it, else as it is. */
function shown(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  return relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}

/**
 * The `modelfab bench … --gpu` command that measures what the synth needs, from the same directory
 * (the same checkout) on a machine with the GPU, and writes its report where the synth looks: the
 * same model, gate (as props, datasets relative), resources, server environment and utilization,
 * so its cache keys are the synth's.
 */
export function gpuBenchCommand(inputs: GpuBenchInputs): string {
  const cwd = inputs.cwd ?? process.cwd();
  const gateProps = gatePropsOf(inputs.gate, cwd);
  const words = [
    'npx',
    'modelfab',
    'bench',
    shown(inputs.modelPath, cwd),
    '--gpu',
    inputs.gpu,
    '--cpu',
    formatCpu(inputs.resources.cpuMillis),
    '--memory',
    formatMemory(inputs.resources.memoryBytes),
    ...(Object.keys(gateProps).length > 0 ? ['--gate', JSON.stringify(gateProps)] : []),
    ...Object.entries(inputs.serverEnv)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .flatMap(([name, value]) => ['--env', `${name}=${value}`]),
    ...(inputs.targetUtilization !== GATE_DEFAULTS.targetUtilization
      ? ['--target-utilization', String(inputs.targetUtilization)]
      : []),
    '--cache-dir',
    shown(inputs.cacheDir, cwd),
  ];
  return words.map(shellWord).join(' ');
}

const SKIP = 'or set MODELFAB_GATE=skip to skip the gate (the Deployment is annotated as skipped)';

/** What the synth knows when it refuses a GPU service's gate. */
export interface GpuRefusalInputs {
  readonly gpu: GpuName;
  /** This machine's GPUs. */
  readonly detected: readonly DetectedGpu[];
  /** Whether the gate's provider can load here (asked only when the machine has the GPU). */
  readonly provider?: GpuProviderAvailability;
  /** The command to run on a machine with the GPU ({@link gpuBenchCommand}). */
  readonly command: string;
  /** The cache directory the synth looked in, absolute. */
  readonly cacheDir: string;
}

/**
 * Why a GPU service's gate cannot run on this machine, or undefined when it can (this machine has
 * the GPU and the provider loads). Every refusal names the GPU, what this machine has, the command
 * to run on a machine with the GPU and where its report must go, and MODELFAB_GATE=skip.
 */
export function gpuGateRefusal(inputs: GpuRefusalInputs): string | undefined {
  const { gpu, cacheDir, command } = inputs;
  const device = measuringDevice(gpu, inputs.detected);
  const elsewhere = `on a machine with ${gpu} GPUs and onnxruntime-node's GPU libraries, run from this directory: ${command}; then bring its cache here (commit ${path.join(shown(cacheDir, process.cwd()), 'gpu')}/, or restore it in CI into ${cacheDir}; MODELFAB_CACHE_DIR sets where the gate cache is)`;
  if (device === undefined) {
    return `gate cannot measure a service placed on ${gpu} GPUs here: CPU figures never pass a GPU service's thresholds, the gate cache ${cacheDir} holds no report measured on ${gpu} GPUs for this model, gate and resources, and this machine has ${describeGpus(inputs.detected)}; ${elsewhere}; ${SKIP}`;
  }
  if (inputs.provider === undefined || inputs.provider.available) return undefined;
  return `gate cannot measure a service placed on ${gpu} GPUs here: this machine has ${describeDevice(device)}, but ${inputs.provider.problem}; CPU figures never pass a GPU service's thresholds, so the gate does not fall back to the CPU; install the libraries and synth again, or ${elsewhere}; ${SKIP}`;
}

/**
 * Why `modelfab bench --gpu <gpu>` cannot measure here, or undefined when it can: the machine
 * lacks the GPU, or the provider's libraries.
 */
export function benchGpuRefusal(
  gpu: GpuName,
  detected: readonly DetectedGpu[],
  provider: GpuProviderAvailability | undefined,
): string | undefined {
  const device = measuringDevice(gpu, detected);
  if (device === undefined) {
    return `--gpu ${gpu}: this machine has ${describeGpus(detected)}; run this command on a machine with ${gpu} GPUs, or leave out --gpu to measure on the CPU`;
  }
  if (provider === undefined || provider.available) return undefined;
  return `--gpu ${gpu}: this machine has ${describeDevice(device)}, but ${provider.problem}; the benchmark does not fall back to the CPU`;
}

/** `NVIDIA A10G (driver 550.127.05) with onnxruntime's CUDA provider`. */
export function describeGpuMeasurement(gpu: {
  readonly product: string;
  readonly driverVersion: string;
  readonly provider: GpuExecutionProvider;
}): string {
  return `${describeDevice(gpu)} with onnxruntime's ${PROVIDER_LABELS[gpu.provider]} provider`;
}
