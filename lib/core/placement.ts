/**
 * A GPU pool's placement, as a service takes it (WIP, branch wip/13-gpu-pool): where its pods go
 * (node selector, tolerations), how many GPUs each asks for, the instance types the pool may launch,
 * and which of them a pod fits best. Pure.
 */
import { type InstanceType } from './instance-catalog';
import { eksSystemReserve, fitPods, type NodeFit, type NodeShape, type PodRequests } from './node-fit';
import { type GpuPoolSpec } from './resolve-gpu-pool';
import { GPU_TAINT } from '../render/render-karpenter';

const MIB = 2 ** 20;

/** Where a service's pods go on a pool, and what they ask of it. */
export interface Placement {
  readonly pool: string;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: ReadonlyArray<{
    readonly key: string;
    readonly operator: 'Exists';
    readonly effect: string;
  }>;
  /** GPUs each pod asks for (`nvidia.com/gpu`). */
  readonly gpusPerPod: number;
  /** The instance types the pool may launch, with what each offers and costs. */
  readonly candidates: ReadonlyArray<{ readonly name: string; readonly type: InstanceType }>;
  /** A node's price when the pool sets one for all its types, USD per hour. */
  readonly pricePerNodeHour?: number;
}

/** The placement of `gpus` GPUs a pod on `pool`. */
export function placementFor(pool: GpuPoolSpec, gpus: number): Placement {
  return {
    pool: pool.karpenter.name,
    nodeSelector: { 'modelfab.dev/pool': pool.karpenter.name },
    tolerations: [{ key: GPU_TAINT.key, operator: 'Exists', effect: GPU_TAINT.effect }],
    gpusPerPod: gpus,
    candidates: pool.instanceTypes.map(([name, type]) => ({ name, type })),
    ...(pool.pricedByProps ? { pricePerNodeHour: pool.pricePerNodeHour } : {}),
  };
}

/** The node a pod lands on: the cheapest candidate it fits, with its fit and price. */
export interface ChosenNode {
  readonly name: string;
  readonly fit: NodeFit;
  readonly pricePerNodeHour: number;
}

/**
 * The cheapest candidate that fits a pod of `requests` and a model of `modelBytes`, as Karpenter
 * launches the cheapest type that fits its pending pods; or every candidate's problems when none does.
 */
export function chooseNode(
  placement: Placement,
  requests: Omit<PodRequests, 'gpus'>,
  modelBytes: number,
): { readonly node: ChosenNode } | { readonly problems: readonly string[] } {
  const fits = placement.candidates.map(({ name, type }) => {
    const shape: NodeShape = {
      instanceType: name,
      vcpu: type.vcpu,
      memoryBytes: type.memoryMiB * MIB,
      gpus: type.gpus,
      gpuMemoryBytes: type.gpuMemoryMiB * MIB,
    };
    const fit = fitPods(
      shape,
      eksSystemReserve(shape, type.maxPods),
      { ...requests, gpus: placement.gpusPerPod },
      modelBytes,
    );
    return { name, fit, pricePerNodeHour: placement.pricePerNodeHour ?? type.pricePerHour };
  });
  const fitting = fits
    .filter((f) => f.fit.problems.length === 0)
    .sort((a, b) => a.pricePerNodeHour - b.pricePerNodeHour);
  if (fitting.length > 0) return { node: fitting[0] };
  return { problems: fits.flatMap((f) => f.fit.problems) };
}
