/**
 * A pool's placement: where pods go, and the cheapest node a pod fits, by the catalog.
 */
import { describe, expect, it } from 'vitest';
import { PropsChecker } from '../lib/core';
import { chooseNode, poolPlacement } from '../lib/core/placement';
import { resolveGpuPool } from '../lib/core/resolve-gpu-pool';

const GIB = 2 ** 30;
const pool = (extra = {}) =>
  resolveGpuPool(new PropsChecker('prod/gpu'), 'gpu', {
    gpu: 'a10g',
    maxGpus: 8,
    karpenter: { clusterName: 'prod', nodeRole: 'KarpenterNodeRole-prod' },
    ...extra,
  });

describe('poolPlacement', () => {
  it('selects the pool nodes, tolerates their taint, and asks for the GPUs', () => {
    const placement = poolPlacement(new PropsChecker('prod/gpu'), pool(), { gpus: 1 });
    expect(placement).toMatchObject({
      pool: 'gpu',
      nodeSelector: { 'modelfab.dev/pool': 'gpu' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      gpusPerPod: 1,
    });
    expect(placement.nodeTypes.map((t) => t.instanceType)).toEqual([
      'g5.xlarge',
      'g5.2xlarge',
      'g5.4xlarge',
      'g5.8xlarge',
      'g5.16xlarge',
    ]);
    expect(placement.nodeTypes[0]).toEqual({
      instanceType: 'g5.xlarge',
      vcpu: 4,
      memoryMiB: 16384,
      gpus: 1,
      gpuMemoryMiB: placement.nodeTypes[0].gpuMemoryMiB,
      maxPods: 58,
      pricePerHour: 1.006,
    });
    expect(placement).toMatchObject({ gpuName: 'a10g', podsPerGpu: 1 });
  });
});

describe('chooseNode', () => {
  it('lands a pod on the cheapest type it fits, as Karpenter launches', () => {
    const placement = poolPlacement(new PropsChecker('prod/gpu'), pool(), { gpus: 1 });
    // 3 CPU and 8 GiB fit a g5.xlarge (3,920m, 14,162 MiB after its reserve), the cheapest: 1.006 USD/h.
    const small = chooseNode(placement, { cpuMillis: 3000, memoryBytes: 8 * GIB }, 2 * GIB);
    expect(small).toMatchObject({
      node: { name: 'g5.xlarge', pricePerNodeHour: 1.006, fit: { podsPerNode: 1 } },
    });
    // 6 CPU does not fit a g5.xlarge; the g5.2xlarge (7,910m) is the next cheapest: 1.212 USD/h.
    const wider = chooseNode(placement, { cpuMillis: 6000, memoryBytes: 8 * GIB }, 2 * GIB);
    expect(wider).toMatchObject({ node: { name: 'g5.2xlarge', pricePerNodeHour: 1.212 } });
  });

  it('prices by pricePerHour when the pool sets it', () => {
    const placement = poolPlacement(new PropsChecker('prod/gpu'), pool({ pricePerHour: 0.6 }), { gpus: 1 });
    expect(chooseNode(placement, { cpuMillis: 1000, memoryBytes: GIB }, GIB)).toMatchObject({
      node: { name: 'g5.xlarge', pricePerNodeHour: 0.6 },
    });
  });

  it("names every type's miss when none fits", () => {
    const placement = poolPlacement(
      new PropsChecker('prod/gpu'),
      pool({ instanceTypes: ['g5.xlarge', 'g5.2xlarge'] }),
      { gpus: 1 },
    );
    const none = chooseNode(placement, { cpuMillis: 1000, memoryBytes: GIB }, 30 * GIB);
    expect(none).toEqual({
      problems: [
        'the model (30 GiB) does not fit the 22.35 GiB of one g5.xlarge GPU: 7.65 GiB over',
        'the model (30 GiB) does not fit the 22.35 GiB of one g5.2xlarge GPU: 7.65 GiB over',
      ],
    });
  });
});
