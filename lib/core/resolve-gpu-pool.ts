/**
 * AutoscaledGpuPool's props resolved (WIP, branch wip/13-gpu-pool; Karpenter only): every default
 * applied, every value checked against the catalog, each failure naming the construct path, the
 * prop, the value and the fix. The result is what the renders take.
 */
import { show } from './errors';
import { INSTANCE_TYPES, type InstanceType } from './instance-catalog';
import { AUTOSCALED_GPU_POOL_PROPS_SHAPE, type AutoscaledGpuPoolProps } from './gpu-pool-props';
import { type PropsChecker } from './props-checker';
import { DEVICE_PLUGIN_IMAGE, type DevicePluginSpec } from '../render/render-device-plugin';
import { type GpuName, type KarpenterPoolSpec } from '../render/render-karpenter';

const GPU_NAMES: readonly GpuName[] = ['t4', 'a10g', 'l4', 'l40s', 'a100', 'h100'];
/** The AMI a pool pins unless told otherwise. */
export const DEFAULT_AMI_ALIAS = 'al2023@v20241121';
const DURATION = /^\d+(s|m|h)$/;
const AMI_ALIAS = /^(al2023|al2|bottlerocket)@(v\d{8}|latest)$/;

/** A resolved pool: Karpenter's spec, the device plugin's, the node type it prices by. */
export interface GpuPoolSpec {
  readonly karpenter: KarpenterPoolSpec;
  readonly devicePlugin: DevicePluginSpec;
  /** The instance types the pool may launch, from the catalog. */
  readonly instanceTypes: ReadonlyArray<readonly [name: string, type: InstanceType]>;
  /** The price the plan uses: `pricePerHour`, else the cheapest of the instance types. */
  readonly pricePerNodeHour: number;
  /** Whether `pricePerHour` set the price (for every type), rather than the catalog. */
  readonly pricedByProps: boolean;
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
  const gpu = props.gpu;
  if (!GPU_NAMES.includes(gpu)) {
    check.fail('gpu', `gpu ${show(gpu)} is not a GPU the pool knows; use one of ${GPU_NAMES.join(', ')}`);
  }
  const gpusPerNode = check.integer('gpusPerNode', props.gpusPerNode ?? 1, 1, 8, 'use 1, 2, 4 or 8');
  const offered = Object.entries(INSTANCE_TYPES).filter(
    ([, type]) => type.gpuName === gpu && type.gpus === gpusPerNode,
  );
  let instanceTypes = offered;
  if (props.instanceTypes !== undefined) {
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
  const capacityTypes = props.capacityTypes ?? ['on-demand'];
  if (capacityTypes.length === 0 || capacityTypes.some((c) => c !== 'spot' && c !== 'on-demand')) {
    check.fail('capacityTypes', `capacityTypes ${show(capacityTypes)} must list 'spot', 'on-demand' or both`);
  }
  const maxGpus = check.integer(
    'maxGpus',
    props.maxGpus,
    gpusPerNode,
    10_000,
    `at least one node's ${gpusPerNode}`,
  );
  for (const prop of ['consolidateAfter', 'expireAfter'] as const) {
    const value = props[prop];
    if (value !== undefined && !DURATION.test(value)) {
      check.fail(prop, `${prop} ${show(value)} must be a duration such as '10m' or '720h'`);
    }
  }
  const k = props.karpenter;
  const amiAlias = k.amiAlias ?? DEFAULT_AMI_ALIAS;
  const warnings: string[] = [];
  if (!AMI_ALIAS.test(amiAlias)) {
    check.fail(
      'karpenter.amiAlias',
      `karpenter.amiAlias ${show(amiAlias)} must be family@version, such as ${show(DEFAULT_AMI_ALIAS)}`,
    );
  }
  if (amiAlias.endsWith('@latest')) {
    if (k.allowLatestAmi !== true) {
      check.fail(
        'karpenter.amiAlias',
        `karpenter.amiAlias ${show(amiAlias)} drifts every node to each new AMI release; pin a version such as ${show(DEFAULT_AMI_ALIAS)}, or set karpenter.allowLatestAmi: true`,
      );
    }
    warnings.push(`karpenter.amiAlias ${amiAlias}: every node moves to each new AMI release as it comes out`);
  }
  const rootVolumeGiB = check.integer(
    'karpenter.rootVolumeGiB',
    k.rootVolumeGiB ?? 200,
    50,
    16_384,
    'model images need room: at least 50',
  );
  const timeSlicing =
    props.sharing === undefined
      ? undefined
      : check.integer('sharing.timeSlicing', props.sharing.timeSlicing, 2, 64, 'from 2 pods a GPU');
  const pricePerNodeHour =
    props.pricePerHour === undefined
      ? Math.min(...instanceTypes.map(([, t]) => t.pricePerHour))
      : check.positive('pricePerHour', props.pricePerHour, 'the node price in USD per hour');
  const labels = { ...check.labels('labels', props.labels ?? {}), 'modelfab.dev/pool': name };
  return {
    karpenter: {
      name,
      gpuNames: [gpu],
      gpusPerNode,
      instanceTypes: props.instanceTypes ?? [],
      capacityTypes,
      architecture: props.architecture ?? 'amd64',
      zones: props.zones ?? [],
      labels,
      limits: { gpus: maxGpus },
      disruption: {
        consolidationPolicy: 'WhenEmpty',
        consolidateAfter: props.consolidateAfter ?? '10m',
        budgets: [{ nodes: '10%' }],
      },
      expireAfter: props.expireAfter ?? '720h',
      nodeClass: {
        amiAlias,
        role: check.string('karpenter.nodeRole', k.nodeRole, 'the IAM role name of the nodes'),
        discoveryTags: {
          'karpenter.sh/discovery': check.string(
            'karpenter.clusterName',
            k.clusterName,
            'the EKS cluster name',
          ),
        },
        rootVolumeGiB,
      },
    },
    devicePlugin: {
      name: `${name}-device-plugin`,
      namespace: 'kube-system',
      image: props.devicePluginImage ?? DEVICE_PLUGIN_IMAGE,
      nodeSelector: { 'modelfab.dev/pool': name },
      ...(timeSlicing !== undefined ? { timeSlicing } : {}),
    },
    instanceTypes,
    pricePerNodeHour,
    pricedByProps: props.pricePerHour !== undefined,
    warnings,
  };
}
