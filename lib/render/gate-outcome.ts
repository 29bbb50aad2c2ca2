import { type HorizontalScaling, INFERENCE_SERVICE_DEFAULTS, type InferenceServiceSpec } from '../core';
import { type GateOutcome, type GateReport } from '../gate';

/** One line for the `modelfab.dev/gate-summary` annotation: the figures a reviewer looks for. */
export function gateSummary(report: GateReport): string {
  const m = report.measurements;
  const parts = [
    `p99 ${m.latency.p99Ms.toPrecision(3)} ms`,
    `${Math.round(m.throughput.rps)} rps/replica at p99 <= ${m.throughput.latencyBoundMs} ms (batch ${m.servingConfig.maxBatchSize})`,
  ];
  if (m.accuracy) parts.push(`${m.accuracy.metric} ${m.accuracy.value.toFixed(4)}`);
  if (m.parity) parts.push(`parity max abs error ${m.parity.maxAbsError.toExponential(2)}`);
  parts.push(`${m.environment.cpuModel}, onnxruntime ${m.environment.onnxruntimeVersion}`);
  return parts.join('; ');
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
      `capacity plan failed: slo.targetRps ${spec.slo.targetRps} needs the rate one replica sustains, but no batch setting held a rate with p99 within ${report.measurements.throughput.latencyBoundMs} ms over the gate's windows; raise gate.budgetSeconds or resources.cpu, or relax latencyP99Ms`,
    ];
  }
  if (!plan) return [];
  const need = `slo.targetRps ${plan.targetRps} needs ${plan.replicas} replicas at ${plan.perReplicaRps.toFixed(0)} rps each (measured) and ${plan.targetUtilization * 100}% target utilization`;
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
