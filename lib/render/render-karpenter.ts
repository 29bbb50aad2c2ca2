/**
 * Karpenter's objects for a GPU pool on AWS: a NodePool (`karpenter.sh/v1`) that asks for nodes
 * with the pool's GPUs and taints them for GPU pods only, and its EC2NodeClass
 * (`karpenter.k8s.aws/v1`): a pinned AMI, the node role, subnets and security groups found by tag,
 * an encrypted gp3 root volume sized for model images, IMDSv2 required. Pure: a resolved pool spec
 * in, plain objects out.
 */
import type { IEC2NodeClass } from '@kubernetes-models/karpenter/karpenter.k8s.aws/v1/EC2NodeClass' with {
  'resolution-mode': 'import',
};
import { GPU_TAINT, type GpuName } from '../core/gpu';
import type { INodePool } from '@kubernetes-models/karpenter/karpenter.sh/v1/NodePool' with {
  'resolution-mode': 'import',
};

/** A GPU pool on Karpenter, resolved: every default applied, every value checked. */
export interface KarpenterPoolSpec {
  /** The NodePool's name. */
  readonly name: string;
  /** The EC2NodeClass's name (two NodePools of one pool share it). */
  readonly nodeClassName: string;
  readonly gpuNames: readonly GpuName[];
  readonly gpusPerNode: number;
  /** Instance types Karpenter may launch (the pool lists its catalog types); any with those GPUs when empty. */
  readonly instanceTypes: readonly string[];
  readonly capacityTypes: ReadonlyArray<'spot' | 'on-demand'>;
  /** Zones to launch in; any of the subnets' when empty. */
  readonly zones: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  /** The most GPUs the pool's nodes hold together; CPU and memory limits where given. */
  readonly limits: { readonly gpus: number; readonly cpu?: string; readonly memory?: string };
  readonly disruption: {
    readonly consolidationPolicy: 'WhenEmpty' | 'WhenEmptyOrUnderutilized';
    readonly consolidateAfter: string;
    readonly budgets: ReadonlyArray<{
      readonly nodes: string;
      readonly schedule?: string;
      readonly duration?: string;
    }>;
  };
  readonly expireAfter: string;
  /** The pool's weight among NodePools (a spot pool above its on-demand fallback). */
  readonly weight?: number;
  readonly nodeClass: {
    /** `family@version`, e.g. `al2023@v20241121`. */
    readonly amiAlias: string;
    readonly role: string;
    /** The tags subnets and security groups are selected by. */
    readonly discoveryTags: Readonly<Record<string, string>>;
    readonly rootVolumeGiB: number;
  };
}

/** The NodePool for `spec`. */
export function renderKarpenterNodePool(spec: KarpenterPoolSpec): INodePool {
  const requirement = (key: string, values: readonly string[]) => ({
    key,
    operator: 'In' as const,
    values: [...values],
  });
  return {
    apiVersion: 'karpenter.sh/v1',
    kind: 'NodePool',
    metadata: { name: spec.name },
    spec: {
      template: {
        metadata: { labels: { ...spec.labels } },
        spec: {
          nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: spec.nodeClassName },
          requirements: [
            requirement('karpenter.k8s.aws/instance-gpu-name', spec.gpuNames),
            requirement('karpenter.k8s.aws/instance-gpu-count', [String(spec.gpusPerNode)]),
            requirement('karpenter.sh/capacity-type', spec.capacityTypes),
            // Every GPU type the catalog (and so a pool) offers is x86_64.
            requirement('kubernetes.io/arch', ['amd64']),
            ...(spec.instanceTypes.length > 0
              ? [requirement('node.kubernetes.io/instance-type', spec.instanceTypes)]
              : []),
            ...(spec.zones.length > 0 ? [requirement('topology.kubernetes.io/zone', spec.zones)] : []),
          ],
          taints: [{ ...GPU_TAINT }],
          expireAfter: spec.expireAfter,
        },
      },
      limits: {
        'nvidia.com/gpu': String(spec.limits.gpus),
        ...(spec.limits.cpu !== undefined ? { cpu: spec.limits.cpu } : {}),
        ...(spec.limits.memory !== undefined ? { memory: spec.limits.memory } : {}),
      },
      disruption: {
        consolidationPolicy: spec.disruption.consolidationPolicy,
        consolidateAfter: spec.disruption.consolidateAfter,
        budgets: spec.disruption.budgets.map((budget) => ({ ...budget })),
      },
      ...(spec.weight !== undefined ? { weight: spec.weight } : {}),
    },
  };
}

/** Bottlerocket's OS volume: the size Karpenter gives it by default. */
const BOTTLEROCKET_OS_VOLUME = '4Gi';

/**
 * The node's volumes, encrypted gp3, the one for images sized by `rootVolumeGiB`: on Amazon Linux
 * the root volume; on Bottlerocket the data volume `/dev/xvdb` (images, logs, ephemeral storage),
 * beside a small OS volume, since its root volume holds the OS alone.
 */
function blockDevices(nodeClass: KarpenterPoolSpec['nodeClass']) {
  const ebs = (volumeSize: string) => ({
    volumeSize,
    volumeType: 'gp3' as const,
    encrypted: true,
    deleteOnTermination: true,
  });
  const images = ebs(`${nodeClass.rootVolumeGiB}Gi`);
  return nodeClass.amiAlias.startsWith('bottlerocket@')
    ? [
        { deviceName: '/dev/xvda', ebs: ebs(BOTTLEROCKET_OS_VOLUME) },
        { deviceName: '/dev/xvdb', rootVolume: true, ebs: images },
      ]
    : [{ deviceName: '/dev/xvda', rootVolume: true, ebs: images }];
}

/** The EC2NodeClass for `spec`. */
export function renderEc2NodeClass(spec: KarpenterPoolSpec): IEC2NodeClass {
  const byTags = [{ tags: { ...spec.nodeClass.discoveryTags } }];
  return {
    apiVersion: 'karpenter.k8s.aws/v1',
    kind: 'EC2NodeClass',
    metadata: { name: spec.nodeClassName },
    spec: {
      amiSelectorTerms: [{ alias: spec.nodeClass.amiAlias }],
      role: spec.nodeClass.role,
      subnetSelectorTerms: byTags,
      securityGroupSelectorTerms: byTags,
      blockDeviceMappings: blockDevices(spec.nodeClass),
      metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1 },
    },
  };
}
