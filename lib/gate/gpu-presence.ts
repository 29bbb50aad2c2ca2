/**
 * Which GPUs this machine has, as the gate needs to know before it benchmarks a service placed on
 * a GPU pool (WIP, branch wip/13-gpu-pool): `nvidia-smi`'s CSV parsed into the pool's GPU names,
 * and the decision a GPU service's gate takes. CPU numbers never pass a GPU service's thresholds:
 * without the pool's GPU here, the gate takes a report measured on that GPU (a shared cache), or
 * fails saying where to measure. Pure, but for running `nvidia-smi`.
 */
import { execFileSync } from 'node:child_process';
import { type GpuName } from '../render/render-karpenter';

/** One GPU as `nvidia-smi` reports it. */
export interface DetectedGpu {
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
 * parsed. Lines that are not three fields are left out.
 */
export function parseNvidiaSmi(csv: string): DetectedGpu[] {
  return csv
    .split('\n')
    .map((line) => line.split(',').map((field) => field.trim()))
    .filter((fields) => fields.length === 3 && fields[0] !== '' && Number.isFinite(Number(fields[2])))
    .map(([product, driverVersion, memory]) => {
      const name = gpuNameOf(product);
      return { product, ...(name ? { name } : {}), driverVersion, memoryMiB: Number(memory) };
    });
}

/** This machine's GPUs: none when `nvidia-smi` is missing or fails. */
export function detectGpus(
  run = () => execFileSync('nvidia-smi', NVIDIA_SMI_ARGS, { encoding: 'utf8', timeout: 10_000 }),
): DetectedGpu[] {
  try {
    return parseNvidiaSmi(run());
  } catch {
    return [];
  }
}

/** What a GPU service's gate does here. */
export type GpuGatePlan =
  | { readonly action: 'measure'; readonly gpu: DetectedGpu }
  | { readonly action: 'use-cached' }
  | { readonly action: 'refuse'; readonly message: string };

/**
 * Measure on this machine's GPU of the pool's kind; else take a report measured on that GPU (the
 * cache, restored in CI or committed from a GPU runner); else refuse, naming the GPU, the command
 * to run where it is, and how to skip.
 *
 * @param benchCommand the command that measures the service on a machine with the GPU
 */
export function planGpuGate(
  gpu: GpuName,
  detected: readonly DetectedGpu[],
  cachedReportOnThatGpu: boolean,
  benchCommand: string,
): GpuGatePlan {
  const here = detected.find((d) => d.name === gpu);
  if (here) return { action: 'measure', gpu: here };
  if (cachedReportOnThatGpu) return { action: 'use-cached' };
  const found =
    detected.length === 0
      ? 'no NVIDIA GPU here'
      : `only ${[...new Set(detected.map((d) => d.product))].join(', ')} here`;
  return {
    action: 'refuse',
    message: `the service is placed on ${gpu} GPUs and its gate must measure on one (CPU figures never pass a GPU service's thresholds), but there is ${found} and no report measured on ${gpu} in the gate cache; run \`${benchCommand}\` on a machine with ${gpu} GPUs and share its cache, or set MODELFAB_GATE=skip to skip the gate`,
  };
}
