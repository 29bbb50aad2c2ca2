/**
 * The capacity plan, in one place: how many replicas carry the service's target rate, from the
 * throughput one replica sustained at the latency bound; the HPA floor it gives; why a plan cannot
 * be held with the service's scaling settings; and what the planned replicas cost. Pure.
 */
import {
  type ChosenNode,
  type CostPlan,
  formatNumber,
  GATE_DEFAULTS,
  type HorizontalScaling,
  INFERENCE_SERVICE_DEFAULTS,
  type InferenceServiceSpec,
  planCost,
  type SloSpec,
} from '../core';
import { type CapacityPlan } from './gate-report';
import { type GateOutcome } from './gate-outcome';

/**
 * Replicas for an SLO: `ceil(targetRps / (perReplicaRps × targetUtilization))`, at least 1.
 *
 * @param perReplicaRps the throughput one replica sustained at the latency bound (the gate's measurement)
 * @throws RangeError when perReplicaRps is not a positive number (capacity could not be measured) or
 *   the SLO is invalid
 */
export function planCapacity(slo: SloSpec, perReplicaRps: number): CapacityPlan {
  if (!Number.isFinite(perReplicaRps) || perReplicaRps <= 0) {
    throw new RangeError(
      `capacity could not be measured: one replica sustained ${perReplicaRps} rps within the latency bound; ` +
        'raise resources.cpu, relax latencyP99Ms or allow batching (gate.maxBatchSize) so a replica can serve requests in time',
    );
  }
  if (!Number.isFinite(slo.targetRps) || slo.targetRps <= 0) {
    throw new RangeError(`slo.targetRps must be a positive number, received ${slo.targetRps}`);
  }
  if (!Number.isFinite(slo.targetUtilization) || slo.targetUtilization <= 0 || slo.targetUtilization > 1) {
    throw new RangeError(`slo.targetUtilization must be in (0, 1], received ${slo.targetUtilization}`);
  }
  const exact = slo.targetRps / (perReplicaRps * slo.targetUtilization);
  // Forgive floating-point noise so 280 / (400 × 0.7) is 1 replica, not 2.
  const replicas = Math.max(1, Math.ceil(exact - 1e-9 * Math.max(1, exact)));
  return {
    targetRps: slo.targetRps,
    targetUtilization: slo.targetUtilization,
    perReplicaRps,
    replicas,
  };
}

/**
 * The HPA's minReplicas with a capacity plan: the plan, unless the user set minReplicas; never
 * below the default floor of 2 (capacity is not availability: one pod cannot survive a node
 * drain) and never above maxReplicas (a plan above it is reported by `capacityProblems`).
 */
export function plannedMinReplicas(scaling: HorizontalScaling, gate: GateOutcome | undefined): number {
  const plan = gate?.status === 'skipped' ? undefined : gate?.report.capacity;
  if (!plan || scaling.minReplicasExplicit) return scaling.minReplicas;
  const floor = Math.min(INFERENCE_SERVICE_DEFAULTS.minReplicas, scaling.maxReplicas);
  return Math.min(Math.max(plan.replicas, floor), scaling.maxReplicas);
}

/** The rate an SLO asks, as messages name it: `slo.targetRps 2000`, or what a derived SLO is, and its rate. */
function sloRate(slo: SloSpec | undefined, targetRps: number): string {
  return slo?.origin !== undefined
    ? `${slo.origin}, ${formatNumber(targetRps)} rps,`
    : `slo.targetRps ${targetRps}`;
}

/**
 * Why the measured capacity cannot meet the SLO with these scaling settings, or why there is no
 * measured capacity to size an SLO with (empty when it can).
 */
export function capacityProblems(spec: InferenceServiceSpec, gate: GateOutcome | undefined): string[] {
  const report = gate?.status === 'skipped' ? undefined : gate?.report;
  const plan = report?.capacity;
  if (report && !plan && spec.slo) {
    // An SLO with no measured capacity cannot size the service: passing would deploy a guess.
    return [
      `capacity plan failed: ${sloRate(spec.slo, spec.slo.targetRps)} needs the rate one replica sustains, but no serving setting held a rate with p99 shown within ${report.measurements.throughput.latencyBoundMs} ms (${report.measurements.latency.confidence * 100}% confidence); raise gate.budgetSeconds or resources.cpu, or relax latencyP99Ms`,
    ];
  }
  if (!plan) return [];
  const measured = report.measurements.throughput.generatorBound
    ? 'at least, measured: the load generator was the bound'
    : 'measured';
  const need = `${sloRate(spec.slo, plan.targetRps)} needs ${plan.replicas} replicas at ${plan.perReplicaRps.toFixed(0)} rps each (${measured}) and ${plan.targetUtilization * 100}% target utilization`;
  if (spec.scaling.kind === 'fixed' && spec.scaling.replicas < plan.replicas) {
    return [
      `capacity plan failed: ${need}, but replicas is ${spec.scaling.replicas}; raise replicas or resources.cpu`,
    ];
  }
  if (spec.scaling.kind === 'horizontal' && plan.replicas > spec.scaling.maxReplicas) {
    return [
      `capacity plan failed: ${need}, above autoscaling.maxReplicas ${spec.scaling.maxReplicas}; raise maxReplicas or resources.cpu`,
    ];
  }
  return [];
}

/**
 * What the service costs on `node` at its planned replicas (the fixed count, or the HPA floor the
 * capacity plan gives), and per million inferences at the capacity the gate measured (the plan's
 * per-replica rate, else the throughput at the bound) run at the target utilization.
 */
export function serviceCost(
  spec: InferenceServiceSpec,
  node: ChosenNode,
  gate: GateOutcome | undefined,
): CostPlan {
  const measured = measuredReplicaRps(gate);
  return planCost({
    instanceType: node.name,
    pricePerNodeHour: node.pricePerNodeHour,
    podsPerNode: node.fit.podsPerNode,
    replicas: spec.scaling.kind === 'fixed' ? spec.scaling.replicas : plannedMinReplicas(spec.scaling, gate),
    ...(measured !== undefined ? { perReplicaRps: measured } : {}),
    targetUtilization: plannedUtilization(spec, gate),
  });
}

/**
 * The request rate one replica takes before KEDA adds another: `autoscaling.targetRpsPerReplica`,
 * else {@link plannedReplicaRps}. Undefined when neither is known (the gate was skipped or held no
 * rate): the service cannot be scaled on a guess.
 */
export function kedaThreshold(spec: InferenceServiceSpec, gate: GateOutcome | undefined): number | undefined {
  if (spec.scaling.kind !== 'horizontal' || !spec.scaling.keda) return undefined;
  return spec.scaling.keda.targetRpsPerReplica ?? plannedReplicaRps(spec, gate);
}

/**
 * The per-replica capacity the gate measured: the capacity plan's rate, else the throughput it held
 * at the latency bound; undefined without a report, or when it held no rate.
 */
export function measuredReplicaRps(gate: GateOutcome | undefined): number | undefined {
  const report = gate?.status === 'skipped' ? undefined : gate?.report;
  const measured = report?.capacity?.perReplicaRps ?? report?.measurements.throughput.rps;
  return measured !== undefined && measured > 0 ? measured : undefined;
}

/**
 * The share of the measured capacity the plan runs a replica at: the capacity plan's, else the
 * SLO's target utilization, else its default.
 */
export function plannedUtilization(spec: InferenceServiceSpec, gate?: GateOutcome): number {
  const plan = gate?.status === 'skipped' ? undefined : gate?.report.capacity;
  return plan?.targetUtilization ?? spec.slo?.targetUtilization ?? GATE_DEFAULTS.targetUtilization;
}

/**
 * The requests per second one replica is planned to take: the measured capacity × the target
 * utilization. KEDA's threshold and the running-hot alert are this figure.
 */
export function plannedReplicaRps(
  spec: InferenceServiceSpec,
  gate: GateOutcome | undefined,
): number | undefined {
  const measured = measuredReplicaRps(gate);
  return measured === undefined ? undefined : measured * plannedUtilization(spec, gate);
}

/** Why KEDA's threshold is unknown: no measured capacity and no `targetRpsPerReplica`; empty when it is known. */
export function kedaProblems(spec: InferenceServiceSpec, gate: GateOutcome | undefined): string[] {
  if (spec.scaling.kind !== 'horizontal' || !spec.scaling.keda) return [];
  if (kedaThreshold(spec, gate) !== undefined) return [];
  const why =
    gate?.status === 'skipped'
      ? 'the gate was skipped (MODELFAB_GATE=skip)'
      : 'the gate held no rate within its latency bound';
  return [
    `autoscaling.kind 'keda' scales on the requests one replica takes, but ${why}, so there is no measured capacity to set the threshold; set autoscaling.targetRpsPerReplica, or let the gate measure`,
  ];
}
