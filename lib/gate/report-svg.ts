// Over ~400 lines on purpose: one chart, whose layout, scales and parts share one set of dimensions.
/**
 * The gate report's chart as a standalone SVG (no scripts, no external fonts or images): the latency
 * distribution at the planned operating rate with its p50/p99 markers and the p99 bound, and for
 * each batch setting tried its saturated capacity behind the rate it held at the latency bound, the
 * chosen one highlighted (`≥` when the load generator was the bound). Pure.
 */
import { PROVIDER_LABELS } from '../core';
import { chosenBatchSetting, formatCount, formatCpuLimit, formatNumber } from './check-gate';
import { type BatchSettingResult, type GateReport } from './gate-report';

const WIDTH = 960;
const HEIGHT = 480;
const FONT = 'Helvetica, Arial, sans-serif';
const BADGE_WIDTH = 84;

const COLOR = {
  text: '#1f2328',
  muted: '#57606a',
  grid: '#e6e8eb',
  axis: '#8c959f',
  bar: '#4c78a8',
  barMuted: '#a8c1dc',
  capacity: '#eaeef2',
  chosen: '#f28e2b',
  p50: '#1f4e79',
  p99: '#b35c00',
  bound: '#cf222e',
  pass: '#1a7f37',
  fail: '#cf222e',
};

/** A plot area in SVG coordinates. */
interface Frame {
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

const CPU_ENFORCEMENT = {
  quota: 'CPU held by a CFS quota',
  affinity: 'CPU held by core affinity',
  none: 'CPU limit not enforced',
} as const;

/**
 * Renders the report's chart as an SVG document (a string starting with `<svg`). All text from the
 * report is XML-escaped.
 */
export function renderGateSvg(report: GateReport): string {
  const m = report.measurements;
  const status = report.passed ? 'PASSED' : 'FAILED';
  const gpu = m.environment.gpu;
  const subtitle = [
    ...(gpu
      ? [`${truncate(gpu.product, 40)} (driver ${gpu.driverVersion}, ${PROVIDER_LABELS[gpu.provider]})`]
      : []),
    formatCpuLimit(m.environment.cpuLimitMillis),
    `onnxruntime ${m.environment.onnxruntimeVersion}`,
    `${m.environment.intraOpThreads} intra-op thread${m.environment.intraOpThreads === 1 ? '' : 's'}`,
    CPU_ENFORCEMENT[m.environment.enforcement.cpu],
    truncate(m.environment.cpuModel, 60),
  ].join(' · ');
  const body = [
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    text(24, 36, titleText(report.model.name), { size: 20, weight: 'bold' }),
    statusBadge(status, report.passed),
    text(24, 58, subtitle, { size: 12, fill: COLOR.muted }),
    latencyPanel(report, { left: 84, right: 452, top: 164, bottom: 390 }),
    throughputPanel(report, { left: 564, right: 932, top: 164, bottom: 390 }),
    text(
      24,
      HEIGHT - 14,
      `modelfab quality gate · sha256 ${report.model.sha256.slice(0, 12)}…${report.cached ? ' · from cache' : ''}`,
      { size: 11, fill: COLOR.muted },
    ),
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" font-family="${FONT}" role="img">`,
    `<title>${escapeXml(`${report.model.name}: quality gate ${status}`)}</title>`,
    ...body.filter((part) => part !== ''),
    '</svg>',
    '',
  ].join('\n');
}

/** Escapes text for XML content and attribute values. */
export function escapeXml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/[^\t\n\r\u0020-\uFFFD\u{10000}-\u{10FFFF}]/gu, ''); // characters XML 1.0 does not allow
}

/** The PASSED/FAILED badge at the right end of the title line. */
function statusBadge(status: string, passed: boolean): string {
  const x = WIDTH - 24 - BADGE_WIDTH;
  const fill = passed ? COLOR.pass : COLOR.fail;
  return [
    `<rect class="status" x="${x}" y="16" width="${BADGE_WIDTH}" height="26" rx="4" fill="${fill}"/>`,
    text(x + BADGE_WIDTH / 2, 35, status, { size: 14, weight: 'bold', fill: '#ffffff', anchor: 'middle' }),
  ].join('\n');
}

/** The title, the model name shortened to leave room for the badge (bold glyphs estimated at 0.68 em, a wide font's average). */
function titleText(name: string): string {
  const suffix = ' — quality gate';
  const room = Math.floor((WIDTH - 48 - BADGE_WIDTH - 16) / (20 * 0.68)) - suffix.length;
  return `${truncate(name, Math.max(8, room))}${suffix}`;
}

function latencyPanel(report: GateReport, f: Frame): string {
  const m = report.measurements;
  const l = m.latency;
  const { boundsMs, counts } = l.histogram;
  const parts: string[] = [
    text(f.left - 60, 90, 'Latency distribution', { size: 15, weight: 'bold' }),
    text(
      f.left - 60,
      108,
      `${formatCount(l.samples)} requests at ${formatNumber(l.rateRps)} rps, the operating rate · ${l.stable ? 'no drift' : 'drifting'}`,
      { size: 12, fill: COLOR.muted },
    ),
  ];
  if (boundsMs.length === 0 || l.samples === 0) {
    return [...parts, noData(f, 'no latency samples')].join('\n');
  }
  const edges = bucketEdges(boundsMs);
  const bound = report.gate.latencyP99Ms;
  const domainValues = [
    edges[0],
    edges[edges.length - 1],
    l.p50Ms,
    l.p99Ms,
    ...(bound === undefined ? [] : [bound]),
  ].filter((v) => v > 0 && Number.isFinite(v));
  let lo = Math.min(...domainValues) / 1.15;
  let hi = Math.max(...domainValues) * 1.15;
  if (!(hi > lo)) [lo, hi] = [1, 10];
  const sx = (v: number) =>
    f.left +
    ((Math.log(Math.max(v, lo)) - Math.log(lo)) / (Math.log(hi) - Math.log(lo))) * (f.right - f.left);
  const maxCount = Math.max(...counts, 1);
  const yTicks = niceTicks(0, Math.max(maxCount, 5), 5); // at least 5 so count ticks are whole numbers
  const yMax = yTicks[yTicks.length - 1];
  const sy = (v: number) => f.bottom - (v / yMax) * (f.bottom - f.top);

  parts.push(yAxis(f, yTicks, sy, (v) => formatCount(v), 'requests'));
  const bars = counts.map((count, i) => {
    if (count === 0) return '';
    const x0 = sx(edges[i]);
    const x1 = sx(edges[i + 1]);
    const width = Math.max(1, x1 - x0 - 1);
    return `<rect x="${r(x0 + 0.5)}" y="${r(sy(count))}" width="${r(width)}" height="${r(f.bottom - sy(count))}" fill="${COLOR.bar}"><title>${escapeXml(
      `${formatNumber(edges[i])}–${formatNumber(edges[i + 1])} ms: ${formatCount(count)} requests`,
    )}</title></rect>`;
  });
  parts.push(`<g class="histogram">${bars.filter((b) => b !== '').join('')}</g>`);
  parts.push(
    xAxis(
      f,
      logTicks(lo, hi).map((v) => ({ at: sx(v), label: formatNumber(v) })),
      'latency (ms, log scale)',
    ),
  );

  const markers: { value: number; label: string; color: string; dash: string }[] = [
    { value: l.p50Ms, label: `p50 ${formatNumber(l.p50Ms)} ms`, color: COLOR.p50, dash: '5 3' },
    { value: l.p99Ms, label: `p99 ${formatNumber(l.p99Ms)} ms`, color: COLOR.p99, dash: '5 3' },
  ];
  if (bound !== undefined) {
    markers.push({
      value: bound,
      label: `latencyP99Ms ${formatNumber(bound, 6)} ms`,
      color: COLOR.bound,
      dash: '',
    });
  }
  // Lines first, then their labels (one row each, so they never collide) on top with a halo.
  const labels: string[] = [];
  markers.forEach((marker, row) => {
    const x = sx(marker.value);
    const labelY = f.top - 36 + row * 13;
    const anchor = x > (f.left + f.right) / 2 ? 'end' : 'start';
    const dash = marker.dash === '' ? '' : ` stroke-dasharray="${marker.dash}"`;
    parts.push(
      `<line class="marker" x1="${r(x)}" y1="${r(labelY + 3)}" x2="${r(x)}" y2="${f.bottom}" stroke="${marker.color}" stroke-width="${marker.dash === '' ? 2 : 1.5}"${dash}/>`,
    );
    labels.push(
      text(anchor === 'end' ? x - 4 : x + 4, labelY, marker.label, {
        size: 11,
        fill: marker.color,
        anchor,
        weight: 'bold',
        halo: true,
      }),
    );
  });
  parts.push(...labels);
  return parts.join('\n');
}

function throughputPanel(report: GateReport, f: Frame): string {
  const m = report.measurements;
  const t = m.throughput;
  const chosen = chosenBatchSetting(m);
  const parts: string[] = [
    text(f.left - 64, 90, `Throughput at p99 ≤ ${formatNumber(t.latencyBoundMs, 6)} ms`, {
      size: 15,
      weight: 'bold',
    }),
    text(
      f.left - 64,
      108,
      t.generatorBound
        ? `open loop · per replica ≥ ${formatNumber(t.rps)} rps (generator-bound)`
        : `open loop, Poisson arrivals · per replica ${formatNumber(t.rps)} rps`,
      { size: 12, fill: COLOR.muted },
    ),
  ];
  const settings = [...t.settings].sort(
    (a, b) => a.maxBatchSize - b.maxBatchSize || a.maxQueueDelayMs - b.maxQueueDelayMs,
  );
  if (settings.length === 0) return [...parts, noData(f, 'no batch setting measured')].join('\n');

  const minRps = report.gate.minThroughputRps;
  const top = Math.max(...settings.map((s) => Math.max(s.rps, s.capacityRps)), minRps ?? 0, 1);
  const yTicks = niceTicks(0, top * 1.12, 5);
  const yMax = yTicks[yTicks.length - 1];
  const sy = (v: number) => f.bottom - (Math.max(0, v) / yMax) * (f.bottom - f.top);
  parts.push(yAxis(f, yTicks, sy, (v) => formatNumber(v), 'requests / s'));

  const delays = new Set(settings.map((s) => s.maxQueueDelayMs));
  const band = (f.right - f.left) / settings.length;
  const barWidth = Math.min(56, band * 0.66);
  const labelSize = band < 34 ? 9 : 11;
  const ticks: { at: number; label: string }[] = [];
  const bars: string[] = [];
  const labels: string[] = [];
  settings.forEach((s, i) => {
    const cx = f.left + band * (i + 0.5);
    const isChosen = s === chosen;
    ticks.push({ at: cx, label: settingLabel(s, delays.size > 1) });
    const fill = isChosen ? COLOR.chosen : s.stable ? COLOR.bar : COLOR.barMuted;
    const name = `max batch ${s.maxBatchSize}, queue delay ${formatNumber(s.maxQueueDelayMs)} ms`;
    const held = s.decision === 'within' && s.rps > 0;
    const capacityY = sy(s.capacityRps);
    // The saturated capacity behind, the rate held at the bound in front.
    bars.push(
      `<rect class="capacity" x="${r(cx - barWidth / 2)}" y="${r(capacityY)}" width="${r(barWidth)}" height="${r(f.bottom - capacityY)}" fill="${COLOR.capacity}" stroke="${COLOR.axis}" stroke-width="1" stroke-dasharray="3 2"><title>${escapeXml(
        `${name}: saturated capacity ${formatNumber(s.capacityRps)} rps${held ? '' : s.decision === 'not searched' ? ` (${s.detail ?? s.decision})` : `, no rate held within the bound (${s.detail ?? s.decision})`}`,
      )}</title></rect>`,
    );
    const y = held ? sy(s.rps) : f.bottom;
    const atLeast = isChosen && t.generatorBound ? '≥ ' : '';
    if (held) {
      const upper = s.p99UpperMs !== undefined ? `, ≤ ${formatNumber(s.p99UpperMs)} ms with confidence` : '';
      bars.push(
        `<rect class="${isChosen ? 'bar chosen' : 'bar'}" x="${r(cx - barWidth / 2)}" y="${r(y)}" width="${r(barWidth)}" height="${r(f.bottom - y)}" fill="${fill}"><title>${escapeXml(
          `${name}: ${atLeast}${formatNumber(s.rps)} rps held at p99 ${formatNumber(s.p99Ms)} ms${upper} (${formatCount(s.samples)} samples, ${s.stable ? 'no drift' : 'drifting'}; saturated ${formatNumber(s.capacityRps)} rps)`,
        )}</title></rect>`,
      );
    }
    labels.push(
      text(
        cx,
        y - 5,
        held ? `${atLeast}${formatNumber(s.rps)}` : s.decision === 'not searched' ? 'probed' : 'none held',
        {
          size: labelSize,
          anchor: 'middle',
          weight: isChosen ? 'bold' : 'normal',
          fill: isChosen ? COLOR.text : COLOR.muted,
          halo: true,
        },
      ),
    );
    if (isChosen) {
      labels.push(
        text(cx, y - 8 - labelSize, 'chosen', {
          size: labelSize,
          anchor: 'middle',
          fill: COLOR.chosen,
          weight: 'bold',
          halo: true,
        }),
      );
    }
  });
  parts.push(`<g class="throughput">${bars.join('')}</g>`);
  parts.push(
    xAxis(f, ticks, delays.size > 1 ? 'max batch size / max queue delay (ms)' : 'max batch size', labelSize),
  );
  const legend: LegendItem[] = [];
  if (chosen) legend.push({ kind: 'box', color: COLOR.chosen, label: 'chosen' });
  legend.push({ kind: 'box', color: COLOR.capacity, label: 'saturated rps', stroke: COLOR.axis });
  if (minRps !== undefined) {
    const y = r(sy(minRps));
    parts.push(
      `<line class="min-throughput" x1="${f.left}" y1="${y}" x2="${f.right}" y2="${y}" stroke="${COLOR.bound}" stroke-width="1.5" stroke-dasharray="6 3"/>`,
    );
    legend.push({ kind: 'dash', color: COLOR.bound, label: `minThroughputRps ${formatNumber(minRps, 6)}` });
  }
  if (settings.some((s) => !s.stable && s.decision === 'within' && s.rps > 0 && s !== chosen)) {
    legend.push({ kind: 'box', color: COLOR.barMuted, label: 'drifting' });
  }
  parts.push(...labels, renderLegend(f.left - 64, f.bottom + 58, legend));
  return parts.join('\n');
}

interface LegendItem {
  readonly kind: 'box' | 'dash';
  readonly color: string;
  readonly label: string;
  /** Outline of a box swatch (for a pale fill). */
  readonly stroke?: string;
}

/** A one-line legend: swatches (a box or a dashed line) and their labels, left to right from x. */
function renderLegend(x: number, y: number, items: readonly LegendItem[]): string {
  const parts: string[] = [];
  let at = x;
  for (const item of items) {
    parts.push(
      item.kind === 'box'
        ? `<rect x="${r(at)}" y="${r(y - 9)}" width="10" height="10" fill="${item.color}"${item.stroke === undefined ? '' : ` stroke="${item.stroke}" stroke-width="1"`}/>`
        : `<line x1="${r(at)}" y1="${r(y - 4)}" x2="${r(at + 16)}" y2="${r(y - 4)}" stroke="${item.color}" stroke-width="1.5" stroke-dasharray="6 3"/>`,
    );
    const swatch = item.kind === 'box' ? 14 : 20;
    parts.push(text(at + swatch, y, item.label, { size: 11, fill: COLOR.muted }));
    at += swatch + estimateWidth(item.label, 11, false) + 18;
  }
  return `<g class="legend">${parts.join('')}</g>`;
}

function settingLabel(s: BatchSettingResult, withDelay: boolean): string {
  return withDelay ? `${s.maxBatchSize} / ${formatNumber(s.maxQueueDelayMs)}` : String(s.maxBatchSize);
}

/** Lower and upper edge of each log-spaced bucket: the first lower edge continues the ratio. */
function bucketEdges(boundsMs: readonly number[]): number[] {
  const first = boundsMs[0];
  const ratio = boundsMs.length > 1 && boundsMs[0] > 0 ? boundsMs[1] / boundsMs[0] : 1.5;
  return [first > 0 ? first / ratio : 0, ...boundsMs];
}

function yAxis(
  f: Frame,
  ticks: readonly number[],
  sy: (v: number) => number,
  label: (v: number) => string,
  title: string,
): string {
  const lines = ticks.map((v) => {
    const y = r(sy(v));
    return [
      `<line x1="${f.left}" y1="${y}" x2="${f.right}" y2="${y}" stroke="${v === 0 ? COLOR.axis : COLOR.grid}" stroke-width="1"/>`,
      text(f.left - 6, sy(v) + 4, label(v), { size: 11, anchor: 'end', fill: COLOR.muted }),
    ].join('\n');
  });
  const cy = (f.top + f.bottom) / 2;
  // Clear of the widest tick label (about 6.5 px a character at 11 px).
  const widest = Math.max(0, ...ticks.map((v) => label(v).length));
  const x = r(f.left - 16 - widest * 6.5);
  return [
    `<g class="y-axis">`,
    ...lines,
    `<text x="${x}" y="${r(cy)}" font-size="11" fill="${COLOR.muted}" text-anchor="middle" transform="rotate(-90 ${x} ${r(cy)})">${escapeXml(title)}</text>`,
    `</g>`,
  ].join('\n');
}

function xAxis(f: Frame, ticks: readonly { at: number; label: string }[], title: string, size = 11): string {
  const marks = ticks.map(({ at, label }) =>
    [
      `<line x1="${r(at)}" y1="${f.bottom}" x2="${r(at)}" y2="${f.bottom + 4}" stroke="${COLOR.axis}"/>`,
      text(at, f.bottom + 17, label, { size, anchor: 'middle', fill: COLOR.muted }),
    ].join('\n'),
  );
  return [
    `<g class="x-axis">`,
    `<line x1="${f.left}" y1="${f.bottom}" x2="${f.right}" y2="${f.bottom}" stroke="${COLOR.axis}"/>`,
    ...marks,
    text((f.left + f.right) / 2, f.bottom + 36, title, { size: 11, anchor: 'middle', fill: COLOR.muted }),
    `</g>`,
  ].join('\n');
}

function noData(f: Frame, message: string): string {
  return text((f.left + f.right) / 2, (f.top + f.bottom) / 2, message, {
    size: 13,
    anchor: 'middle',
    fill: COLOR.muted,
  });
}

interface TextStyle {
  readonly size: number;
  readonly fill?: string;
  readonly anchor?: 'start' | 'middle' | 'end';
  readonly weight?: 'bold' | 'normal';
  /** Draw a white outline under the glyphs so the text stays readable over lines and bars. */
  readonly halo?: boolean;
}

function text(x: number, y: number, content: string, style: TextStyle): string {
  const anchor = style.anchor && style.anchor !== 'start' ? ` text-anchor="${style.anchor}"` : '';
  const weight = style.weight === 'bold' ? ' font-weight="bold"' : '';
  const halo = style.halo
    ? ' stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"'
    : '';
  return `<text x="${r(x)}" y="${r(y)}" font-size="${style.size}" fill="${style.fill ?? COLOR.text}"${anchor}${weight}${halo}>${escapeXml(content)}</text>`;
}

/** Rounds a coordinate to 0.1 px. */
function r(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

/** A rough width of text in px (average glyph widths of Helvetica), for placing things after it. */
function estimateWidth(value: string, size: number, bold: boolean): number {
  return value.length * size * (bold ? 0.68 : 0.6);
}

/** Round tick values from `min` to at least `max`, about `count` of them (1, 2, 2.5, 5 × 10^k steps). */
export function niceTicks(min: number, max: number, count: number): number[] {
  const span = max - min;
  if (!(span > 0)) return [min, min + 1];
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((s) => s * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  const first = Math.floor(min / step) * step;
  for (let v = first; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/**
 * Tick values for a log axis from lo to hi: decades when there are many, else the sparsest of 1-2-5,
 * 1-2-3-5-7 and 1-1.5-2-3-4-5-7 per decade that gives at least 4 ticks, else linear steps.
 */
export function logTicks(lo: number, hi: number): number[] {
  const within = (mults: readonly number[]) => {
    const ticks: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const mult of mults) {
        const v = Number((mult * 10 ** e).toPrecision(12));
        if (v >= lo && v <= hi) ticks.push(v);
      }
    }
    return ticks;
  };
  const candidates = [
    [1, 2, 5],
    [1, 2, 3, 5, 7],
    [1, 1.5, 2, 3, 4, 5, 7],
  ].map(within);
  if (candidates[0].length > 8) return within([1]);
  const fit = candidates.find((ticks) => ticks.length >= 4 && ticks.length <= 9);
  if (fit) return fit;
  return niceTicks(lo, hi, 4).filter((v) => v >= lo && v <= hi && v > 0);
}
