/**
 * A GKE ComputeClass (`cloud.google.com/v1`) for a GPU pool: GKE creates the node pools itself
 * (node auto-provisioning), trying spot machines with the pool's GPUs first and on-demand ones when
 * spot is out, and scales up nothing else for the pods that ask for the class. GKE installs and
 * manages the NVIDIA driver and device plugin itself. Pure: a resolved spec in, a plain object out.
 */
import type { IComputeClass } from '@kubernetes-models/gke/cloud.google.com/v1/ComputeClass' with {
  'resolution-mode': 'import',
};
import type { GpuName } from '../core/gpu';

/** GKE's accelerator type and the machine family that carries it, for each GPU GKE offers. */
export const GKE_ACCELERATORS: Readonly<Partial<Record<GpuName, { type: string; machineFamily: string }>>> = {
  t4: { type: 'nvidia-tesla-t4', machineFamily: 'n1' },
  l4: { type: 'nvidia-l4', machineFamily: 'g2' },
  a100: { type: 'nvidia-tesla-a100', machineFamily: 'a2' },
  h100: { type: 'nvidia-h100-80gb', machineFamily: 'a3' },
};

/** A GPU pool on GKE, resolved. */
export interface GkeComputeClassSpec {
  readonly name: string;
  /** A GPU GKE offers ({@link GKE_ACCELERATORS}). */
  readonly gpu: GpuName;
  readonly gpusPerNode: number;
  /** Spot first, on-demand when spot is out; else on-demand only. */
  readonly spotFirst: boolean;
  /** Each node's boot disk, GB: large enough to pull model images. */
  readonly bootDiskGb: number;
}

/** The ComputeClass for `spec`. @throws Error when GKE offers no such GPU */
export function renderGkeComputeClass(spec: GkeComputeClassSpec): IComputeClass {
  const accelerator = GKE_ACCELERATORS[spec.gpu];
  if (!accelerator) {
    throw new Error(`GKE offers no ${spec.gpu} GPU; it offers ${Object.keys(GKE_ACCELERATORS).join(', ')}`);
  }
  const priority = (spot: boolean) => ({
    machineFamily: accelerator.machineFamily,
    gpu: { type: accelerator.type, count: spec.gpusPerNode },
    spot,
    storage: { bootDiskType: 'pd-balanced' as const, bootDiskSize: spec.bootDiskGb },
  });
  return {
    apiVersion: 'cloud.google.com/v1',
    kind: 'ComputeClass',
    metadata: { name: spec.name },
    spec: {
      priorities: spec.spotFirst ? [priority(true), priority(false)] : [priority(false)],
      nodePoolAutoCreation: { enabled: true },
      // A pod that asks for the class never lands on a machine without its GPUs.
      whenUnsatisfiable: 'DoNotScaleUp',
    },
  };
}
