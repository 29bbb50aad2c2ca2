/**
 * AutoscaledGpuPool's props, the same in both engines: the GPU nodes (launched by Karpenter on AWS,
 * an EKS managed node group with the cluster autoscaler, or GKE's node auto-provisioning through a
 * ComputeClass), the NVIDIA device plugin on them where the nodes do not ship one, and what a node
 * costs. Its shape is described once, beside it.
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
  /** The volume model images are pulled to, GiB (the root volume; Bottlerocket's data volume): images are large. @default 200 */
  readonly rootVolumeGiB?: number;
}

/** GPU node AMI types of EKS managed node groups. */
export const EKS_GPU_AMI_TYPES = ['AL2023_x86_64_NVIDIA', 'BOTTLEROCKET_x86_64_NVIDIA'] as const;

/**
 * An EKS managed node group the cluster autoscaler scales (Pulumi only: the node group is an AWS
 * resource, not a Kubernetes object).
 */
export interface EksNodeGroupProps {
  /** The EKS cluster the node group joins. */
  readonly clusterName: string;
  /** The subnets nodes launch in (their zones are the pool's zones). */
  readonly subnetIds: string[];
  /**
   * The node image: Amazon Linux 2023 with NVIDIA's driver (the device plugin is deployed), or
   * Bottlerocket with NVIDIA's driver, which ships the device plugin itself.
   * @default 'AL2023_x86_64_NVIDIA'
   */
  readonly amiType?: (typeof EKS_GPU_AMI_TYPES)[number];
  /** Nodes kept when no GPU pod waits: 0 scales to zero. @default 0 */
  readonly minNodes?: number;
  /** The volume model images are pulled to on each node, GiB (encrypted gp3, on its launch template): images are large. @default 200 */
  readonly diskSizeGiB?: number;
}

/**
 * GPU nodes on GKE: a ComputeClass that node auto-provisioning creates node pools for. GKE installs
 * the NVIDIA driver and device plugin itself.
 */
export interface GkeComputeClassProps {
  /** Each node's boot disk, GiB: model images are large. @default 200 */
  readonly bootDiskGiB?: number;
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
  /**
   * The GPU every node carries (Karpenter's `karpenter.k8s.aws/instance-gpu-name`). GKE offers `l4`,
   * `a100` (40 GB) and `h100`.
   */
  readonly gpu: GpuName;
  /** GPUs per node. @default 1 */
  readonly gpusPerNode?: number;
  /**
   * Instance (GKE: machine) types to choose among.
   * @default - every catalog type of the pool's cloud with `gpu` and `gpusPerNode`
   */
  readonly instanceTypes?: string[];
  /**
   * The capacity types nodes are bought as. Both (`['spot', 'on-demand']`) make two NodePools: spot
   * at weight 100, tried first, and on-demand at weight 10 when spot has none; each holds up to
   * `maxGpus`. On GKE, spot machines first and on-demand ones when spot has none. An EKS node group
   * takes one.
   * @default ['on-demand']
   */
  readonly capacityTypes?: Array<'spot' | 'on-demand'>;
  /** Zones nodes launch in (Karpenter only). @default - any zone of the discovered subnets */
  readonly zones?: string[];
  /** Labels on every node (not on GKE). @default - none beyond the pool's own `modelfab.dev/pool` */
  readonly labels?: Record<string, string>;
  /**
   * The most GPUs the pool's nodes hold together: the NodePool's `nvidia.com/gpu` limit, or the node
   * group's most nodes times `gpusPerNode`. Required with `karpenter` and `eksNodeGroup`; on GKE the
   * cluster's auto-provisioning limits bound it.
   * @default - required, but on GKE
   */
  readonly maxGpus?: number;
  /** The most CPU the pool's nodes hold together, a quantity (`'256'`; Karpenter only). @default - only maxGpus limits it */
  readonly maxCpu?: string;
  /** The most memory the pool's nodes hold together, a quantity (`'2Ti'`; Karpenter only). @default - only maxGpus limits it */
  readonly maxMemory?: string;
  /** When nodes are taken away (Karpenter only). @default - empty nodes, after 10 minutes, 10% at a time */
  readonly disruption?: GpuPoolDisruptionProps;
  /** A node's longest life, after which it is replaced (a duration, or `'Never'`; Karpenter only). @default '720h' */
  readonly expireAfter?: string;
  /**
   * Pods that share one GPU by time-slicing, through the device plugin's config (not on GKE or
   * Bottlerocket, whose plugin modelfab does not configure).
   * @default - no sharing: each pod has its GPUs
   */
  readonly sharing?: { readonly timeSlicing: number };
  /**
   * The NVIDIA device plugin's image, a tag or a digest (where modelfab deploys the plugin: not on
   * GKE or Bottlerocket).
   * @default 'nvcr.io/nvidia/k8s-device-plugin:v0.17.4'
   */
  readonly devicePluginImage?: string;
  /**
   * A node's price, USD per hour, for every instance type. Required on GKE: the catalog has no GCP
   * prices.
   * @default - the catalog's us-east-1 on-demand price of each type
   */
  readonly pricePerHour?: number;
  /** Nodes from Karpenter on AWS: its node class. Exactly one of karpenter, eksNodeGroup and gke. @default - not Karpenter */
  readonly karpenter?: KarpenterNodeClassProps;
  /** Nodes from an EKS managed node group (Pulumi only). @default - not a node group */
  readonly eksNodeGroup?: EksNodeGroupProps;
  /** Nodes from GKE's auto-provisioning, through a ComputeClass. @default - not GKE */
  readonly gke?: GkeComputeClassProps;
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
    eksNodeGroup: objectProp<EksNodeGroupProps>(
      {
        clusterName: stringProp('prod'),
        subnetIds: listProp(stringProp('subnet-0abc')),
        amiType: stringProp('AL2023_x86_64_NVIDIA'),
        minNodes: numberProp('0'),
        diskSizeGiB: numberProp('200'),
      },
      ['clusterName', 'subnetIds'],
    ),
    gke: objectProp<GkeComputeClassProps>({ bootDiskGiB: numberProp('200') }, []),
  },
  ['gpu'],
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
  eksAmiType: 'AL2023_x86_64_NVIDIA',
  minNodes: 0,
  diskSizeGiB: 200,
} as const;
