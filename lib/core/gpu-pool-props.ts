/**
 * AutoscaledGpuPool's props, the same in both engines: the GPU nodes Karpenter launches on AWS, the
 * NVIDIA device plugin on them, and what a node costs. Its shape is described once, beside it.
 */
import { booleanProp, listProp, mapProp, numberProp, objectProp, stringProp } from './props-shape';
import { DEVICE_PLUGIN_IMAGE, type GpuName } from './gpu';

/** Karpenter's node class: the AMI, the node role, where nodes launch. */
export interface KarpenterNodeClassProps {
  /** The cluster, whose `karpenter.sh/discovery` tag finds the subnets and security groups. */
  readonly clusterName: string;
  /** The IAM role the nodes run as (its name, not its ARN). */
  readonly nodeRole: string;
  /**
   * The AMI as `family@version` (`al2023@v20241121`). `@latest` moves every node to each new AMI
   * release as it comes out: allowed only with `allowLatestAmi`.
   * @default 'al2023@v20241121'
   */
  readonly amiAlias?: string;
  /** Accept an `@latest` AMI alias, with a warning. @default false */
  readonly allowLatestAmi?: boolean;
  /** The root volume, GiB: model images are large. @default 200 */
  readonly rootVolumeGiB?: number;
}

/** When Karpenter takes nodes away. */
export interface GpuPoolDisruptionProps {
  /**
   * `WhenEmpty`: only nodes with no pods left go; `WhenEmptyOrUnderutilized` also moves pods to pack
   * nodes tighter, restarting serving pods to save money.
   * @default 'WhenEmpty'
   */
  readonly consolidationPolicy?: 'WhenEmpty' | 'WhenEmptyOrUnderutilized';
  /**
   * How long a node waits, empty (or underutilized), before it goes: long enough that a node is not
   * taken away while the next pod's large model image is still pulling.
   * @default '10m'
   */
  readonly consolidateAfter?: string;
  /**
   * How many nodes may be disrupted at once (`'10%'` or `'1'`), optionally only in a cron window
   * (`schedule` with `duration`).
   * @default [{ nodes: '10%' }]
   */
  readonly budgets?: ReadonlyArray<{
    readonly nodes: string;
    /** @default - always */
    readonly schedule?: string;
    /** @default - always (required with schedule) */
    readonly duration?: string;
  }>;
}

/** GPU capacity that scales, and the placement services use. */
export interface AutoscaledGpuPoolProps {
  /** The GPU every node carries (Karpenter's `karpenter.k8s.aws/instance-gpu-name`). */
  readonly gpu: GpuName;
  /** GPUs per node. @default 1 */
  readonly gpusPerNode?: number;
  /** Instance types to choose among. @default - every catalog type with `gpu` and `gpusPerNode` */
  readonly instanceTypes?: string[];
  /**
   * The capacity types nodes are bought as. Both (`['spot', 'on-demand']`) make two NodePools: spot
   * at weight 100, tried first, and on-demand at weight 10 when spot has none; each holds up to
   * `maxGpus`.
   * @default ['on-demand']
   */
  readonly capacityTypes?: Array<'spot' | 'on-demand'>;
  /** @default - any zone of the discovered subnets */
  readonly zones?: string[];
  /** Labels on every node. @default - none beyond the pool's own `modelfab.dev/pool` */
  readonly labels?: Record<string, string>;
  /** The most GPUs the pool's nodes hold together (the NodePool's `nvidia.com/gpu` limit). */
  readonly maxGpus: number;
  /** The most CPU the pool's nodes hold together, a quantity (`'256'`). @default - only maxGpus limits it */
  readonly maxCpu?: string;
  /** The most memory the pool's nodes hold together, a quantity (`'2Ti'`). @default - only maxGpus limits it */
  readonly maxMemory?: string;
  /** When nodes are taken away. @default - empty nodes, after 10 minutes, 10% at a time */
  readonly disruption?: GpuPoolDisruptionProps;
  /** A node's longest life, after which it is replaced (a duration, or `'Never'`). @default '720h' */
  readonly expireAfter?: string;
  /** Pods that share one GPU by time-slicing. @default - no sharing: each pod has its GPUs */
  readonly sharing?: { readonly timeSlicing: number };
  /** The NVIDIA device plugin's image, a tag or a digest. @default 'nvcr.io/nvidia/k8s-device-plugin:v0.17.4' */
  readonly devicePluginImage?: string;
  /** A node's price, USD per hour, for every instance type. @default - the catalog's us-east-1 on-demand price of each type */
  readonly pricePerHour?: number;
  /** Karpenter's node class: the AMI, the node role, where nodes launch. */
  readonly karpenter: KarpenterNodeClassProps;
}

/** The shape of {@link AutoscaledGpuPoolProps}. */
export const AUTOSCALED_GPU_POOL_PROPS_SHAPE = objectProp<AutoscaledGpuPoolProps>(
  {
    gpu: stringProp('a10g'),
    gpusPerNode: numberProp('1'),
    instanceTypes: listProp(stringProp('g5.xlarge')),
    capacityTypes: listProp(stringProp('on-demand')),
    zones: listProp(stringProp('us-east-1a')),
    labels: mapProp(stringProp('inference'), 'team'),
    maxGpus: numberProp('8'),
    maxCpu: stringProp('256'),
    maxMemory: stringProp('2Ti'),
    disruption: objectProp<GpuPoolDisruptionProps>({
      consolidationPolicy: stringProp('WhenEmpty'),
      consolidateAfter: stringProp('10m'),
      budgets: listProp(
        objectProp(
          { nodes: stringProp('10%'), schedule: stringProp('0 9 * * 1-5'), duration: stringProp('8h') },
          ['nodes'],
        ),
      ),
    }),
    expireAfter: stringProp('720h'),
    sharing: objectProp<NonNullable<AutoscaledGpuPoolProps['sharing']>>({ timeSlicing: numberProp('4') }, [
      'timeSlicing',
    ]),
    devicePluginImage: stringProp('nvcr.io/nvidia/k8s-device-plugin:v0.17.4'),
    pricePerHour: numberProp('1.006'),
    karpenter: objectProp<KarpenterNodeClassProps>(
      {
        clusterName: stringProp('prod'),
        nodeRole: stringProp('KarpenterNodeRole-prod'),
        amiAlias: stringProp('al2023@v20241121'),
        allowLatestAmi: booleanProp('true'),
        rootVolumeGiB: numberProp('200'),
      },
      ['clusterName', 'nodeRole'],
    ),
  },
  ['gpu', 'maxGpus', 'karpenter'],
);

/** The defaults of AutoscaledGpuPoolProps, as their `@default` tags state them. */
export const AUTOSCALED_GPU_POOL_DEFAULTS = {
  gpusPerNode: 1,
  capacityTypes: ['on-demand'],
  consolidationPolicy: 'WhenEmpty',
  consolidateAfter: '10m',
  disruptionBudgets: [{ nodes: '10%' }] as NonNullable<GpuPoolDisruptionProps['budgets']>,
  expireAfter: '720h',
  amiAlias: 'al2023@v20241121',
  rootVolumeGiB: 200,
  devicePluginImage: DEVICE_PLUGIN_IMAGE,
} as const;
