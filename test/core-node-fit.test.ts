/**
 * Pods against nodes, computed by hand: the EKS reserve, the node's capacity after the VM's
 * overhead, how many pods fit, and each miss with the instance type and by how much.
 */
import { describe, expect, it } from 'vitest';
import { eksSystemReserve, fitPods, type NodeShape, nodeCapacityMemoryBytes } from '../lib/core/node-fit';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

/** g5.xlarge: 4 vCPU, 16 GiB, one A10G with 24 GiB; its ENI limit is 58 pods. */
const G5_XLARGE: NodeShape = {
  instanceType: 'g5.xlarge',
  vcpu: 4,
  memoryBytes: 16 * GIB,
  gpus: 1,
  gpuMemoryBytes: 24 * GIB,
};
/** g5.12xlarge: 48 vCPU, 192 GiB, four A10G. */
const G5_12XLARGE: NodeShape = {
  ...G5_XLARGE,
  instanceType: 'g5.12xlarge',
  vcpu: 48,
  memoryBytes: 192 * GIB,
  gpus: 4,
};

describe('eksSystemReserve', () => {
  it('keeps 6% of the first core, 1% of the second, 0.5% of the next two and 0.25% beyond; 255 MiB + 11 MiB a pod + 100 MiB eviction', () => {
    // 60 + 10 + 2 × 5 = 80m; 255 + 11 × 58 + 100 = 993 MiB.
    expect(eksSystemReserve(G5_XLARGE, 58)).toEqual({ cpuMillis: 80, memoryBytes: 993 * MIB });
    // 48 cores: 80m for the first four, then 44 × 2.5m = 110m.
    expect(eksSystemReserve(G5_12XLARGE, 234).cpuMillis).toBe(190);
    // One core: 6% of it.
    expect(eksSystemReserve({ ...G5_XLARGE, vcpu: 1 }, 8).cpuMillis).toBe(60);
  });
});

describe('fitPods', () => {
  const reserve = eksSystemReserve(G5_XLARGE, 58);
  // 16,384 MiB less ceil(7.5%) = 1,229 MiB: 15,155 MiB; less 993 MiB: 14,162 MiB (13.83 GiB), as Karpenter lists it.
  const allocatableMemory = 14_162 * MIB;

  it('sees the node memory less the VM overhead, and offers pods what the reserve leaves', () => {
    expect(nodeCapacityMemoryBytes(G5_XLARGE)).toBe(15_155 * MIB);
    const fit = fitPods(G5_XLARGE, reserve, { cpuMillis: 3000, memoryBytes: 8 * GIB, gpus: 1 }, 2 * GIB);
    expect(fit).toEqual({
      podsPerNode: 1,
      allocatable: { cpuMillis: 3920, memoryBytes: allocatableMemory },
      problems: [],
    });
  });

  it('counts the pods of the scarcest resource: CPU pods on a GPU node are held by memory', () => {
    // 3,920m / 1,000m = 3; 13.83 GiB / 4 GiB = 3; no GPUs asked.
    expect(
      fitPods(G5_XLARGE, reserve, { cpuMillis: 1000, memoryBytes: 4 * GIB, gpus: 0 }, 0).podsPerNode,
    ).toBe(3);
    // Four single-GPU pods on a 4-GPU node with room for more CPU and memory: the GPUs bound it.
    const big = fitPods(
      G5_12XLARGE,
      eksSystemReserve(G5_12XLARGE, 234),
      { cpuMillis: 4000, memoryBytes: 16 * GIB, gpus: 1 },
      GIB,
    );
    expect(big.podsPerNode).toBe(4);
  });

  it('names the instance type, what does not fit and by how much', () => {
    const fit = fitPods(G5_XLARGE, reserve, { cpuMillis: 4000, memoryBytes: 16 * GIB, gpus: 2 }, 30 * GIB);
    expect(fit.podsPerNode).toBe(0);
    expect(fit.problems).toEqual([
      "g5.xlarge offers pods 3920m CPU and 13.83 GiB after the system's reserve; a pod requests 4 CPU, 80m more than fits",
      "g5.xlarge offers pods 3920m CPU and 13.83 GiB after the system's reserve; a pod requests 16 GiB of memory, 2.17 GiB more than fits",
      'g5.xlarge has 1 GPU; a pod requests 2, 1 more than a node has',
      'the model (30 GiB) does not fit the 24 GiB of one g5.xlarge GPU: 6 GiB over',
    ]);
  });

  it('refuses GPUs per pod that do not divide the node GPUs, and GPUs on a node without any', () => {
    const uneven = fitPods(
      G5_12XLARGE,
      eksSystemReserve(G5_12XLARGE, 234),
      { cpuMillis: 1000, memoryBytes: GIB, gpus: 3 },
      GIB,
    );
    expect(uneven.problems).toEqual([
      "g5.12xlarge has 4 GPUs, which 3 GPUs a pod do not divide: 1 of every node's would stay idle",
    ]);
    const cpuNode: NodeShape = {
      instanceType: 'm6i.xlarge',
      vcpu: 4,
      memoryBytes: 16 * GIB,
      gpus: 0,
      gpuMemoryBytes: 0,
    };
    expect(fitPods(cpuNode, reserve, { cpuMillis: 1000, memoryBytes: GIB, gpus: 1 }, GIB).problems).toEqual([
      'm6i.xlarge has no GPU; a pod requests 1',
    ]);
  });
});
