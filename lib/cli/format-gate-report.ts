/** The gate report as a terminal table. */
import { PROVIDER_LABELS } from '../core';
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
    ...(e.gpu
      ? [
          `served on ${e.gpu.product} (${e.gpu.name}, driver ${e.gpu.driverVersion}) with onnxruntime's ${PROVIDER_LABELS[e.gpu.provider]} provider at ${e.gpu.measuredAt}; accuracy and parity on the CPU provider`,
        ]
      : []),
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
    `served over HTTP, ${e.enforcement.detail}; load generator ceiling ${e.generatorCeilingRps.toFixed(0)} rps`,
    '',
    `latency at the operating rate ${m.latency.rateRps.toFixed(0)} rps (${m.latency.samples.toLocaleString('en-US')} samples): p50 ${ms(m.latency.p50Ms)}  p95 ${ms(m.latency.p95Ms)}  p99 ${ms(m.latency.p99Ms)}${m.latency.bounds.p99.upperMs !== undefined ? ` (<= ${ms(m.latency.bounds.p99.upperMs)} at ${m.latency.confidence * 100}% confidence)` : ''}  max ${ms(m.latency.maxMs)}  [${report.grades.latency}]`,
    `latency of a lone request (${m.loneLatency.samples.toLocaleString('en-US')} samples): p50 ${ms(m.loneLatency.p50Ms)}  p99 ${ms(m.loneLatency.p99Ms)}; the model alone in process (diagnostic): p50 ${ms(m.modelAlone.p50Ms)}  p99 ${ms(m.modelAlone.p99Ms)}`,
    `cold start: server process to ready ${ms(m.coldStart.processReadyMs)}; in process: session ${ms(m.coldStart.sessionCreateMs)}, first inference ${ms(m.coldStart.firstInferenceMs)}; server peak memory ${(m.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
    '',
    `throughput at p99 <= ${m.throughput.latencyBoundMs} ms: ${m.throughput.generatorBound ? '>= ' : ''}${m.throughput.rps.toFixed(0)} rps per replica${m.throughput.generatorBound ? ' (load generator bound)' : ''} [${report.grades.throughput}]`,
    table([
      ['batch', 'queue delay', 'saturated', 'at bound', 'p99', 'result', ''],
      ...m.throughput.settings.map((s) => [
        String(s.maxBatchSize),
        `${s.maxQueueDelayMs} ms`,
        `${s.capacityRps.toFixed(0)} rps`,
        `${s.rps.toFixed(0)} rps`,
        Number.isFinite(s.p99Ms) ? ms(s.p99Ms) : '-',
        s.decision === 'within' ? 'held' : s.decision,
        s.maxBatchSize === m.servingConfig.maxBatchSize &&
        s.maxQueueDelayMs === m.servingConfig.maxQueueDelayMs
          ? '<- serving config'
          : '',
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
