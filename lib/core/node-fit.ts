/**
 * Whether a service's pods fit the nodes they are placed on, and how many fit on one node: the
 * requests against what a node offers after the system's reserve, the GPUs per pod against the
 * node's GPUs, and the model against one GPU's memory. Pure: numbers in, problems and a count out.
 * Each problem names the instance type, what does not fit and by how much.
 */

import { formatCpu } from './quantity';

const MIB = 2 ** 20;
const GIB = 2 ** 30;

/** What one node of an instance type offers, as its catalog entry describes it. */
export interface NodeShape {
  readonly instanceType: string;
  readonly vcpu: number;
  /** The instance's memory as its type is sold, bytes (the kernel sees less: see {@link nodeCapacity}). */
  readonly memoryBytes: number;
  readonly gpus: number;
  /** Memory of one GPU, bytes; 0 without GPUs. */
  readonly gpuMemoryBytes: number;
}

/** What one pod requests. */
export interface PodRequests {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  readonly gpus: number;
}

/** CPU and memory a node keeps for the kubelet, the runtime and eviction, not for pods. */
export interface SystemReserve {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
}

/**
 * The share of an instance's memory the node does not see (firmware, kernel): Karpenter's default
 * `vmMemoryOverheadPercent`, 7.5%.
 */
export const VM_MEMORY_OVERHEAD = 0.075;

/**
 * Memory a node reports as capacity, bytes: the instance's memory less {@link VM_MEMORY_OVERHEAD},
 * rounded up to whole MiB as Karpenter does (`capacity − ceil(7.5% × capacity)`, in MiB).
 */
export function nodeCapacityMemoryBytes(node: NodeShape): number {
  const mib = Math.floor(node.memoryBytes / MIB);
  return (mib - Math.ceil(mib * VM_MEMORY_OVERHEAD)) * MIB;
}

/**
 * The reserve of the EKS-optimized AMIs (and Karpenter's default kube-reserved): memory 255 MiB
 * plus 11 MiB a pod the node may run, plus the kubelet's 100 MiB hard eviction threshold; CPU 6%
 * of the first core, 1% of the second, 0.5% of the third and fourth and 0.25% of every core beyond.
 *
 * @param maxPods the most pods the node runs (its ENI limit on the VPC CNI)
 */
export function eksSystemReserve(node: NodeShape, maxPods: number): SystemReserve {
  const tiers: ReadonlyArray<readonly [cores: number, share: number]> = [
    [1, 0.06],
    [1, 0.01],
    [2, 0.005],
    [Infinity, 0.0025],
  ];
  let left = node.vcpu;
  let cpuMillis = 0;
  for (const [cores, share] of tiers) {
    const taken = Math.min(left, cores);
    cpuMillis += taken * 1000 * share;
    left -= taken;
    if (left <= 0) break;
  }
  return {
    cpuMillis: Math.ceil(cpuMillis),
    memoryBytes: (255 + 11 * maxPods + 100) * MIB,
  };
}

/**
 * The reserve of GKE Standard nodes: memory 25% of the first 4 GiB, 20% of the next 4, 10% of the
 * next 8, 6% of the next 112 and 2% of the rest, plus the kubelet's 100 MiB hard eviction threshold;
 * CPU as on EKS ({@link eksSystemReserve}, whose tiers are GKE's). From GKE's "Standard cluster
 * architecture: node allocatable resources".
 */
export function gkeSystemReserve(node: NodeShape): SystemReserve {
  const memoryTiers: ReadonlyArray<readonly [gib: number, share: number]> = [
    [4, 0.25],
    [4, 0.2],
    [8, 0.1],
    [112, 0.06],
    [Infinity, 0.02],
  ];
  let left = node.memoryBytes / GIB;
  let reservedGiB = 0;
  for (const [gib, share] of memoryTiers) {
    const taken = Math.min(left, gib);
    reservedGiB += taken * share;
    left -= taken;
    if (left <= 0) break;
  }
  return {
    cpuMillis: eksSystemReserve(node, 0).cpuMillis,
    memoryBytes: Math.ceil(reservedGiB * 1024) * MIB + 100 * MIB,
  };
}

/** How pods fit a node: how many fit on one, and each reason they do not. */
export interface NodeFit {
  /** Pods of this shape one node holds (0 when one does not fit). */
  readonly podsPerNode: number;
  /** CPU, millicores, and memory, bytes, a node offers pods after its reserve. */
  readonly allocatable: { readonly cpuMillis: number; readonly memoryBytes: number };
  /** Each way the pods do not fit, in words; empty when they do. */
  readonly problems: readonly string[];
}

/** Millicores as the props write them (`formatCpu`), rounded: a reserve's tiers can leave a fraction. */
const cpuText = (millis: number) => formatCpu(Math.max(1, Math.round(millis)));
const memoryText = (bytes: number) =>
  bytes >= GIB ? `${Number((bytes / GIB).toFixed(2))} GiB` : `${Math.round(bytes / MIB)} MiB`;

/**
 * How pods with `requests` fit `node`, after `reserve`, for a model of `modelBytes` on the GPU.
 * A pod's requests must fit what a node offers; its GPUs must divide the node's (else some of every
 * node's GPUs stay idle, paid for); and the model's weights must fit one GPU's memory (one session
 * per GPU: onnxruntime's CUDA provider does not split a model across GPUs).
 */
export function fitPods(
  node: NodeShape,
  reserve: SystemReserve,
  requests: PodRequests,
  modelBytes: number,
): NodeFit {
  const allocatable = {
    cpuMillis: Math.max(0, node.vcpu * 1000 - reserve.cpuMillis),
    memoryBytes: Math.max(0, nodeCapacityMemoryBytes(node) - reserve.memoryBytes),
  };
  const problems: string[] = [];
  const offered = `${node.instanceType} offers pods ${cpuText(allocatable.cpuMillis)} CPU and ${memoryText(allocatable.memoryBytes)} after the system's reserve`;
  if (requests.cpuMillis > allocatable.cpuMillis) {
    problems.push(
      `${offered}; a pod requests ${cpuText(requests.cpuMillis)} CPU, ${cpuText(requests.cpuMillis - allocatable.cpuMillis)} more than fits`,
    );
  }
  if (requests.memoryBytes > allocatable.memoryBytes) {
    problems.push(
      `${offered}; a pod requests ${memoryText(requests.memoryBytes)} of memory, ${memoryText(requests.memoryBytes - allocatable.memoryBytes)} more than fits`,
    );
  }
  if (requests.gpus > 0) {
    if (node.gpus === 0) {
      problems.push(`${node.instanceType} has no GPU; a pod requests ${requests.gpus}`);
    } else if (requests.gpus > node.gpus) {
      problems.push(
        `${node.instanceType} has ${node.gpus} GPU${node.gpus === 1 ? '' : 's'}; a pod requests ${requests.gpus}, ${requests.gpus - node.gpus} more than a node has`,
      );
    } else if (node.gpus % requests.gpus !== 0) {
      problems.push(
        `${node.instanceType} has ${node.gpus} GPUs, which ${requests.gpus} GPUs a pod do not divide: ${node.gpus % requests.gpus} of every node's would stay idle`,
      );
    }
    if (node.gpus > 0 && modelBytes > node.gpuMemoryBytes) {
      problems.push(
        `the model (${memoryText(modelBytes)}) does not fit the ${memoryText(node.gpuMemoryBytes)} of one ${node.instanceType} GPU: ${memoryText(modelBytes - node.gpuMemoryBytes)} over`,
      );
    }
  }
  const fits = (offer: number, ask: number) => (ask > 0 ? Math.floor(offer / ask) : Infinity);
  const podsPerNode =
    problems.length > 0
      ? 0
      : Math.min(
          fits(allocatable.cpuMillis, requests.cpuMillis),
          fits(allocatable.memoryBytes, requests.memoryBytes),
          requests.gpus > 0 ? fits(node.gpus, requests.gpus) : Infinity,
        );
  return { podsPerNode: Number.isFinite(podsPerNode) ? podsPerNode : 0, allocatable, problems };
}
