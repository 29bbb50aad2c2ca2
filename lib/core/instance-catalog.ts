/**
 * The instance types a pool can run on: for each, what one node offers (vCPU, memory, GPUs and
 * their memory), the most pods it runs (its ENI limit on the VPC CNI, which the EKS AMIs reserve
 * memory for) and its on-demand price in us-east-1. A pool may override the price (`pricePerHour`).
 *
 * Sources:
 * - shapes, GPU memory (as EC2 reports it, below the marketed size: an A10G or L4 is 22,888 MiB)
 *   and max pods: Karpenter's generated `website/content/en/docs/reference/instance-types.md`
 *   (aws/karpenter-provider-aws, 2026-08-21), from EC2 DescribeInstanceTypes; max pods agree with
 *   amazon-eks-ami `eni-max-pods.txt` (v20260304);
 * - prices: Karpenter's `pkg/providers/pricing/zz_generated.pricing_aws.go` at commit 6fc13b5
 *   ("generated at 2026-07-20T13:44:30Z for us-east-1", from the AWS Pricing API, Linux on-demand).
 *   P4d and P5 carry the mid-2025 reductions (32.7726 → 21.957642 and 98.32 → 55.04 USD/h).
 */
import type { GpuName } from './gpu';

/** Where and when the prices below were read. */
export const PRICE_SOURCE = {
  region: 'us-east-1',
  url: 'https://github.com/aws/karpenter-provider-aws/blob/6fc13b5236fd04fd16ff3f9dc7490d0813994099/pkg/providers/pricing/zz_generated.pricing_aws.go',
  date: '2026-07-20',
} as const;

/** One instance type. */
export interface InstanceType {
  readonly vcpu: number;
  readonly memoryMiB: number;
  readonly gpus: number;
  readonly gpuName?: GpuName;
  /** Memory of one GPU, MiB, as EC2 reports it. */
  readonly gpuMemoryMiB: number;
  readonly maxPods: number;
  /** On-demand, Linux, us-east-1 (the catalog's `PRICE_SOURCE`), USD per hour. */
  readonly pricePerHour: number;
}

const GIB = 1024;
const gpu = (
  vcpu: number,
  memoryGiB: number,
  gpus: number,
  gpuName: GpuName,
  gpuMemoryMiB: number,
  maxPods: number,
  pricePerHour: number,
): InstanceType => ({
  vcpu,
  memoryMiB: memoryGiB * GIB,
  gpus,
  gpuName,
  gpuMemoryMiB,
  maxPods,
  pricePerHour,
});
const cpu = (vcpu: number, memoryGiB: number, maxPods: number, pricePerHour: number): InstanceType => ({
  vcpu,
  memoryMiB: memoryGiB * GIB,
  gpus: 0,
  gpuMemoryMiB: 0,
  maxPods,
  pricePerHour,
});

const T4 = 16_384;
const A10G = 22_888;
const L4 = 22_888;
const L40S = 45_776;

/** The catalog, by instance type name. */
export const INSTANCE_TYPES: Readonly<Record<string, InstanceType>> = {
  'g4dn.xlarge': gpu(4, 16, 1, 't4', T4, 29, 0.526),
  'g4dn.2xlarge': gpu(8, 32, 1, 't4', T4, 29, 0.752),
  'g4dn.4xlarge': gpu(16, 64, 1, 't4', T4, 29, 1.204),
  'g4dn.8xlarge': gpu(32, 128, 1, 't4', T4, 58, 2.176),
  'g4dn.12xlarge': gpu(48, 192, 4, 't4', T4, 234, 3.912),
  'g4dn.16xlarge': gpu(64, 256, 1, 't4', T4, 58, 4.352),
  'g4dn.metal': gpu(96, 384, 8, 't4', T4, 737, 7.824),
  'g5.xlarge': gpu(4, 16, 1, 'a10g', A10G, 58, 1.006),
  'g5.2xlarge': gpu(8, 32, 1, 'a10g', A10G, 58, 1.212),
  'g5.4xlarge': gpu(16, 64, 1, 'a10g', A10G, 234, 1.624),
  'g5.8xlarge': gpu(32, 128, 1, 'a10g', A10G, 234, 2.448),
  'g5.12xlarge': gpu(48, 192, 4, 'a10g', A10G, 737, 5.672),
  'g5.16xlarge': gpu(64, 256, 1, 'a10g', A10G, 234, 4.096),
  'g5.24xlarge': gpu(96, 384, 4, 'a10g', A10G, 737, 8.144),
  'g5.48xlarge': gpu(192, 768, 8, 'a10g', A10G, 345, 16.288),
  'g6.xlarge': gpu(4, 16, 1, 'l4', L4, 58, 0.8048),
  'g6.2xlarge': gpu(8, 32, 1, 'l4', L4, 58, 0.9776),
  'g6.4xlarge': gpu(16, 64, 1, 'l4', L4, 234, 1.3232),
  'g6.8xlarge': gpu(32, 128, 1, 'l4', L4, 234, 2.0144),
  'g6.12xlarge': gpu(48, 192, 4, 'l4', L4, 234, 4.6016),
  'g6.16xlarge': gpu(64, 256, 1, 'l4', L4, 737, 3.3968),
  'g6.24xlarge': gpu(96, 384, 4, 'l4', L4, 737, 6.6752),
  'g6.48xlarge': gpu(192, 768, 8, 'l4', L4, 737, 13.3504),
  'g6e.xlarge': gpu(4, 32, 1, 'l40s', L40S, 58, 1.861),
  'g6e.2xlarge': gpu(8, 64, 1, 'l40s', L40S, 58, 2.24208),
  'g6e.4xlarge': gpu(16, 128, 1, 'l40s', L40S, 234, 3.00424),
  'g6e.8xlarge': gpu(32, 256, 1, 'l40s', L40S, 234, 4.52856),
  'g6e.12xlarge': gpu(48, 384, 4, 'l40s', L40S, 292, 10.49264),
  'g6e.16xlarge': gpu(64, 512, 1, 'l40s', L40S, 737, 7.57719),
  'g6e.24xlarge': gpu(96, 768, 4, 'l40s', L40S, 492, 15.06559),
  'g6e.48xlarge': gpu(192, 1536, 8, 'l40s', L40S, 492, 30.13118),
  'p4d.24xlarge': gpu(96, 1152, 8, 'a100', 40_960, 737, 21.957642),
  'p5.48xlarge': gpu(192, 2048, 8, 'h100', 81_920, 100, 55.04),
  'm6i.large': cpu(2, 8, 29, 0.096),
  'm6i.xlarge': cpu(4, 16, 58, 0.192),
  'm6i.2xlarge': cpu(8, 32, 58, 0.384),
  'm6i.4xlarge': cpu(16, 64, 234, 0.768),
  'c6i.large': cpu(2, 4, 29, 0.085),
  'c6i.xlarge': cpu(4, 8, 58, 0.17),
  'c6i.2xlarge': cpu(8, 16, 58, 0.34),
  'c6i.4xlarge': cpu(16, 32, 234, 0.68),
  'm7i.xlarge': cpu(4, 16, 58, 0.2016),
  'c7i.xlarge': cpu(4, 8, 58, 0.1785),
};
