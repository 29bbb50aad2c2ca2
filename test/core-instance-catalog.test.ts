/**
 * The catalog against Karpenter's own published figures: for every instance type, what a node
 * offers pods after the EKS reserve and the VM's memory overhead must equal the allocatable CPU and
 * memory Karpenter's instance-types reference lists (aws/karpenter-provider-aws, 2026-08-21).
 */
import { describe, expect, it } from 'vitest';
import { INSTANCE_TYPES } from '../lib/core/instance-catalog';
import { eksSystemReserve, fitPods, type NodeShape } from '../lib/core/node-fit';

const MIB = 2 ** 20;

/** Instance type, allocatable millicores, allocatable MiB, as Karpenter's reference lists them. */
const KARPENTER_ALLOCATABLE: ReadonlyArray<readonly [string, number, number]> = [
  ['g4dn.xlarge', 3920, 14481],
  ['g4dn.2xlarge', 7910, 29636],
  ['g4dn.4xlarge', 15890, 59946],
  ['g4dn.8xlarge', 31850, 120248],
  ['g4dn.12xlarge', 47810, 178933],
  ['g4dn.16xlarge', 63770, 241490],
  ['g4dn.metal', 95690, 355262],
  ['g5.xlarge', 3920, 14162],
  ['g5.2xlarge', 7910, 29317],
  ['g5.4xlarge', 15890, 57691],
  ['g5.8xlarge', 31850, 118312],
  ['g5.12xlarge', 47810, 173400],
  ['g5.16xlarge', 63770, 239554],
  ['g5.24xlarge', 95690, 355262],
  ['g5.48xlarge', 191450, 723299],
  ['g6.xlarge', 3920, 14162],
  ['g6.2xlarge', 7910, 29317],
  ['g6.4xlarge', 15890, 57691],
  ['g6.8xlarge', 31850, 118312],
  ['g6.12xlarge', 47810, 178933],
  ['g6.16xlarge', 63770, 234021],
  ['g6.24xlarge', 95690, 355262],
  ['g6.48xlarge', 191450, 718987],
  ['g6e.xlarge', 3920, 29317],
  ['g6e.2xlarge', 7910, 59627],
  ['g6e.4xlarge', 15890, 118312],
  ['g6e.8xlarge', 31850, 239554],
  ['g6e.12xlarge', 47810, 360157],
  ['g6e.16xlarge', 63770, 476504],
  ['g6e.24xlarge', 95690, 721682],
  ['g6e.48xlarge', 191450, 1449132],
  ['p4d.24xlarge', 95690, 1082712],
  ['p5.48xlarge', 191450, 1938410],
  ['m6i.large', 1930, 6903],
  ['m6i.xlarge', 3920, 14162],
  ['m6i.2xlarge', 7910, 29317],
  ['m6i.4xlarge', 15890, 57691],
  ['c6i.large', 1930, 3114],
  ['c6i.xlarge', 3920, 6584],
  ['c6i.2xlarge', 7910, 14162],
  ['c6i.4xlarge', 15890, 27381],
  ['m7i.xlarge', 3920, 14162],
  ['c7i.xlarge', 3920, 6584],
];

describe('INSTANCE_TYPES', () => {
  it('covers the g4dn, g5, g6, g6e, p4d and p5 families and common CPU types', () => {
    for (const family of ['g4dn.', 'g5.', 'g6.', 'g6e.', 'p4d.', 'p5.', 'm6i.', 'c6i.', 'm7i.', 'c7i.']) {
      expect(Object.keys(INSTANCE_TYPES).some((name) => name.startsWith(family))).toBe(true);
    }
    expect(Object.keys(INSTANCE_TYPES).sort()).toEqual(KARPENTER_ALLOCATABLE.map(([name]) => name).sort());
  });

  it.each(KARPENTER_ALLOCATABLE)(
    '%s offers pods what Karpenter says it does: %im CPU, %i MiB',
    (name, cpuMillis, memoryMiB) => {
      const type = INSTANCE_TYPES[name];
      const node: NodeShape = {
        instanceType: name,
        vcpu: type.vcpu,
        memoryBytes: type.memoryMiB * MIB,
        gpus: type.gpus,
        gpuMemoryBytes: type.gpuMemoryMiB * MIB,
      };
      const fit = fitPods(
        node,
        eksSystemReserve(node, type.maxPods),
        { cpuMillis: 1, memoryBytes: 1, gpus: 0 },
        0,
      );
      expect(fit.allocatable).toEqual({ cpuMillis, memoryBytes: memoryMiB * MIB });
    },
  );
});
