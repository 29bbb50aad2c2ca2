/**
 * AutoscaledGpuPool's props (WIP, branch wip/13-gpu-pool): the Karpenter flavour only so far. One
 * props type for both engines; its shape is described once, beside it.
 */
import { listProp, mapProp, numberProp, objectProp, stringProp } from './props-shape';
import { type GpuName } from '../render/render-karpenter';

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

/** GPU capacity that scales, and the placement services use. */
export interface AutoscaledGpuPoolProps {
  /** The GPU every node carries. */
  readonly gpu: GpuName;
  /** GPUs per node. @default 1 */
  readonly gpusPerNode?: number;
  /** Instance types to choose among. @default every catalog type with `gpu` and `gpusPerNode` */
  readonly instanceTypes?: string[];
  /** @default ['on-demand'] */
  readonly capacityTypes?: Array<'spot' | 'on-demand'>;
  /** @default 'amd64' */
  readonly architecture?: 'amd64' | 'arm64';
  /** @default - any zone of the discovered subnets */
  readonly zones?: string[];
  /** Labels on every node. @default - none beyond the pool's own */
  readonly labels?: Record<string, string>;
  /** The most GPUs the pool's nodes hold together. */
  readonly maxGpus: number;
  /** How long an empty node waits before it goes: long enough for a large image to finish pulling. @default '10m' */
  readonly consolidateAfter?: string;
  /** A node's longest life. @default '720h' */
  readonly expireAfter?: string;
  /** Pods that share one GPU by time-slicing. @default - no sharing: each pod has its GPUs */
  readonly sharing?: { readonly timeSlicing: number };
  /** The NVIDIA device plugin's image, a tag or a digest. @default 'nvcr.io/nvidia/k8s-device-plugin:v0.17.4' */
  readonly devicePluginImage?: string;
  /** A node's price, USD per hour. @default - the catalog's us-east-1 on-demand price */
  readonly pricePerHour?: number;
  readonly karpenter: KarpenterNodeClassProps;
}

/** The shape of {@link AutoscaledGpuPoolProps}. */
export const AUTOSCALED_GPU_POOL_PROPS_SHAPE = objectProp<AutoscaledGpuPoolProps>(
  {
    gpu: stringProp('a10g'),
    gpusPerNode: numberProp('1'),
    instanceTypes: listProp(stringProp('g5.xlarge')),
    capacityTypes: listProp(stringProp('on-demand')),
    architecture: stringProp('amd64'),
    zones: listProp(stringProp('us-east-1a')),
    labels: mapProp(stringProp('inference'), 'team'),
    maxGpus: numberProp('8'),
    consolidateAfter: stringProp('10m'),
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
        allowLatestAmi: { kind: 'boolean', example: 'true' },
        rootVolumeGiB: numberProp('200'),
      },
      ['clusterName', 'nodeRole'],
    ),
  },
  ['gpu', 'maxGpus', 'karpenter'],
);
