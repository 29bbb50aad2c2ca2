/**
 * The GKE ComputeClass for a GPU pool, validated against `@kubernetes-models/gke`'s schema.
 */
import { describe, expect, it } from 'vitest';
import { renderGkeComputeClass } from '../lib/render/render-gke-compute-class';

async function validate(object: object): Promise<void> {
  const { ComputeClass } = await import('@kubernetes-models/gke/cloud.google.com/v1/ComputeClass');
  new ComputeClass(object as never).validate();
}

describe('renderGkeComputeClass', () => {
  it('tries spot machines with the GPUs first, then on-demand ones, and scales up nothing else', async () => {
    const computeClass = renderGkeComputeClass({
      name: 'gpu-l4',
      gpu: 'l4',
      gpusPerNode: 1,
      spotFirst: true,
      bootDiskGb: 200,
    });
    await validate(computeClass);
    expect(computeClass.spec).toEqual({
      priorities: [
        {
          machineFamily: 'g2',
          gpu: { type: 'nvidia-l4', count: 1 },
          spot: true,
          storage: { bootDiskType: 'pd-balanced', bootDiskSize: 200 },
        },
        {
          machineFamily: 'g2',
          gpu: { type: 'nvidia-l4', count: 1 },
          spot: false,
          storage: { bootDiskType: 'pd-balanced', bootDiskSize: 200 },
        },
      ],
      nodePoolAutoCreation: { enabled: true },
      whenUnsatisfiable: 'DoNotScaleUp',
    });
  });

  it('asks on-demand machines only when told, and maps each GPU to its GKE type', async () => {
    const a100 = renderGkeComputeClass({
      name: 'gpu-a100',
      gpu: 'a100',
      gpusPerNode: 2,
      spotFirst: false,
      bootDiskGb: 300,
    });
    await validate(a100);
    expect(a100.spec.priorities).toEqual([
      {
        machineFamily: 'a2',
        gpu: { type: 'nvidia-tesla-a100', count: 2 },
        spot: false,
        storage: { bootDiskType: 'pd-balanced', bootDiskSize: 300 },
      },
    ]);
  });

  it('refuses a GPU GKE does not offer, naming the ones it does', () => {
    expect(() =>
      renderGkeComputeClass({ name: 'x', gpu: 'a10g', gpusPerNode: 1, spotFirst: true, bootDiskGb: 100 }),
    ).toThrow('GKE offers no a10g GPU; it offers t4, l4, a100, h100');
  });
});
