/**
 * A GKE ComputeClass (`cloud.google.com/v1`) for a GPU pool: GKE's node auto-provisioning creates
 * node pools for it, trying the pool's machine types with their GPUs in order (spot ones first
 * when asked, on-demand ones after), and scales up nothing else for the pods that select the class.
 * GKE installs and manages the NVIDIA driver and device plugin itself. Pure: a resolved spec in, a
 * plain object out.
 */
import type { IComputeClass } from '@kubernetes-models/gke/cloud.google.com/v1/ComputeClass' with {
  'resolution-mode': 'import',
};

/** A GPU pool on GKE, resolved. */
export interface GkeComputeClassSpec {
  readonly name: string;
  /** GKE's accelerator type (`nvidia-l4`). */
  readonly accelerator: string;
  readonly gpusPerNode: number;
  /** The machine types to try, in order (cheapest first). */
  readonly machineTypes: readonly string[];
  /** Spot first, then on-demand; or one of them. */
  readonly capacityTypes: ReadonlyArray<'spot' | 'on-demand'>;
  /** Each node's boot disk, GiB. */
  readonly bootDiskGiB: number;
}

/** The ComputeClass for `spec`. */
export function renderGkeComputeClass(spec: GkeComputeClassSpec): IComputeClass {
  const order = [...spec.capacityTypes].sort((a) => (a === 'spot' ? -1 : 1));
  return {
    apiVersion: 'cloud.google.com/v1',
    kind: 'ComputeClass',
    metadata: { name: spec.name },
    spec: {
      priorities: order.flatMap((capacity) =>
        spec.machineTypes.map((machineType) => ({
          machineType,
          gpu: { type: spec.accelerator, count: spec.gpusPerNode },
          spot: capacity === 'spot',
          storage: { bootDiskType: 'pd-balanced' as const, bootDiskSize: spec.bootDiskGiB },
        })),
      ),
      nodePoolAutoCreation: { enabled: true },
      // A pod that selects the class never lands on a machine without its GPUs.
      whenUnsatisfiable: 'DoNotScaleUp',
    },
  };
}
