/** The gate report as a terminal table. */
import { type GateReport } from '../gate';

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const ms = (value: number) =>
  `${value < 1 ? value.toFixed(3) : value < 100 ? value.toFixed(2) : value.toFixed(0)} ms`;

export function formatGateReport(report: GateReport): string {
  const m = report.measurements;
  const e = m.environment;
  const lines = [
    `gate ${report.passed ? 'PASSED' : 'FAILED'}: ${report.model.name} (${report.model.sha256.slice(0, 12)})${report.cached ? ' [cached]' : ''}`,
    `${e.cpuModel}, ${e.cores} cores; onnxruntime ${e.onnxruntimeVersion}; ${e.intraOpThreads} intra-op thread(s); measured in ${(m.durationMs / 1000).toFixed(1)} s`,
    '',
    table([
      ['', 'threshold', 'measured', 'limit'],
      ...report.verdicts.map((v) => [
        v.pass ? 'pass' : 'FAIL',
        v.threshold,
        `${formatNumber(v.measured)} ${v.unit}`,
        `${formatNumber(v.limit)} ${v.unit}`,
      ]),
    ]),
    '',
    `latency (${m.latency.samples.toLocaleString('en-US')} samples, ${m.latency.stable ? 'stable' : 'UNSTABLE'}): p50 ${ms(m.latency.p50Ms)}  p90 ${ms(m.latency.p90Ms)}  p95 ${ms(m.latency.p95Ms)}  p99 ${ms(m.latency.p99Ms)}  max ${ms(m.latency.maxMs)}  [${report.grades.latency}]`,
    `cold start: ${ms(m.coldStart.totalMs)} (session ${ms(m.coldStart.sessionCreateMs)}, first inference ${ms(m.coldStart.firstInferenceMs)}); peak rss ${(m.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
    '',
    `throughput at p99 <= ${m.throughput.latencyBoundMs} ms: ${m.throughput.rps.toFixed(0)} rps per replica (${m.throughput.stable ? 'stable' : 'UNSTABLE'}) [${report.grades.throughput}]`,
    table([
      ['batch', 'queue delay', 'rps', 'p99', 'stable', ''],
      ...m.throughput.settings.map((s) => [
        String(s.maxBatchSize),
        `${s.maxQueueDelayMs} ms`,
        s.rps.toFixed(0),
        Number.isFinite(s.p99Ms) ? ms(s.p99Ms) : '-',
        s.stable ? 'yes' : 'no',
        s.maxBatchSize === m.servingConfig.maxBatchSize ? '<- serving config' : '',
      ]),
    ]),
  ];
  if (m.accuracy)
    lines.push(
      '',
      `accuracy ${m.accuracy.metric}${m.accuracy.k ? `@${m.accuracy.k}` : ''}: ${m.accuracy.value.toFixed(4)} over ${m.accuracy.samples} rows${report.grades.accuracy ? ` [${report.grades.accuracy}]` : ''}`,
    );
  if (m.parity)
    lines.push(
      `parity: max abs error ${m.parity.maxAbsError.toExponential(2)}, max rel error ${m.parity.maxRelError.toExponential(2)}, ${m.parity.mismatches} of ${m.parity.elements} elements outside tolerance`,
    );
  if (report.capacity) {
    const c = report.capacity;
    lines.push(
      '',
      `capacity plan: ${c.replicas} replicas for ${c.targetRps} rps at ${c.targetUtilization * 100}% of ${c.perReplicaRps.toFixed(0)} rps each`,
    );
  }
  return lines.join('\n');
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toPrecision(4);
}
