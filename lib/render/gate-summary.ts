import { type GateReport } from '../gate';

/** One line for the `modelfab.dev/gate-summary` annotation: the figures a reviewer looks for. */
export function gateSummary(report: GateReport): string {
  const m = report.measurements;
  const parts = [
    `p99 ${m.latency.p99Ms.toPrecision(3)} ms at ${Math.round(m.latency.rateRps)} rps (lone request ${m.loneLatency.p99Ms.toPrecision(3)} ms)`,
    `${m.throughput.generatorBound ? '>= ' : ''}${Math.round(m.throughput.rps)} rps/replica served at p99 <= ${m.throughput.latencyBoundMs} ms (batch ${m.servingConfig.maxBatchSize}, CPU ${m.environment.enforcement.cpu})`,
  ];
  if (m.accuracy) parts.push(`${m.accuracy.metric} ${m.accuracy.value.toFixed(4)}`);
  if (m.parity) parts.push(`parity max abs error ${m.parity.maxAbsError.toExponential(2)}`);
  parts.push(`${m.environment.cpuModel}, onnxruntime ${m.environment.onnxruntimeVersion}`);
  return parts.join('; ');
}
