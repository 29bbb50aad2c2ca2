/**
 * A GPU pool's placement, as a service takes it: where its pods go (node selector, tolerations), how
 * many GPUs each asks for, the instance types the pool may launch, and which of them a pod fits best.
 * Pure.
 */
import { show } from './errors';
import { isDns1123Label } from './names';
import { type PropsChecker } from './props-checker';
import {
  eksSystemReserve,
  fitPods,
  gkeSystemReserve,
  type NodeFit,
  type NodeShape,
  type PodRequests,
} from './node-fit';
import type { GpuPoolSpec } from './resolve-gpu-pool';
import { GPU_NAMES, GPU_TAINT, type GpuName, POOL_LABEL } from './gpu';
import { listProp, mapProp, numberProp, objectProp, stringProp } from './props-shape';

const MIB = 2 ** 20;

/** One instance type a pool may launch, as a placement sees it. */
export interface PlacementNodeType {
  /** `g5.xlarge` */
  readonly instanceType: string;
  readonly vcpu: number;
  readonly memoryMiB: number;
  readonly gpus: number;
  /** Memory of one GPU, MiB, as EC2 reports it. */
  readonly gpuMemoryMiB: number;
  /** Pods the node's network allows (EKS max-pods). */
  readonly maxPods: number;
  /** USD per node-hour: the pool's `pricePerHour`, else the catalog's us-east-1 on-demand price. */
  readonly pricePerHour: number;
}

/**
 * Where a service's pods go on a GPU pool, and what they ask of it: the value
 * `AutoscaledGpuPool.placement()` returns and `InferenceService` takes as `placement`.
 */
export interface Placement {
  /** The pool's name (its nodes carry `modelfab.dev/pool: <pool>`). */
  readonly pool: string;
  /** The GPU the pool's nodes carry. */
  readonly gpuName: GpuName;
  /** GPUs each pod asks for (`nvidia.com/gpu` limit). */
  readonly gpusPerPod: number;
  /** Pods that share one GPU by time-slicing on this pool; 1 when GPUs are not shared. */
  readonly podsPerGpu: number;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: ReadonlyArray<{
    readonly key: string;
    readonly operator: 'Exists';
    readonly effect: 'NoSchedule' | 'NoExecute' | 'PreferNoSchedule';
  }>;
  /** The instance types the pool may launch, cheapest first. */
  readonly nodeTypes: readonly PlacementNodeType[];
  /** Whose system reserve the nodes keep from pods: EKS's or GKE's. @default 'eks' */
  readonly platform?: 'eks' | 'gke';
}

/** The shape of {@link Placement}, for the services that take one. */
export const PLACEMENT_SHAPE = objectProp<Placement>(
  {
    pool: stringProp('gpu'),
    gpuName: stringProp('a10g'),
    gpusPerPod: numberProp('1'),
    podsPerGpu: numberProp('1'),
    nodeSelector: mapProp(stringProp('gpu'), POOL_LABEL),
    tolerations: listProp(
      objectProp<Placement['tolerations'][number]>(
        {
          key: stringProp(GPU_TAINT.key),
          operator: stringProp('Exists'),
          effect: stringProp(GPU_TAINT.effect),
        },
        ['key', 'operator', 'effect'],
      ),
    ),
    nodeTypes: listProp(
      objectProp<PlacementNodeType>(
        {
          instanceType: stringProp('g5.xlarge'),
          vcpu: numberProp('4'),
          memoryMiB: numberProp('16384'),
          gpus: numberProp('1'),
          gpuMemoryMiB: numberProp('22888'),
          maxPods: numberProp('58'),
          pricePerHour: numberProp('1.006'),
        },
        ['instanceType', 'vcpu', 'memoryMiB', 'gpus', 'gpuMemoryMiB', 'maxPods', 'pricePerHour'],
      ),
    ),
    platform: stringProp('eks'),
  },
  ['pool', 'gpuName', 'gpusPerPod', 'podsPerGpu', 'nodeSelector', 'tolerations', 'nodeTypes'],
);

/** The shape of `placement()`'s options. */
const PLACEMENT_OPTIONS_SHAPE = objectProp<{ gpus?: number }>({ gpus: numberProp('1') }, []);

/**
 * `pool.placement({ gpus })`: where a pod asking for `gpus` of the pool's GPUs goes. GPUs a pod must
 * be a whole number that divides the nodes' GPUs, and 1 when the pool time-slices its GPUs (a pod
 * asking for two slices gets no more compute).
 */
export function poolPlacement(
  check: PropsChecker,
  pool: GpuPoolSpec,
  options: { readonly gpus?: number },
): Placement {
  check.knownProps(options, PLACEMENT_OPTIONS_SHAPE, 'placement()', 'arg');
  const perNode = pool.gpusPerNode;
  const gpus = check.integer(
    'placement.gpus',
    options.gpus ?? 1,
    1,
    perNode,
    `at most the ${perNode} GPU${perNode === 1 ? '' : 's'} of a node`,
  );
  if (perNode % gpus !== 0) {
    check.fail(
      'placement.gpus',
      `placement.gpus ${gpus} does not divide the ${perNode} GPUs of a node, which would leave GPUs no pod can use; use ${divisors(perNode).join(', ')}`,
    );
  }
  if (pool.timeSlicing !== undefined && gpus !== 1) {
    check.fail(
      'placement.gpus',
      `placement.gpus ${gpus} on a pool that time-slices its GPUs gives a pod no more compute than 1; use 1, or a pool without sharing`,
    );
  }
  return {
    pool: pool.name,
    gpuName: pool.gpu,
    gpusPerPod: gpus,
    podsPerGpu: pool.timeSlicing ?? 1,
    nodeSelector: { ...pool.nodeSelector },
    tolerations: pool.tolerations.map((toleration) => ({ ...toleration })),
    nodeTypes: pool.nodeTypes.map((type) => ({ ...type })),
    ...(pool.platform === 'gke' ? { platform: 'gke' as const } : {}),
  };
}

function divisors(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);
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
 * A CPU service's node type is one candidate with no GPUs a pod (`gpusPerPod: 0`).
 */
export function chooseNode(
  placement: Pick<Placement, 'nodeTypes' | 'gpusPerPod' | 'podsPerGpu' | 'platform'>,
  requests: Omit<PodRequests, 'gpus'>,
  modelBytes: number,
): { readonly node: ChosenNode } | { readonly problems: readonly string[] } {
  const fits = placement.nodeTypes.map((type) => {
    const shape: NodeShape = {
      instanceType: type.instanceType,
      vcpu: type.vcpu,
      memoryBytes: type.memoryMiB * MIB,
      // Time-sliced, a node advertises each GPU `podsPerGpu` times, and the pods sharing one GPU
      // share its memory with no isolation between them: each may count on its share only.
      gpus: type.gpus * placement.podsPerGpu,
      gpuMemoryBytes: Math.floor((type.gpuMemoryMiB * MIB) / placement.podsPerGpu),
    };
    const fit = fitPods(
      shape,
      placement.platform === 'gke' ? gkeSystemReserve(shape) : eksSystemReserve(shape, type.maxPods),
      { ...requests, gpus: placement.gpusPerPod },
      modelBytes,
    );
    return { name: type.instanceType, fit, pricePerNodeHour: type.pricePerHour };
  });
  const fitting = fits
    .filter((f) => f.fit.problems.length === 0)
    .sort((a, b) => a.pricePerNodeHour - b.pricePerNodeHour);
  if (fitting.length > 0) return { node: fitting[0] };
  return { problems: fits.flatMap((f) => f.fit.problems) };
}

/**
 * A placement as a service's prop: the value `placement()` returns, checked (it may be written by
 * hand for a pool managed elsewhere). Throws naming `placement` and what is wrong.
 */
export function resolvePlacement(check: PropsChecker, value: unknown): Placement {
  const fix = 'pass pool.placement({ gpus }) of an AutoscaledGpuPool';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    check.fail('placement', `placement must be a placement, got ${show(value)}; ${fix}`);
  }
  const p = value as Partial<Placement>;
  if (typeof p.pool !== 'string' || !isDns1123Label(p.pool)) {
    check.fail('placement.pool', `placement.pool ${show(p.pool)} is not a pool name; ${fix}`);
  }
  if (!(GPU_NAMES as readonly unknown[]).includes(p.gpuName)) {
    check.fail(
      'placement.gpuName',
      `placement.gpuName ${show(p.gpuName)} is not a GPU a pool knows (${GPU_NAMES.join(', ')}); ${fix}`,
    );
  }
  if (!Array.isArray(p.nodeTypes) || p.nodeTypes.length === 0) {
    check.fail(
      'placement.nodeTypes',
      `placement.nodeTypes ${show(p.nodeTypes)} lists no instance type; ${fix}`,
    );
  }
  const nodeTypes = p.nodeTypes as readonly PlacementNodeType[];
  nodeTypes.forEach((type, i) => {
    const numbers = ['vcpu', 'memoryMiB', 'gpus', 'gpuMemoryMiB', 'maxPods', 'pricePerHour'] as const;
    const bad = numbers.find((key) => !(typeof type?.[key] === 'number' && type[key] > 0));
    if (typeof type?.instanceType !== 'string' || bad !== undefined) {
      check.fail(
        `placement.nodeTypes[${i}]`,
        `placement.nodeTypes[${i}] ${show(type)} needs an instanceType and positive ${numbers.join(', ')}; ${fix}`,
      );
    }
  });
  const maxGpus = Math.max(...nodeTypes.map((t) => t.gpus * (p.podsPerGpu ?? 1)));
  check.integer(
    'placement.gpusPerPod',
    p.gpusPerPod,
    1,
    Math.max(1, maxGpus),
    `at most a node's ${maxGpus} GPUs; ${fix}`,
  );
  check.integer('placement.podsPerGpu', p.podsPerGpu, 1, 64, fix);
  if (p.platform !== undefined && p.platform !== 'eks' && p.platform !== 'gke') {
    check.fail('placement.platform', `placement.platform ${show(p.platform)} must be 'eks' or 'gke'; ${fix}`);
  }
  check.labels('placement.nodeSelector', p.nodeSelector);
  const effects: readonly unknown[] = ['NoSchedule', 'NoExecute', 'PreferNoSchedule'];
  if (!Array.isArray(p.tolerations)) {
    check.fail(
      'placement.tolerations',
      `placement.tolerations ${show(p.tolerations)} must be a list; ${fix}`,
    );
  }
  p.tolerations.forEach((toleration, i) => {
    const { key, operator, effect } = (toleration ?? {}) as Partial<Placement['tolerations'][number]>;
    if (typeof key !== 'string' || operator !== 'Exists' || !effects.includes(effect)) {
      check.fail(
        `placement.tolerations[${i}]`,
        `placement.tolerations[${i}] ${show(toleration)} must tolerate a taint key with operator 'Exists' and effect NoSchedule, NoExecute or PreferNoSchedule; ${fix}`,
      );
    }
  });
  return p as Placement;
}
