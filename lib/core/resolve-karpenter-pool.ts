/**
 * The Karpenter part of an AutoscaledGpuPool's props resolved: disruption, node lifetime, CPU and
 * memory limits and the EC2NodeClass (a pinned AMI, the node role, the cluster's discovery tag),
 * into one NodePool, or two (spot at weight 100, on-demand at 10) when both capacity types are asked
 * for. Each failure names the construct path, the prop, the value and the fix.
 */
import { show } from './errors';
import { parseCpuMillis, parseMemoryBytes } from './quantity';
import {
  AUTOSCALED_GPU_POOL_DEFAULTS as D,
  type AutoscaledGpuPoolProps,
  type GpuPoolDisruptionProps,
  type KarpenterNodeClassProps,
} from './gpu-pool-props';
import { type PropsChecker } from './props-checker';
import type { KarpenterPoolSpec } from '../render/render-karpenter';
import type { GpuName } from './gpu';

/** The weights of the two NodePools a pool with both capacity types gets: spot is tried first. */
const SPOT_WEIGHT = 100;
const ON_DEMAND_WEIGHT = 10;
const DURATION = /^\d+(s|m|h)$/;
const BUDGET_NODES = /^(\d+|\d+%)$/;
const CONSOLIDATION_POLICIES = ['WhenEmpty', 'WhenEmptyOrUnderutilized'] as const;
const AMI_ALIAS = /^(al2023|al2|bottlerocket)@(v\d{8}|latest)$/;

/** What the common part of the pool resolved, which the NodePools take. */
export interface KarpenterPoolBasis {
  readonly gpu: GpuName;
  readonly gpusPerNode: number;
  readonly capacities: ReadonlyArray<'spot' | 'on-demand'>;
  readonly zones: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly maxGpus: number;
  /** The catalog's types only, so what Karpenter may launch is what the fit check and the prices cover. */
  readonly instanceTypes: readonly string[];
}

/** The NodePools of pool `name`, and the warnings to print (an `@latest` AMI). */
export function resolveKarpenterPools(
  check: PropsChecker,
  name: string,
  props: AutoscaledGpuPoolProps,
  basis: KarpenterPoolBasis,
): { readonly nodePools: KarpenterPoolSpec[]; readonly warnings: string[] } {
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
    gpuNames: [basis.gpu],
    gpusPerNode: basis.gpusPerNode,
    instanceTypes: basis.instanceTypes,
    capacityTypes: capacity,
    zones: basis.zones,
    labels: basis.labels,
    limits: {
      gpus: basis.maxGpus,
      ...(maxCpu !== undefined ? { cpu: maxCpu } : {}),
      ...(maxMemory !== undefined ? { memory: maxMemory } : {}),
    },
    disruption: { consolidationPolicy, consolidateAfter, budgets },
    expireAfter,
    ...(weight !== undefined ? { weight } : {}),
    nodeClass,
  });
  return {
    nodePools:
      basis.capacities.length === 2
        ? [nodePool(`${name}-spot`, ['spot'], SPOT_WEIGHT), nodePool(name, ['on-demand'], ON_DEMAND_WEIGHT)]
        : [nodePool(name, basis.capacities)],
    warnings,
  };
}
