/**
 * Assembles the GateReport from what the benchmark measured: verdicts, grades, capacity plan and the
 * overall pass. Pure.
 */
import { type GateSpec, type SloSpec } from '../core';
import { planCapacity } from './capacity';
import { checkGate, gradeAccuracy, gradeLatency, gradeThroughput } from './check-gate';
import { type GateMeasurements, type GateReport } from './gate-report';

/** What {@link buildGateReport} needs. */
export interface GateReportInput {
  readonly model: GateReport['model'];
  readonly gate: GateSpec;
  readonly slo?: SloSpec;
  readonly measurements: GateMeasurements;
  /**
   * Whether the report comes from the cache.
   * @default false
   */
  readonly cached?: boolean;
}

/**
 * Judges measurements into a report: a verdict per declared threshold ({@link checkGate}), grades
 * (latency from p99, throughput from the per-replica rate, accuracy only for top1/topk since the
 * bands are fractions), the capacity plan when an SLO is given and throughput was measured (> 0 rps),
 * and `passed` when every verdict passes (a gate with no thresholds passes).
 */
export function buildGateReport(input: GateReportInput): GateReport {
  const { gate, slo, measurements: m } = input;
  const verdicts = checkGate(gate, m);
  const accuracy = m.accuracy;
  const gradesAccuracy =
    accuracy && (accuracy.metric === 'top1' || accuracy.metric === 'topk')
      ? { accuracy: gradeAccuracy(accuracy.value) }
      : {};
  const capacity = slo && m.throughput.rps > 0 ? { capacity: planCapacity(slo, m.throughput.rps) } : {};
  return {
    schemaVersion: 1,
    model: { ...input.model },
    gate,
    ...(slo ? { slo } : {}),
    measurements: m,
    verdicts,
    grades: {
      latency: gradeLatency(m.latency.p99Ms),
      throughput: gradeThroughput(m.throughput.rps),
      ...gradesAccuracy,
    },
    ...capacity,
    passed: verdicts.every((v) => v.pass),
    cached: input.cached ?? false,
  };
}
