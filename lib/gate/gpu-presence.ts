/**
 * Which GPUs this machine has, as the gate needs to know before it benchmarks a service placed on
 * a GPU pool: `nvidia-smi`'s CSV parsed into the pool's GPU names. Pure, but for running
 * `nvidia-smi` (which {@link detectGpus} takes as an argument, so tests give its output).
 */
import { execFileSync } from 'node:child_process';
import type { GpuName } from '../core/gpu';

/** One GPU as `nvidia-smi` reports it. */
export interface DetectedGpu {
  /** Its index in nvidia-smi's order (PCI bus order): `CUDA_VISIBLE_DEVICES` with `CUDA_DEVICE_ORDER=PCI_BUS_ID` selects it by this. */
  readonly index: number;
  /** As nvidia-smi names it (`NVIDIA A10G`). */
  readonly product: string;
  /** The pool's name for it, when it is one the pools know. */
  readonly name?: GpuName;
  readonly driverVersion: string;
  readonly memoryMiB: number;
}

/** The query the gate runs: one CSV line per GPU. */
export const NVIDIA_SMI_ARGS = [
  '--query-gpu=name,driver_version,memory.total',
  '--format=csv,noheader,nounits',
] as const;

/** nvidia-smi's product names, matched in order, to the pools' GPU names. */
const PRODUCTS: ReadonlyArray<readonly [RegExp, GpuName]> = [
  [/\bT4\b/i, 't4'],
  [/\bA10G\b/i, 'a10g'],
  [/\bL40S\b/i, 'l40s'],
  [/\bL4\b/i, 'l4'],
  [/\bA100\b/i, 'a100'],
  [/\bH100\b/i, 'h100'],
];

/** The pool's GPU name for an nvidia-smi product name, when it is one of them. */
export function gpuNameOf(product: string): GpuName | undefined {
  return PRODUCTS.find(([pattern]) => pattern.test(product))?.[1];
}

/**
 * `nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader,nounits` output,
 * parsed; nvidia-smi prints one line per GPU in index order. Lines that are not three fields are
 * left out.
 */
export function parseNvidiaSmi(csv: string): DetectedGpu[] {
  return csv
    .split('\n')
    .map((line) => line.split(',').map((field) => field.trim()))
    .filter((fields) => fields.length === 3 && fields[0] !== '' && Number.isFinite(Number(fields[2])))
    .map(([product, driverVersion, memory], index) => {
      const name = gpuNameOf(product);
      return { index, product, ...(name ? { name } : {}), driverVersion, memoryMiB: Number(memory) };
    });
}

/** This machine's GPUs: none when `nvidia-smi` is missing or fails. `run` runs nvidia-smi with {@link NVIDIA_SMI_ARGS}. */
export function detectGpus(
  run = () => execFileSync('nvidia-smi', NVIDIA_SMI_ARGS, { encoding: 'utf8', timeout: 10_000 }),
): DetectedGpu[] {
  try {
    return parseNvidiaSmi(run());
  } catch {
    return [];
  }
}
