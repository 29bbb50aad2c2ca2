/**
 * AutoscaledGpuPool's props resolved: every default applied, every value checked against the
 * catalog of the pool's cloud, each failure naming the construct path, the prop, the value and the
 * fix. The nodes come from one of three places (Karpenter, an EKS managed node group, GKE's
 * auto-provisioning); what is common is checked here, what is Karpenter's in resolve-karpenter-pool.
 * The result is what the renders take.
 */
import { show } from './errors';
import { isDns1123Label, isLabelValue } from './names';
import { parseImageReference } from './image-reference';
import { INSTANCE_TYPES, type InstanceType } from './instance-catalog';
import { GKE_ACCELERATORS, GKE_MAX_PODS, gkeGpuCounts, gkeMachineTypes } from './gke-machine-catalog';
import {
  AUTOSCALED_GPU_POOL_DEFAULTS as D,
  AUTOSCALED_GPU_POOL_PROPS_SHAPE,
  type AutoscaledGpuPoolProps,
  EKS_GPU_AMI_TYPES,
  type EksNodeGroupProps,
  type GkeComputeClassProps,
} from './gpu-pool-props';
import { type PropsChecker } from './props-checker';
import type { DevicePluginSpec } from '../render/render-device-plugin';
import type { KarpenterPoolSpec } from '../render/render-karpenter';
import type { EksNodeGroupSpec } from '../render/render-eks-node-group';
import type { GkeComputeClassSpec } from '../render/render-gke-compute-class';
import { GPU_NAMES, GPU_TAINT, type GpuName, POOL_LABEL } from './gpu';
import type { Placement, PlacementNodeType } from './placement';
import { resolveKarpenterPools } from './resolve-karpenter-pool';

/** Where the device plugin runs, beside the cluster's other node agents. */
const DEVICE_PLUGIN_NAMESPACE = 'kube-system';
/** 63 less `-device-plugin`, the longest suffix a pool's objects add. */
const MAX_NAME_LENGTH = 49;
/** The label GKE gives nodes of a ComputeClass, which pods select it by. */
export const GKE_COMPUTE_CLASS_LABEL = 'cloud.google.com/compute-class';
/** The label GKE gives GPU nodes: their accelerator type. */
export const GKE_ACCELERATOR_LABEL = 'cloud.google.com/gke-accelerator';

/** Where a pool's nodes come from. */
export type GpuPoolFlavour = 'karpenter' | 'eks-node-group' | 'gke';

/** The engine a pool is built in: an EKS node group is an AWS resource, Pulumi's only. */
export type PoolEngine = 'cdk8s' | 'pulumi';

/** A resolved pool: where its nodes come from, the device plugin, the node types it prices by. */
export interface GpuPoolSpec {
  /** The pool's name: its NodePools', node group's or ComputeClass's. */
  readonly name: string;
  readonly flavour: GpuPoolFlavour;
  readonly gpu: GpuName;
  readonly gpusPerNode: number;
  /** Pods sharing one GPU by time-slicing; absent when GPUs are not shared. */
  readonly timeSlicing?: number;
  /** Karpenter's NodePools: one, or two (spot at weight 100, then on-demand at 10); none for the other flavours. */
  readonly nodePools: readonly KarpenterPoolSpec[];
  /** The EKS managed node group (flavour `eks-node-group`). */
  readonly nodeGroup?: EksNodeGroupSpec;
  /** The GKE ComputeClass (flavour `gke`). */
  readonly computeClass?: GkeComputeClassSpec;
  /** The NVIDIA device plugin, where the nodes do not ship one (not on GKE or Bottlerocket). */
  readonly devicePlugin?: DevicePluginSpec;
  /** What a placed pod selects and tolerates. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: Placement['tolerations'];
  /** Whose system reserve a node keeps. */
  readonly platform: 'eks' | 'gke';
  /** The instance types the pool may launch, from the catalog, priced (`pricePerHour` or the catalog's), cheapest first. */
  readonly nodeTypes: readonly PlacementNodeType[];
  /** Warnings to print at synth (an `@latest` AMI). */
  readonly warnings: readonly string[];
}

/** An entry of either catalog: the AWS instance types (priced, with EKS max pods) or GKE's machine types. */
type CatalogType = Omit<InstanceType, 'maxPods' | 'pricePerHour'> &
  Partial<Pick<InstanceType, 'maxPods' | 'pricePerHour'>>;

/** Props that only some flavours take, and why the others do not. */
const FLAVOUR_ONLY: ReadonlyArray<{
  readonly prop: keyof AutoscaledGpuPoolProps;
  readonly flavours: readonly GpuPoolFlavour[];
  readonly why: string;
}> = [
  {
    prop: 'zones',
    flavours: ['karpenter'],
    why: "an EKS node group launches in its subnets' zones and a ComputeClass in the cluster's; choose them there",
  },
  {
    prop: 'maxCpu',
    flavours: ['karpenter'],
    why: 'only a Karpenter NodePool has CPU and memory limits; maxGpus bounds the pool',
  },
  {
    prop: 'maxMemory',
    flavours: ['karpenter'],
    why: 'only a Karpenter NodePool has CPU and memory limits; maxGpus bounds the pool',
  },
  {
    prop: 'disruption',
    flavours: ['karpenter'],
    why: 'the cluster autoscaler or GKE removes empty nodes on its own settings',
  },
  {
    prop: 'expireAfter',
    flavours: ['karpenter'],
    why: "node lifetimes are Karpenter's; node groups and GKE replace nodes on upgrades",
  },
  {
    prop: 'labels',
    flavours: ['karpenter', 'eks-node-group'],
    why: 'a ComputeClass sets no node labels; pods select the class by its own label',
  },
  {
    prop: 'maxGpus',
    flavours: ['karpenter', 'eks-node-group'],
    why: "GKE's node auto-provisioning limits are the cluster's (gcloud container clusters update --max-accelerator)",
  },
  {
    prop: 'devicePluginImage',
    flavours: ['karpenter', 'eks-node-group'],
    why: 'GKE installs and manages the device plugin itself',
  },
  {
    prop: 'sharing',
    flavours: ['karpenter', 'eks-node-group'],
    why: "GKE's GPU time-sharing is set on its node pools, not through a ComputeClass",
  },
];

/**
 * @param name the pool's name (DNS-1123), from the construct's id
 * @param engine the engine building it: an EKS node group is refused in cdk8s
 */
export function resolveGpuPool(
  check: PropsChecker,
  name: string,
  props: AutoscaledGpuPoolProps,
  engine: PoolEngine = 'pulumi',
): GpuPoolSpec {
  check.knownProps(props, AUTOSCALED_GPU_POOL_PROPS_SHAPE, 'AutoscaledGpuPool');
  if (!isDns1123Label(name) || name.length > MAX_NAME_LENGTH) {
    check.fail(
      'id',
      `the pool's id ${show(name)} names its NodePool, EC2NodeClass and device plugin: it must be a DNS-1123 label of at most ${MAX_NAME_LENGTH} characters (lower-case letters, digits, '-'); rename the construct, e.g. ${show('gpu')}`,
    );
  }
  const flavour = flavourOf(check, props, engine);
  for (const { prop, flavours, why } of FLAVOUR_ONLY) {
    if (props[prop] !== undefined && !flavours.includes(flavour)) {
      check.fail(
        prop,
        `${prop} ${show(props[prop])} does not apply to a pool from ${FLAVOUR_NAMES[flavour]}: ${why}; remove it`,
      );
    }
  }
  const gpu = props.gpu;
  if (!(GPU_NAMES as readonly string[]).includes(gpu)) {
    check.fail('gpu', `gpu ${show(gpu)} is not a GPU the pool knows; use one of ${GPU_NAMES.join(', ')}`);
  }
  if (flavour === 'gke' && GKE_ACCELERATORS[gpu] === undefined) {
    check.fail(
      'gpu',
      `gpu ${show(gpu)} is not one GKE offers a pool; use one of ${Object.keys(GKE_ACCELERATORS).join(', ')}, or karpenter on AWS`,
    );
  }
  const gpusPerNode = check.integer(
    'gpusPerNode',
    props.gpusPerNode ?? D.gpusPerNode,
    1,
    8,
    'use 1, 2, 4 or 8',
  );
  const catalog: Readonly<Record<string, CatalogType>> =
    flavour === 'gke' ? gkeMachineTypes(gpusPerNode) : INSTANCE_TYPES;
  const offered = Object.entries(catalog).filter(
    ([, type]) => type.gpuName === gpu && type.gpus === gpusPerNode,
  );
  let instanceTypes: ReadonlyArray<readonly [string, CatalogType]> = offered;
  if (props.instanceTypes !== undefined) {
    if (!Array.isArray(props.instanceTypes)) {
      check.fail(
        'instanceTypes',
        `instanceTypes must be a list, got ${show(props.instanceTypes)}; e.g. ['g5.xlarge']`,
      );
    }
    instanceTypes = props.instanceTypes.map((typeName, i) => {
      const type = catalog[typeName];
      const fix = `use one of ${offered.map(([n]) => n).join(', ') || `the types with ${gpusPerNode} ${gpu}`}`;
      if (!type)
        check.fail(
          `instanceTypes[${i}]`,
          `instanceTypes[${i}] ${show(typeName)} is not in the ${flavour === 'gke' ? 'GKE ' : ''}catalog; ${fix}`,
        );
      if (type.gpuName !== gpu || type.gpus !== gpusPerNode) {
        check.fail(
          `instanceTypes[${i}]`,
          `instanceTypes[${i}] ${show(typeName)} carries ${type.gpus} ${type.gpuName ?? 'GPUs'}, not ${gpusPerNode} ${gpu}; ${fix}`,
        );
      }
      return [typeName, type] as const;
    });
  }
  if (instanceTypes.length === 0) {
    const counts =
      flavour === 'gke'
        ? gkeGpuCounts(gpu)
        : [
            ...new Set(
              Object.values(catalog)
                .filter((t) => t.gpuName === gpu)
                .map((t) => t.gpus),
            ),
          ];
    check.fail(
      'gpusPerNode',
      `no instance type in the catalog carries ${gpusPerNode} ${gpu} GPU${gpusPerNode === 1 ? '' : 's'}; use a count one does (${counts.join(', ')})`,
    );
  }
  const capacityTypes = props.capacityTypes ?? D.capacityTypes;
  if (
    !Array.isArray(capacityTypes) ||
    capacityTypes.length === 0 ||
    capacityTypes.some((c) => c !== 'spot' && c !== 'on-demand')
  ) {
    check.fail('capacityTypes', `capacityTypes ${show(capacityTypes)} must list 'spot', 'on-demand' or both`);
  }
  const capacities = [...new Set(capacityTypes)];
  const maxGpus =
    flavour === 'gke'
      ? undefined
      : check.integer('maxGpus', props.maxGpus, gpusPerNode, 10_000, `at least one node's ${gpusPerNode}`);
  const timeSlicing =
    props.sharing === undefined
      ? undefined
      : check.integer(
          'sharing.timeSlicing',
          check.record('sharing', props.sharing).timeSlicing,
          2,
          64,
          'from 2 pods a GPU',
        );
  const pricePerHour =
    props.pricePerHour === undefined
      ? undefined
      : check.positive('pricePerHour', props.pricePerHour, 'the node price in USD per hour');
  if (flavour === 'gke' && pricePerHour === undefined) {
    check.fail(
      'pricePerHour',
      `pricePerHour is required on GKE: the catalog has no GCP prices; set the node price in USD per hour from the Compute Engine price list for your region and machine types`,
    );
  }
  const nodeTypes = instanceTypes
    .map(([instanceType, type]) => ({
      instanceType,
      vcpu: type.vcpu,
      memoryMiB: type.memoryMiB,
      gpus: type.gpus,
      gpuMemoryMiB: type.gpuMemoryMiB,
      maxPods: type.maxPods ?? GKE_MAX_PODS,
      // GKE pools must state a price (checked above); the AWS catalog has one for every type.
      pricePerHour: pricePerHour ?? type.pricePerHour ?? 0,
    }))
    .sort((a, b) => a.pricePerHour - b.pricePerHour || a.vcpu - b.vcpu);
  const labels =
    flavour === 'gke' ? {} : { ...check.labels('labels', props.labels ?? {}), [POOL_LABEL]: name };
  const common = {
    name,
    flavour,
    gpu,
    gpusPerNode,
    ...(timeSlicing !== undefined ? { timeSlicing } : {}),
    nodeTypes,
  };
  const aws = {
    nodeSelector: { [POOL_LABEL]: name },
    tolerations: [{ key: GPU_TAINT.key, operator: 'Exists' as const, effect: GPU_TAINT.effect }],
    platform: 'eks' as const,
  };

  if (flavour === 'gke') {
    const g = check.record('gke', props.gke) as GkeComputeClassProps;
    const accelerator = GKE_ACCELERATORS[gpu] as string;
    return {
      ...common,
      nodePools: [],
      computeClass: {
        name,
        accelerator,
        gpusPerNode,
        machineTypes: nodeTypes.map((t) => t.instanceType),
        capacityTypes: capacities,
        bootDiskGiB: check.integer(
          'gke.bootDiskGiB',
          g.bootDiskGiB ?? D.rootVolumeGiB,
          50,
          65_536,
          'model images need room: at least 50',
        ),
      },
      nodeSelector: { [GKE_COMPUTE_CLASS_LABEL]: name, [GKE_ACCELERATOR_LABEL]: accelerator },
      tolerations: [
        { key: GPU_TAINT.key, operator: 'Exists', effect: 'NoSchedule' },
        { key: GKE_COMPUTE_CLASS_LABEL, operator: 'Exists', effect: 'NoSchedule' },
      ],
      platform: 'gke',
      warnings: [],
    };
  }

  /** Bottlerocket's NVIDIA nodes run their own device plugin: the props that configure ours do not apply. */
  const refuseOnBottlerocket = (bottlerocket: boolean, otherAmi: string): void => {
    for (const prop of ['devicePluginImage', 'sharing'] as const) {
      if (bottlerocket && props[prop] !== undefined) {
        check.fail(
          prop,
          `${prop} ${show(props[prop])} does not apply to Bottlerocket nodes, which run their own device plugin; remove it, or use ${otherAmi}`,
        );
      }
    }
  };
  const devicePlugin = (): DevicePluginSpec => {
    const devicePluginImage = props.devicePluginImage ?? D.devicePluginImage;
    const pluginRef = parseImageReference(devicePluginImage);
    if (!pluginRef || (pluginRef.digest === undefined && (pluginRef.tag ?? 'latest') === 'latest')) {
      check.fail(
        'devicePluginImage',
        `devicePluginImage ${show(devicePluginImage)} must be pinned by a version tag or a digest, such as ${show(D.devicePluginImage)}`,
      );
    }
    return {
      name: `${name}-device-plugin`,
      namespace: DEVICE_PLUGIN_NAMESPACE,
      image: devicePluginImage,
      nodeSelector: { [POOL_LABEL]: name },
      ...(timeSlicing !== undefined ? { timeSlicing } : {}),
    };
  };

  if (flavour === 'eks-node-group') {
    const nodeGroup = resolveNodeGroup(check, name, props, {
      capacities,
      gpusPerNode,
      maxGpus: maxGpus as number,
      instanceTypes: nodeTypes.map((t) => t.instanceType),
      labels,
    });
    const bottlerocket = nodeGroup.amiType === 'BOTTLEROCKET_x86_64_NVIDIA';
    refuseOnBottlerocket(bottlerocket, `eksNodeGroup.amiType ${show(D.eksAmiType)}`);
    return {
      ...common,
      nodePools: [],
      nodeGroup,
      ...(bottlerocket ? {} : { devicePlugin: devicePlugin() }),
      ...aws,
      warnings: [],
    };
  }

  const zones = props.zones ?? [];
  if (!Array.isArray(zones))
    check.fail('zones', `zones must be a list, got ${show(zones)}; e.g. ['us-east-1a']`);
  zones.forEach((zone, i) => {
    if (typeof zone !== 'string' || zone === '' || !isLabelValue(zone)) {
      check.fail(
        `zones[${i}]`,
        `zones[${i}] ${show(zone)} is not a zone name; use the zone's name, such as 'us-east-1a'`,
      );
    }
  });
  const { nodePools, warnings } = resolveKarpenterPools(check, name, props, {
    gpu,
    gpusPerNode,
    capacities,
    zones,
    labels,
    maxGpus: maxGpus as number,
    instanceTypes: nodeTypes.map((t) => t.instanceType),
  });
  // Karpenter launches Bottlerocket's NVIDIA variant on GPU instances, which runs its own plugin.
  const bottlerocket = nodePools[0].nodeClass.amiAlias.startsWith('bottlerocket@');
  refuseOnBottlerocket(bottlerocket, `karpenter.amiAlias ${show(D.amiAlias)}`);
  return {
    ...common,
    nodePools,
    ...(bottlerocket ? {} : { devicePlugin: devicePlugin() }),
    ...aws,
    warnings,
  };
}

const FLAVOUR_NAMES: Readonly<Record<GpuPoolFlavour, string>> = {
  karpenter: 'Karpenter',
  'eks-node-group': 'an EKS node group',
  gke: 'GKE',
};

/** Which of karpenter, eksNodeGroup and gke the props set: exactly one, and no node group in cdk8s. */
function flavourOf(check: PropsChecker, props: AutoscaledGpuPoolProps, engine: PoolEngine): GpuPoolFlavour {
  const set = (
    [
      ['karpenter', 'karpenter'],
      ['eksNodeGroup', 'eks-node-group'],
      ['gke', 'gke'],
    ] as const
  ).filter(([prop]) => props[prop] !== undefined);
  if (set.length === 0) {
    check.fail(
      'karpenter',
      `the pool says nowhere where its nodes come from; set karpenter: { clusterName, nodeRole } (AWS), gke: {} (GKE) or, in Pulumi, eksNodeGroup: { clusterName, subnetIds }`,
    );
  }
  if (set.length > 1) {
    check.fail(
      set[1][0],
      `the pool sets ${set.map(([prop]) => prop).join(' and ')}: its nodes come from one of them; keep one`,
    );
  }
  const [prop, flavour] = set[0];
  if (flavour === 'eks-node-group' && engine === 'cdk8s') {
    check.fail(
      prop,
      `eksNodeGroup ${show(props.eksNodeGroup)} is an AWS resource, not a Kubernetes object, so cdk8s cannot create it ('eks-node-group' is Pulumi only); use karpenter: { clusterName, nodeRole } for GPU nodes that scale, or build the pool with modelfab's Pulumi component`,
    );
  }
  return flavour;
}

/** The EKS managed node group's props, checked. */
function resolveNodeGroup(
  check: PropsChecker,
  name: string,
  props: AutoscaledGpuPoolProps,
  pool: {
    readonly capacities: ReadonlyArray<'spot' | 'on-demand'>;
    readonly gpusPerNode: number;
    readonly maxGpus: number;
    readonly instanceTypes: readonly string[];
    readonly labels: Readonly<Record<string, string>>;
  },
): EksNodeGroupSpec {
  const n = check.record('eksNodeGroup', props.eksNodeGroup) as unknown as EksNodeGroupProps;
  if (pool.capacities.length > 1) {
    check.fail(
      'capacityTypes',
      `capacityTypes ${show(props.capacityTypes)}: an EKS node group buys one capacity type; use ['spot'] or ['on-demand'], or karpenter for spot with an on-demand fallback`,
    );
  }
  const amiType = n.amiType ?? D.eksAmiType;
  if (!(EKS_GPU_AMI_TYPES as readonly string[]).includes(amiType)) {
    check.fail(
      'eksNodeGroup.amiType',
      `eksNodeGroup.amiType ${show(amiType)} is not a GPU AMI type; use ${EKS_GPU_AMI_TYPES.join(' or ')}`,
    );
  }
  if (!Array.isArray(n.subnetIds) || n.subnetIds.length === 0) {
    check.fail(
      'eksNodeGroup.subnetIds',
      `eksNodeGroup.subnetIds ${show(n.subnetIds)} must list the subnets nodes launch in, e.g. ['subnet-0abc']`,
    );
  }
  const subnetIds = n.subnetIds.map((id, i) =>
    check.string(`eksNodeGroup.subnetIds[${i}]`, id, 'a subnet ID such as subnet-0abc'),
  );
  const maxSize = Math.floor(pool.maxGpus / pool.gpusPerNode);
  const minSize = check.integer(
    'eksNodeGroup.minNodes',
    n.minNodes ?? D.minNodes,
    0,
    maxSize,
    `from 0 to the ${maxSize} nodes maxGpus allows`,
  );
  return {
    name,
    clusterName: check.string('eksNodeGroup.clusterName', n.clusterName, 'the EKS cluster name'),
    subnetIds,
    amiType,
    instanceTypes: pool.instanceTypes,
    capacityType: pool.capacities[0],
    minSize,
    maxSize,
    diskSizeGiB: check.integer(
      'eksNodeGroup.diskSizeGiB',
      n.diskSizeGiB ?? D.diskSizeGiB,
      50,
      16_384,
      'model images need room: at least 50',
    ),
    gpusPerNode: pool.gpusPerNode,
    labels: pool.labels,
  };
}
