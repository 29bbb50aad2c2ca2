/**
 * The gate report as Markdown, for people: readable in a pull request or a repository browser
 * without modelfab. Pure.
 */
import path from 'node:path';
import { PROVIDER_LABELS } from '../core';
import { chosenBatchSetting, formatCount, formatCpuLimit, formatNumber } from './check-gate';
import {
  type GateReport,
  type Grade,
  type LatencyStats,
  type PercentileBounds,
  type Verdict,
} from './gate-report';

/** Options of {@link renderGateMarkdown}. */
export interface GateMarkdownOptions {
  /**
   * Relative link to the SVG chart written beside the Markdown.
   * @default `<model name>.gate.svg`
   */
  readonly svgHref?: string;
}

/**
 * Renders a gate report as Markdown: the title with the model and PASSED/FAILED, the verdicts
 * (✅/❌), grades, environment, latency, throughput per batch setting (the chosen one marked), cold
 * start, accuracy, parity, memory and size, the capacity plan, the serving config and the chart.
 */
export function renderGateMarkdown(report: GateReport, options: GateMarkdownOptions = {}): string {
  const svgHref = options.svgHref ?? `${report.model.name}.gate.svg`;
  const sections = [
    titleSection(report),
    verdictSection(report.verdicts),
    gradeSection(report),
    environmentSection(report),
    latencySection(report, svgHref),
    throughputSection(report),
    coldStartSection(report),
    accuracySection(report),
    paritySection(report),
    resourceSection(report),
    capacitySection(report),
    costSection(report),
    servingSection(report),
  ];
  return `${sections.filter((s) => s !== '').join('\n\n')}\n`;
}

/** Escapes text for Markdown prose and table cells (no HTML, no emphasis, no table breaks). */
export function escapeMarkdown(text: string): string {
  return text
    .replace(/[\\`*_[\]#|~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r?\n/g, ' ');
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function ms(value: number): string {
  return `${formatNumber(value)} ms`;
}

function mib(bytes: number): string {
  return `${formatNumber(bytes / 2 ** 20)} MiB`;
}

function titleSection(report: GateReport): string {
  const status = report.passed ? 'PASSED ✅' : 'FAILED ❌';
  const { model, measurements: m } = report;
  const failed = report.verdicts.filter((v) => !v.pass).length;
  const summary =
    report.verdicts.length === 0
      ? 'No thresholds were declared; the figures below inform only.'
      : `${report.verdicts.length - failed} of ${report.verdicts.length} thresholds passed.`;
  const cached = report.cached
    ? ' Read from the gate cache (the model, gate, resources and runtime were unchanged).'
    : '';
  return [
    `# Quality gate: ${escapeMarkdown(model.name)} — ${status}`,
    '',
    `Model ${escapeMarkdown(path.basename(model.path))} (${formatCount(model.sizeBytes)} bytes), sha256 \`${model.sha256}\`. ` +
      `Measured in ${formatNumber(m.durationMs / 1000)} s. ${summary}${cached}`,
  ].join('\n');
}

function verdictSection(verdicts: readonly Verdict[]): string {
  if (verdicts.length === 0) return '';
  const rows = verdicts.map((v) => [
    v.pass ? '✅' : '❌',
    `\`${v.threshold}\``,
    escapeMarkdown(v.metric),
    escapeMarkdown(withUnit(v.measured, v.unit)),
    escapeMarkdown(withUnit(v.limit, v.unit)),
    escapeMarkdown(v.message),
  ]);
  return `## Verdicts\n\n${table(['', 'threshold', 'metric', 'measured', 'limit', 'detail'], rows)}`;
}

function withUnit(value: number, unit: string): string {
  return unit === '' ? formatNumber(value, 4) : `${formatNumber(value, 4)} ${unit}`;
}

const GRADE_MARK: Record<Grade, string> = { excellent: '🟢', good: '🟢', pass: '🟡', fail: '🔴' };

function gradeSection(report: GateReport): string {
  const { grades, measurements: m } = report;
  const rows = [
    [
      'latency',
      `p99 ${ms(m.latency.p99Ms)}`,
      `${GRADE_MARK[grades.latency]} ${grades.latency}`,
      '< 50 / 100 / 200 ms',
    ],
    [
      'throughput',
      `${m.throughput.generatorBound ? '≥ ' : ''}${formatNumber(m.throughput.rps)} rps`,
      `${GRADE_MARK[grades.throughput]} ${grades.throughput}`,
      '> 1,000 / 500 / 100 rps',
    ],
  ];
  if (grades.accuracy && m.accuracy) {
    rows.push([
      'accuracy',
      formatNumber(m.accuracy.value, 4),
      `${GRADE_MARK[grades.accuracy]} ${grades.accuracy}`,
      '> 0.95 / 0.90 / 0.85',
    ]);
  }
  return `## Grades\n\nGrades inform; the thresholds above decide.\n\n${table(
    ['metric', 'value', 'grade', 'excellent / good / pass'],
    rows,
  )}`;
}

function environmentSection(report: GateReport): string {
  const e = report.measurements.environment;
  const gpuRows = e.gpu
    ? [
        [
          'GPU',
          escapeMarkdown(
            `${e.gpu.product} (${e.gpu.name}, driver ${e.gpu.driverVersion}, ${formatNumber(e.gpu.memoryMiB)} MiB)`,
          ),
        ],
        [
          'execution provider',
          escapeMarkdown(
            `${PROVIDER_LABELS[e.gpu.provider]} for the served path (latency, throughput, memory, the server's cold start); CPU for accuracy, parity, the model alone and the in-process cold start`,
          ),
        ],
        ['measured at', escapeMarkdown(e.gpu.measuredAt)],
      ]
    : [];
  const rows = [
    ...gpuRows,
    ['CPU limit', formatCpuLimit(e.cpuLimitMillis)],
    ['memory limit', mib(e.memoryLimitBytes)],
    ['onnxruntime', escapeMarkdown(e.onnxruntimeVersion)],
    ['intra-op threads', String(e.intraOpThreads)],
    ['CPU model', escapeMarkdown(e.cpuModel)],
    ['cores', String(e.cores)],
    ['node', escapeMarkdown(e.nodeVersion)],
    ['platform', escapeMarkdown(e.platform)],
    [
      'limits enforced',
      escapeMarkdown(`${e.enforcement.cpu} (CPU), ${e.enforcement.memory} (memory): ${e.enforcement.detail}`),
    ],
    [
      'load generator ceiling',
      `${formatNumber(e.generatorCeilingRps)} rps against a trivial endpoint, same run`,
    ],
  ];
  return `## Environment\n\n${table(['', ''], rows)}`;
}

/** `≤ 4.1 ms` / `≥ 2 ms` / `-`: a percentile's bounds at the gate's confidence. */
function boundCell(b: PercentileBounds): string {
  const parts = [
    ...(b.lowerMs !== undefined ? [`≥ ${ms(b.lowerMs)}`] : []),
    ...(b.upperMs !== undefined ? [`≤ ${ms(b.upperMs)}`] : []),
  ];
  return parts.length > 0 ? parts.join(', ') : 'too few samples';
}

function latencySection(report: GateReport, svgHref: string): string {
  const m = report.measurements;
  const l = m.latency;
  const lone = m.loneLatency;
  const alone = m.modelAlone;
  const confidence = formatNumber(l.confidence * 100);
  const row = (name: string, s: LatencyStats, extra: readonly string[]) => [
    name,
    ms(s.p50Ms),
    ms(s.p90Ms),
    ms(s.p95Ms),
    ms(s.p99Ms),
    ms(s.maxMs),
    formatCount(s.samples),
    ...extra,
  ];
  return [
    '## Latency',
    '',
    `Served over loopback HTTP by the server the image runs, inside the pod's limits; percentiles by nearest rank. ` +
      `The thresholds are judged at the planned operating rate (${formatNumber(l.rateRps)} rps: target utilization × the capacity at the bound), ` +
      `each percentile with distribution-free bounds at ${confidence}% confidence (order statistics). ` +
      `A lone request waits out the batch's queue delay (${ms(m.servingConfig.maxQueueDelayMs)}).`,
    '',
    table(
      ['', 'p50', 'p90', 'p95', 'p99', 'max', 'samples', `p99 at ${confidence}% confidence`],
      [
        row(`at ${formatNumber(l.rateRps)} rps (operating rate)`, l, [boundCell(l.bounds.p99)]),
        row('a lone request', lone, [boundCell(lone.p99)]),
        row('the model alone, in process (diagnostic)', alone, ['-']),
      ],
    ),
    '',
    `Bounds at the operating rate: p50 ${boundCell(l.bounds.p50)}; p95 ${boundCell(l.bounds.p95)}; p99 ${boundCell(l.bounds.p99)}.`,
    '',
    `Drift over ${formatCount(l.windows.length)} windows (reported, not a verdict): ${escapeMarkdown(l.detail)}.`,
    '',
    `![latency distribution and throughput by batch setting](${encodeURI(svgHref)})`,
  ].join('\n');
}

function throughputSection(report: GateReport): string {
  const m = report.measurements;
  const t = m.throughput;
  const chosen = chosenBatchSetting(m);
  const heading = `## Throughput at p99 ≤ ${formatNumber(t.latencyBoundMs, 6)} ms`;
  const rate = `${t.generatorBound ? '≥ ' : ''}${formatNumber(t.rps)} rps`;
  const generator = !t.generatorBound
    ? ''
    : chosen?.generatorBound
      ? ` At the next rate the load generator fell behind its own arrival schedule (this machine could not offer it): the figure is a lower bound of the server's, and the capacity plan uses it.`
      : ` The server's saturated capacity reached 90% of the load generator's own ceiling (${formatNumber(m.environment.generatorCeilingRps)} rps): the figure is the generator's bound, a lower bound of the server's, and the capacity plan uses it.`;
  const intro = `Served over loopback HTTP, open loop, Poisson arrivals, latency from each request's scheduled send time: each batch size's saturated capacity first, then, for the best one, the highest rate whose p99 was shown within the bound with ${formatNumber(m.latency.confidence * 100)}% confidence, trying fractions of that capacity. Per replica: **${rate}**.${generator}`;
  if (t.settings.length === 0) return `${heading}\n\n${intro}\n\nNo batch setting was measured.`;
  const rows = t.settings.map((s) => [
    String(s.maxBatchSize),
    ms(s.maxQueueDelayMs),
    formatNumber(s.capacityRps),
    s.decision === 'not searched' ? '-' : formatNumber(s.rps),
    s.decision === 'not searched' ? '-' : ms(s.p99Ms),
    s.p99UpperMs !== undefined ? `≤ ${ms(s.p99UpperMs)}` : '-',
    formatCount(s.samples),
    s.decision === 'within'
      ? s.stable
        ? 'held, no drift'
        : 'held, drifting'
      : escapeMarkdown(s.detail ?? s.decision),
    s === chosen ? '⬅ chosen' : '',
  ]);
  const skipped =
    t.skipped && t.skipped.length > 0
      ? `\n\nNot tried, because their forecast peak memory exceeds the ${formatNumber(t.skipped[0].memoryLimitBytes / 2 ** 20)} MiB limit (resources.memory): ${t.skipped
          .map((s) => `batch ${s.maxBatchSize} (${formatNumber(s.forecastBytes / 2 ** 20)} MiB)`)
          .join(', ')}.`
      : '';
  return `${heading}\n\n${intro}\n\n${table(
    [
      'max batch size',
      'max queue delay',
      'saturated rps',
      'rps at the bound',
      'p99',
      'p99 bound',
      'samples',
      'result',
      '',
    ],
    rows,
  )}${skipped}`;
}

function coldStartSection(report: GateReport): string {
  const c = report.measurements.coldStart;
  return `## Cold start\n\n${table(
    [
      'server process start to ready (as a pod pays it)',
      'session create (in process)',
      'first inference',
      'session + first inference',
    ],
    [[ms(c.processReadyMs), ms(c.sessionCreateMs), ms(c.firstInferenceMs), ms(c.totalMs)]],
  )}`;
}

function accuracySection(report: GateReport): string {
  const a = report.measurements.accuracy;
  if (!a) return '';
  const metric = a.metric === 'topk' ? `top${a.k ?? report.gate.accuracy?.k ?? ''}` : a.metric;
  return `## Accuracy\n\n${table(
    ['metric', 'value', 'samples', 'output', 'dataset'],
    [
      [
        metric,
        formatNumber(a.value, 4),
        formatCount(a.samples),
        escapeMarkdown(a.output),
        escapeMarkdown(a.dataset),
      ],
    ],
  )}`;
}

function paritySection(report: GateReport): string {
  const p = report.measurements.parity;
  if (!p) return '';
  const tolerance = report.gate.parity
    ? ` (atol ${formatNumber(report.gate.parity.atol, 6)}, rtol ${formatNumber(report.gate.parity.rtol, 6)})`
    : '';
  const worst = p.worst
    ? `\n\nWorst element: line ${p.worst.line}, output ${escapeMarkdown(JSON.stringify(p.worst.output))}[${p.worst.index}] = ${formatNumber(
        p.worst.actual,
        9,
      )}, expected ${formatNumber(p.worst.expected, 9)}.`
    : '';
  return `## Parity${tolerance}\n\n${table(
    ['mismatches', 'elements', 'max abs error', 'max rel error', 'samples', 'dataset'],
    [
      [
        formatCount(p.mismatches),
        formatCount(p.elements),
        formatNumber(p.maxAbsError),
        formatNumber(p.maxRelError),
        formatCount(p.samples),
        escapeMarkdown(p.dataset),
      ],
    ],
  )}${worst}`;
}

function resourceSection(report: GateReport): string {
  const m = report.measurements;
  return `## Memory and size\n\n${table(
    ['peak memory of the server', 'memory limit', 'model size'],
    [[mib(m.peakRssBytes), mib(m.environment.memoryLimitBytes), mib(m.modelSizeBytes)]],
  )}`;
}

/** USD with cents, or four significant digits below a dollar (`$0.0123`). */
function usd(value: number): string {
  return value >= 1 ? `$${value.toFixed(2)}` : `$${Number(value.toPrecision(4))}`;
}

function costSection(report: GateReport): string {
  const c = report.cost;
  if (!c) return '';
  const perMillion =
    c.costPerMillionInferences === undefined
      ? 'no measured capacity: no cost per inference'
      : `**${usd(c.costPerMillionInferences)}**`;
  return `## Cost

${table(
  ['node', 'node-hour', 'pods a node', 'replicas', 'nodes', 'per hour', 'per million inferences'],
  [
    [
      c.instanceType,
      usd(c.pricePerNodeHour),
      String(c.podsPerNode),
      String(c.replicas),
      String(c.nodes),
      `**${usd(c.costPerHour)}**`,
      perMillion,
    ],
  ],
)}

per hour = whole nodes × node-hour; per million = (node-hour ÷ pods a node) ÷ (per replica × ${formatNumber(c.targetUtilization * 100, 4)}% × 3,600) × 10⁶.`;
}

function capacitySection(report: GateReport): string {
  const c = report.capacity;
  if (!c) {
    return report.slo
      ? '## Capacity plan\n\nNo plan: throughput at the latency bound was 0 rps, so capacity could not be measured.'
      : '';
  }
  return `## Capacity plan\n\n${table(
    ['target', 'utilization', 'per replica', 'replicas'],
    [
      [
        `${formatNumber(c.targetRps, 6)} rps`,
        `${formatNumber(c.targetUtilization * 100, 4)}%`,
        `${report.measurements.throughput.generatorBound ? '≥ ' : ''}${formatNumber(c.perReplicaRps)} rps`,
        `**${c.replicas}**`,
      ],
    ],
  )}\n\nreplicas = ⌈target ÷ (per replica × utilization)⌉.`;
}

function servingSection(report: GateReport): string {
  const s = report.measurements.servingConfig;
  return `## Serving config\n\n${table(
    ['max batch size', 'max queue delay', 'intra-op threads', 'workers'],
    [[String(s.maxBatchSize), ms(s.maxQueueDelayMs), String(s.intraOpThreads), String(s.workers)]],
  )}`;
}
