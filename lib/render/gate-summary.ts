import { type GateReport } from '../gate';

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
