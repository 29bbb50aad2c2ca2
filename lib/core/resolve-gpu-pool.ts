/**
 * AutoscaledGpuPool's props resolved: every default applied, every value checked against the
 * catalog, each failure naming the construct path, the prop, the value and the fix. The result is
 * what the renders take.
 */
import { show } from './errors';
import { isDns1123Label, isLabelValue } from './names';
import { parseImageReference } from './image-reference';
import { parseCpuMillis, parseMemoryBytes } from './quantity';
import { INSTANCE_TYPES } from './instance-catalog';
import {
  AUTOSCALED_GPU_POOL_DEFAULTS as D,
  AUTOSCALED_GPU_POOL_PROPS_SHAPE,
  type AutoscaledGpuPoolProps,
  type GpuPoolDisruptionProps,
  type KarpenterNodeClassProps,
} from './gpu-pool-props';
import { type PropsChecker } from './props-checker';
import type { DevicePluginSpec } from '../render/render-device-plugin';
import type { KarpenterPoolSpec } from '../render/render-karpenter';
import { GPU_NAMES, POOL_LABEL } from './gpu';
import type { PlacementNodeType } from './placement';

/** The weights of the two NodePools a pool with both capacity types gets: spot is tried first. */
const SPOT_WEIGHT = 100;
const ON_DEMAND_WEIGHT = 10;
/** Where the device plugin runs, beside the cluster's other node agents. */
const DEVICE_PLUGIN_NAMESPACE = 'kube-system';
/** 63 less `-device-plugin`, the longest suffix a pool's objects add. */
const MAX_NAME_LENGTH = 49;
const DURATION = /^\d+(s|m|h)$/;
const BUDGET_NODES = /^(\d+|\d+%)$/;
const CONSOLIDATION_POLICIES = ['WhenEmpty', 'WhenEmptyOrUnderutilized'] as const;
const AMI_ALIAS = /^(al2023|al2|bottlerocket)@(v\d{8}|latest)$/;

/** A resolved pool: Karpenter's NodePools, the device plugin, the node types it prices by. */
export interface GpuPoolSpec {
  /** The pool's name: its EC2NodeClass's, its on-demand NodePool's, its nodes' `modelfab.dev/pool` label. */
  readonly name: string;
  /** One NodePool, or two (spot at weight 100, then on-demand at 10) when both capacity types are asked for. */
  readonly nodePools: readonly KarpenterPoolSpec[];
  readonly devicePlugin: DevicePluginSpec;
  /** The instance types the pool may launch, from the catalog, priced (`pricePerHour` or the catalog's), cheapest first. */
  readonly nodeTypes: readonly PlacementNodeType[];
  /** Warnings to print at synth (an `@latest` AMI). */
  readonly warnings: readonly string[];
}

/**
 * @param name the pool's name (DNS-1123), from the construct's id
 */
export function resolveGpuPool(
  check: PropsChecker,
  name: string,
  props: AutoscaledGpuPoolProps,
): GpuPoolSpec {
  check.knownProps(props, AUTOSCALED_GPU_POOL_PROPS_SHAPE, 'AutoscaledGpuPool');
  if (!isDns1123Label(name) || name.length > MAX_NAME_LENGTH) {
    check.fail(
      'id',
      `the pool's id ${show(name)} names its NodePool, EC2NodeClass and device plugin: it must be a DNS-1123 label of at most ${MAX_NAME_LENGTH} characters (lower-case letters, digits, '-'); rename the construct, e.g. ${show('gpu')}`,
    );
  }
  const gpu = props.gpu;
  if (!(GPU_NAMES as readonly string[]).includes(gpu)) {
    check.fail('gpu', `gpu ${show(gpu)} is not a GPU the pool knows; use one of ${GPU_NAMES.join(', ')}`);
  }
  const gpusPerNode = check.integer(
    'gpusPerNode',
    props.gpusPerNode ?? D.gpusPerNode,
    1,
    8,
    'use 1, 2, 4 or 8',
  );
  const offered = Object.entries(INSTANCE_TYPES).filter(
    ([, type]) => type.gpuName === gpu && type.gpus === gpusPerNode,
  );
  let instanceTypes = offered;
  if (props.instanceTypes !== undefined) {
    if (!Array.isArray(props.instanceTypes)) {
      check.fail(
        'instanceTypes',
        `instanceTypes must be a list, got ${show(props.instanceTypes)}; e.g. ['g5.xlarge']`,
      );
    }
    instanceTypes = props.instanceTypes.map((typeName, i) => {
      const type = INSTANCE_TYPES[typeName];
      const fix = `use one of ${offered.map(([n]) => n).join(', ') || `the types with ${gpusPerNode} ${gpu}`}`;
      if (!type)
        check.fail(
          `instanceTypes[${i}]`,
          `instanceTypes[${i}] ${show(typeName)} is not in the catalog; ${fix}`,
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
    check.fail(
      'gpusPerNode',
      `no instance type in the catalog carries ${gpusPerNode} ${gpu} GPU${gpusPerNode === 1 ? '' : 's'}; use a count one does (${[
        ...new Set(
          Object.values(INSTANCE_TYPES)
            .filter((t) => t.gpuName === gpu)
            .map((t) => t.gpus),
        ),
      ].join(', ')})`,
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
  const maxGpus = check.integer(
    'maxGpus',
    props.maxGpus,
    gpusPerNode,
    10_000,
    `at least one node's ${gpusPerNode}`,
  );
  const disruption = check.record('disruption', props.disruption ?? {}) as GpuPoolDisruptionProps;
  const consolidationPolicy = disruption.consolidationPolicy ?? D.consolidationPolicy;
  if (!CONSOLIDATION_POLICIES.includes(consolidationPolicy)) {
    check.fail(
      'disruption.consolidationPolicy',
      `disruption.consolidationPolicy ${show(consolidationPolicy)} is not a policy; use ${CONSOLIDATION_POLICIES.join(' or ')}`,
    );
  }
  const duration = (prop: string, value: string, never = false): string => {
    if (DURATION.test(value) || (never && value === 'Never')) return value;
    check.fail(
      prop,
      `${prop} ${show(value)} must be a duration such as '10m' or '720h'${never ? `, or 'Never'` : ''}`,
    );
  };
  const consolidateAfter = duration(
    'disruption.consolidateAfter',
    disruption.consolidateAfter ?? D.consolidateAfter,
  );
  const budgetList = disruption.budgets ?? D.disruptionBudgets;
  if (!Array.isArray(budgetList)) {
    check.fail(
      'disruption.budgets',
      `disruption.budgets must be a list, got ${show(budgetList)}; e.g. [{ nodes: '10%' }]`,
    );
  }
  const budgets = (budgetList as NonNullable<GpuPoolDisruptionProps['budgets']>).map((budget, i) => {
    const at = `disruption.budgets[${i}]`;
    check.record(at, budget);
    if (typeof budget.nodes !== 'string' || !BUDGET_NODES.test(budget.nodes)) {
      check.fail(
        `${at}.nodes`,
        `${at}.nodes ${show(budget.nodes)} must be a count ('1') or a percentage ('10%')`,
      );
    }
    if ((budget.schedule === undefined) !== (budget.duration === undefined)) {
      check.fail(at, `${at} ${show(budget)} needs schedule and duration together, or neither`);
    }
    return {
      nodes: budget.nodes,
      ...(budget.schedule !== undefined ? { schedule: budget.schedule } : {}),
      ...(budget.duration !== undefined ? { duration: duration(`${at}.duration`, budget.duration) } : {}),
    };
  });
  const expireAfter = duration('expireAfter', props.expireAfter ?? D.expireAfter, true);
  const quantity = (prop: 'maxCpu' | 'maxMemory', parse: (v: string) => number): string | undefined => {
    const value = props[prop];
    if (value === undefined) return undefined;
    let parsed: number;
    try {
      parsed = parse(value);
    } catch {
      parsed = Number.NaN;
    }
    if (!(parsed > 0)) {
      check.fail(
        prop,
        `${prop} ${show(value)} must be a positive quantity such as ${prop === 'maxCpu' ? `'256'` : `'2Ti'`}`,
      );
    }
    return value;
  };
  const maxCpu = quantity('maxCpu', parseCpuMillis);
  const maxMemory = quantity('maxMemory', parseMemoryBytes);
  const k = check.record('karpenter', props.karpenter) as unknown as KarpenterNodeClassProps;
  const amiAlias = k.amiAlias ?? D.amiAlias;
  const warnings: string[] = [];
  if (!AMI_ALIAS.test(amiAlias)) {
    check.fail(
      'karpenter.amiAlias',
      `karpenter.amiAlias ${show(amiAlias)} must be family@version, such as ${show(D.amiAlias)}`,
    );
  }
  if (amiAlias.endsWith('@latest')) {
    if (k.allowLatestAmi !== true) {
      check.fail(
        'karpenter.amiAlias',
        `karpenter.amiAlias ${show(amiAlias)} drifts every node to each new AMI release; pin a version such as ${show(D.amiAlias)}, or set karpenter.allowLatestAmi: true`,
      );
    }
    warnings.push(`karpenter.amiAlias ${amiAlias}: every node moves to each new AMI release as it comes out`);
  }
  const rootVolumeGiB = check.integer(
    'karpenter.rootVolumeGiB',
    k.rootVolumeGiB ?? D.rootVolumeGiB,
    50,
    16_384,
    'model images need room: at least 50',
  );
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
  const nodeTypes = instanceTypes
    .map(([instanceType, type]) => ({
      instanceType,
      vcpu: type.vcpu,
      memoryMiB: type.memoryMiB,
      gpus: type.gpus,
      gpuMemoryMiB: type.gpuMemoryMiB,
      maxPods: type.maxPods,
      pricePerHour: pricePerHour ?? type.pricePerHour,
    }))
    .sort((a, b) => a.pricePerHour - b.pricePerHour);
  const labels = { ...check.labels('labels', props.labels ?? {}), [POOL_LABEL]: name };
  const devicePluginImage = props.devicePluginImage ?? D.devicePluginImage;
  const pluginRef = parseImageReference(devicePluginImage);
  if (!pluginRef || (pluginRef.digest === undefined && (pluginRef.tag ?? 'latest') === 'latest')) {
    check.fail(
      'devicePluginImage',
      `devicePluginImage ${show(devicePluginImage)} must be pinned by a version tag or a digest, such as ${show(D.devicePluginImage)}`,
    );
  }
  const nodeClass = {
    amiAlias,
    role: check.string('karpenter.nodeRole', k.nodeRole, 'the IAM role name of the nodes'),
    discoveryTags: {
      'karpenter.sh/discovery': check.string('karpenter.clusterName', k.clusterName, 'the EKS cluster name'),
    },
    rootVolumeGiB,
  };
  const nodePool = (poolName: string, capacity: ReadonlyArray<'spot' | 'on-demand'>, weight?: number) => ({
    name: poolName,
    nodeClassName: name,
    gpuNames: [gpu],
    gpusPerNode,
    // The catalog's types only, so what Karpenter may launch is what the fit check and the prices cover.
    instanceTypes: nodeTypes.map((type) => type.instanceType),
    capacityTypes: capacity,
    zones,
    labels,
    limits: {
      gpus: maxGpus,
      ...(maxCpu !== undefined ? { cpu: maxCpu } : {}),
      ...(maxMemory !== undefined ? { memory: maxMemory } : {}),
    },
    disruption: { consolidationPolicy, consolidateAfter, budgets },
    expireAfter,
    ...(weight !== undefined ? { weight } : {}),
    nodeClass,
  });
  const both = new Set(capacityTypes).size === 2;
  return {
    name,
    nodePools: both
      ? [nodePool(`${name}-spot`, ['spot'], SPOT_WEIGHT), nodePool(name, ['on-demand'], ON_DEMAND_WEIGHT)]
      : [nodePool(name, [...new Set(capacityTypes)])],
    devicePlugin: {
      name: `${name}-device-plugin`,
      namespace: DEVICE_PLUGIN_NAMESPACE,
      image: devicePluginImage,
      nodeSelector: { [POOL_LABEL]: name },
      ...(timeSlicing !== undefined ? { timeSlicing } : {}),
    },
    nodeTypes,
    warnings,
  };
}
