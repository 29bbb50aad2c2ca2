/**
 * The GKE machine types a GPU pool can run on, with what one node offers. The accelerator-optimized
 * series carry their GPUs built in: G2 (NVIDIA L4), A2 High (A100 40 GB) and A3 High (H100 80 GB).
 * GKE Standard runs at most 110 pods a node by default. There are no prices here: a GKE pool states
 * its node price (`pricePerHour`).
 *
 * Source: Compute Engine's "Accelerator-optimized machine family"
 * (https://cloud.google.com/compute/docs/accelerator-optimized-machines), machine shapes as
 * published there, read 2026-12-05. A3 High's 1-, 2- and 4-GPU types are left out: they come as Spot
 * or flex-start capacity only. T4s attach to N1 machines ("GPU machine types",
 * https://cloud.google.com/compute/docs/gpus): the pool offers a few n1-standard shapes for each T4
 * count, well inside the vCPU and memory a node with that many T4s may have. GPU memory is counted
 * as the AWS catalog counts the same chips.
 */
import type { GpuName } from './gpu';

/** GKE's accelerator type for each GPU GKE offers a pool (the `cloud.google.com/gke-accelerator` label). */
export const GKE_ACCELERATORS: Readonly<Partial<Record<GpuName, string>>> = {
  t4: 'nvidia-tesla-t4',
  l4: 'nvidia-l4',
  a100: 'nvidia-tesla-a100',
  h100: 'nvidia-h100-80gb',
};

/** Pods a GKE Standard node runs at most, by default. */
export const GKE_MAX_PODS = 110;

/** One GKE machine type. */
export interface GkeMachineType {
  readonly vcpu: number;
  readonly memoryMiB: number;
  readonly gpus: number;
  readonly gpuName: GpuName;
  /** Memory of one GPU, MiB. */
  readonly gpuMemoryMiB: number;
}

const machine = (
  vcpu: number,
  memoryGiB: number,
  gpus: number,
  gpuName: GpuName,
  gpuMemoryMiB: number,
): GkeMachineType => ({ vcpu, memoryMiB: memoryGiB * 1024, gpus, gpuName, gpuMemoryMiB });

const T4 = 16_384;
const L4 = 22_888;
const A100_40GB = 40_960;
const H100 = 81_920;

/** The catalog, by machine type name. */
export const GKE_MACHINE_TYPES: Readonly<Record<string, GkeMachineType>> = {
  'g2-standard-4': machine(4, 16, 1, 'l4', L4),
  'g2-standard-8': machine(8, 32, 1, 'l4', L4),
  'g2-standard-12': machine(12, 48, 1, 'l4', L4),
  'g2-standard-16': machine(16, 64, 1, 'l4', L4),
  'g2-standard-24': machine(24, 96, 2, 'l4', L4),
  'g2-standard-32': machine(32, 128, 1, 'l4', L4),
  'g2-standard-48': machine(48, 192, 4, 'l4', L4),
  'g2-standard-96': machine(96, 384, 8, 'l4', L4),
  'a2-highgpu-1g': machine(12, 85, 1, 'a100', A100_40GB),
  'a2-highgpu-2g': machine(24, 170, 2, 'a100', A100_40GB),
  'a2-highgpu-4g': machine(48, 340, 4, 'a100', A100_40GB),
  'a2-highgpu-8g': machine(96, 680, 8, 'a100', A100_40GB),
  'a3-highgpu-8g': machine(208, 1872, 8, 'h100', H100),
};

/** N1 shapes (vCPU, memory GiB) a T4 attaches to. */
const N1_SHAPES: Readonly<Record<string, readonly [number, number]>> = {
  'n1-standard-4': [4, 15],
  'n1-standard-8': [8, 30],
  'n1-standard-16': [16, 60],
  'n1-standard-32': [32, 120],
  'n1-standard-64': [64, 240],
};

/** The N1 shapes offered with each count of T4s a node may carry (1, 2 or 4), smallest first. */
const N1_WITH_T4: Readonly<Record<number, readonly string[]>> = {
  1: ['n1-standard-4', 'n1-standard-8', 'n1-standard-16'],
  2: ['n1-standard-8', 'n1-standard-16', 'n1-standard-32'],
  4: ['n1-standard-16', 'n1-standard-32', 'n1-standard-64'],
};

/**
 * The machine types a GKE pool with `gpusPerNode` GPUs a node can run on: the accelerator-optimized
 * ones, whose GPUs are built in, and the N1 shapes with that many T4s attached.
 */
export function gkeMachineTypes(gpusPerNode: number): Readonly<Record<string, GkeMachineType>> {
  const n1 = (N1_WITH_T4[gpusPerNode] ?? []).map((name) => {
    const [vcpu, memoryGiB] = N1_SHAPES[name];
    return [name, machine(vcpu, memoryGiB, gpusPerNode, 't4', T4)] as const;
  });
  return { ...GKE_MACHINE_TYPES, ...Object.fromEntries(n1) };
}

/** The GPUs a node may carry of `gpu` on GKE, ascending. */
export function gkeGpuCounts(gpu: GpuName): number[] {
  const counts = Object.values(GKE_MACHINE_TYPES)
    .filter((type) => type.gpuName === gpu)
    .map((type) => type.gpus);
  if (gpu === 't4') counts.push(...Object.keys(N1_WITH_T4).map(Number));
  return [...new Set(counts)].sort((a, b) => a - b);
}
