/**
 * The gate report as Markdown, for people: readable in a pull request or a repository browser
 * without modelfab. Pure.
 */
import path from 'node:path';
import { chosenBatchSetting, formatCount, formatCpuLimit, formatNumber } from './check-gate';
import { type GateReport, type Grade, type Verdict } from './gate-report';

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
      `${formatNumber(m.throughput.rps)} rps`,
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
  const rows = [
    ['CPU limit', formatCpuLimit(e.cpuLimitMillis)],
    ['memory limit', mib(e.memoryLimitBytes)],
    ['onnxruntime', escapeMarkdown(e.onnxruntimeVersion)],
    ['intra-op threads', String(e.intraOpThreads)],
    ['CPU model', escapeMarkdown(e.cpuModel)],
    ['cores', String(e.cores)],
    ['node', escapeMarkdown(e.nodeVersion)],
    ['platform', escapeMarkdown(e.platform)],
  ];
  return `## Environment\n\n${table(['', ''], rows)}`;
}

function latencySection(report: GateReport, svgHref: string): string {
  const l = report.measurements.latency;
  const stability = l.stable ? 'stable' : '**unstable**';
  const row = [
    ms(l.p50Ms),
    ms(l.p90Ms),
    ms(l.p95Ms),
    ms(l.p99Ms),
    ms(l.maxMs),
    ms(l.meanMs),
    formatCount(l.samples),
    stability,
  ];
  return [
    '## Latency',
    '',
    `Closed loop, one request at a time after warm-up; percentiles by nearest rank over every sample.`,
    '',
    table(['p50', 'p90', 'p95', 'p99', 'max', 'mean', 'samples', 'stability'], [row]),
    '',
    `Stability over ${formatCount(l.windows.length)} windows: ${escapeMarkdown(l.detail)}.`,
    '',
    `![latency distribution and throughput by batch setting](${encodeURI(svgHref)})`,
  ].join('\n');
}

function throughputSection(report: GateReport): string {
  const m = report.measurements;
  const t = m.throughput;
  const chosen = chosenBatchSetting(m);
  const heading = `## Throughput at p99 ≤ ${formatNumber(t.latencyBoundMs, 6)} ms`;
  const intro = `Open loop, Poisson arrivals: the highest rate whose p99 stayed within the bound. Per replica: **${formatNumber(
    t.rps,
  )} rps** (${t.stable ? 'stable' : '**unstable**'}).`;
  if (t.settings.length === 0) return `${heading}\n\n${intro}\n\nNo batch setting was measured.`;
  const rows = t.settings.map((s) => [
    String(s.maxBatchSize),
    ms(s.maxQueueDelayMs),
    formatNumber(s.rps),
    ms(s.p99Ms),
    formatCount(s.samples),
    s.stable ? 'stable' : 'unstable',
    s === chosen ? '⬅ chosen' : '',
  ]);
  const skipped =
    t.skipped && t.skipped.length > 0
      ? `\n\nNot tried, because their forecast peak memory exceeds the ${formatNumber(t.skipped[0].memoryLimitBytes / 2 ** 20)} MiB limit (resources.memory): ${t.skipped
          .map((s) => `batch ${s.maxBatchSize} (${formatNumber(s.forecastBytes / 2 ** 20)} MiB)`)
          .join(', ')}.`
      : '';
  return `${heading}\n\n${intro}\n\n${table(
    ['max batch size', 'max queue delay', 'rps', 'p99', 'samples', 'stability', ''],
    rows,
  )}${skipped}`;
}

function coldStartSection(report: GateReport): string {
  const c = report.measurements.coldStart;
  return `## Cold start\n\n${table(
    ['session create', 'first inference', 'total'],
    [[ms(c.sessionCreateMs), ms(c.firstInferenceMs), ms(c.totalMs)]],
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
    ['peak memory (RSS)', 'memory limit', 'model size'],
    [[mib(m.peakRssBytes), mib(m.environment.memoryLimitBytes), mib(m.modelSizeBytes)]],
  )}`;
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
        `${formatNumber(c.perReplicaRps)} rps`,
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
