/**
 * The gate's judgement: one verdict per declared threshold, with the message a user reads when synth
 * fails, and the informative grades. Pure functions of the resolved spec and the measurements.
 *
 * A message names the metric, the measured value, the comparison, the prop and its limit, the context
 * it was measured in and what to change:
 * `latency p99 31.2 ms > latencyP99Ms 25 (at the operating rate 1,400 rps, >= 29.8 ms with 95% confidence from 4,812 samples; 1 CPU, onnxruntime 1.30.0, CPU held by a CFS quota); raise resources.cpu or relax latencyP99Ms`.
 */
import path from 'node:path';
import { formatCount, formatNumber, type GateSpec, PROVIDER_LABELS } from '../core';

// Formatted alike everywhere (lib/core/format-number); the reports import them from here too.
export { formatCount, formatNumber } from '../core';
import { type Decision, decideBounds } from './confidence';
import {
  type BatchSettingResult,
  type GateMeasurements,
  type Grade,
  type PercentileBounds,
  type Verdict,
} from './gate-report';

const MIB = 2 ** 20;

/** Grade of a p99 latency: excellent < 50 ms, good < 100 ms, pass < 200 ms, else fail. */
export function gradeLatency(p99Ms: number): Grade {
  if (p99Ms < 50) return 'excellent';
  if (p99Ms < 100) return 'good';
  if (p99Ms < 200) return 'pass';
  return 'fail';
}

/** Grade of a per-replica throughput: excellent > 1000 rps, good > 500, pass > 100, else fail. */
export function gradeThroughput(rps: number): Grade {
  if (rps > 1000) return 'excellent';
  if (rps > 500) return 'good';
  if (rps > 100) return 'pass';
  return 'fail';
}

/** Grade of an accuracy (a fraction from 0 to 1): excellent > 0.95, good > 0.90, pass > 0.85, else fail. */
export function gradeAccuracy(fraction: number): Grade {
  if (fraction > 0.95) return 'excellent';
  if (fraction > 0.9) return 'good';
  if (fraction > 0.85) return 'pass';
  return 'fail';
}

/**
 * Judges the measurements against every threshold the spec declares, in a fixed order: latencyP50Ms,
 * latencyP95Ms, latencyP99Ms, minThroughputRps, accuracy.min, accuracy.max, parity, maxMemoryMb,
 * maxColdStartMs, maxModelSizeMb. Thresholds not declared give no verdict. Latency and throughput
 * are decided with confidence: a threshold the samples could not decide fails as not shown; drift
 * between windows is reported, never a verdict. A NaN measurement fails.
 */
export function checkGate(spec: GateSpec, m: GateMeasurements): Verdict[] {
  const verdicts: Verdict[] = [];
  const latencyLimits = [
    ['latencyP50Ms', 'p50', spec.latencyP50Ms],
    ['latencyP95Ms', 'p95', spec.latencyP95Ms],
    ['latencyP99Ms', 'p99', spec.latencyP99Ms],
  ] as const;
  for (const [prop, name, limit] of latencyLimits) {
    if (limit !== undefined) verdicts.push(latencyVerdict(prop, name, limit, m));
  }
  if (spec.latencyP99Ms !== undefined) verdicts.push(loneRequestVerdict(spec.latencyP99Ms, m));
  if (spec.minThroughputRps !== undefined) verdicts.push(throughputVerdict(spec, spec.minThroughputRps, m));
  if (spec.accuracy?.min !== undefined) verdicts.push(accuracyVerdict(spec, 'min', spec.accuracy.min, m));
  if (spec.accuracy?.max !== undefined) verdicts.push(accuracyVerdict(spec, 'max', spec.accuracy.max, m));
  if (spec.parity) verdicts.push(parityVerdict(spec.parity, m));
  if (spec.maxMemoryMb !== undefined) {
    verdicts.push(
      judge({
        threshold: 'maxMemoryMb',
        metric: 'peak memory',
        measured: m.peakRssBytes / MIB,
        limit: spec.maxMemoryMb,
        unit: 'MiB',
        bound: 'max',
        context: `peak memory of the server process, ${runtimeContext(m)}`,
        fix: 'use a smaller or quantized model or raise maxMemoryMb (and resources.memory with it)',
      }),
    );
  }
  if (spec.maxColdStartMs !== undefined) {
    // What a pod pays: the server process from its start to its first ready answer.
    const { sessionCreateMs, firstInferenceMs, processReadyMs } = m.coldStart;
    verdicts.push(
      judge({
        threshold: 'maxColdStartMs',
        metric: 'cold start',
        measured: processReadyMs,
        limit: spec.maxColdStartMs,
        unit: 'ms',
        bound: 'max',
        context: `the server process from start to ready, of which the session's creation took ${formatNumber(sessionCreateMs)} ms and a first inference ${formatNumber(firstInferenceMs)} ms in process; ${runtimeContext(m)}, ${enforcementText(m)}`,
        fix: 'use a smaller model, raise resources.cpu or relax maxColdStartMs',
      }),
    );
  }
  if (spec.maxModelSizeMb !== undefined) {
    verdicts.push(
      judge({
        threshold: 'maxModelSizeMb',
        metric: 'model size',
        measured: m.modelSizeBytes / MIB,
        limit: spec.maxModelSizeMb,
        unit: 'MiB',
        bound: 'max',
        context: `${formatCount(m.modelSizeBytes)} bytes`,
        fix: 'shrink the model (quantize or prune it) or raise maxModelSizeMb',
      }),
    );
  }
  return verdicts;
}

/**
 * The error message of a failed gate: the construct path, then every failed verdict's message, the
 * first on the `gate failed:` line and the others indented below it:
 * `[prod/iris] gate failed: latency p99 … \n  throughput …`. With no failed verdict: `[path] gate passed`.
 */
export function formatGateFailure(constructPath: string, verdicts: readonly Verdict[]): string {
  const failed = verdicts.filter((v) => !v.pass).map((v) => v.message);
  if (failed.length === 0) return `[${constructPath}] gate passed`;
  return `[${constructPath}] gate failed: ${failed.join('\n  ')}`;
}

/**
 * A CPU limit in millicores as the messages write it: `1 CPU`, `1.5 CPU`, `500m CPU`.
 */
export function formatCpuLimit(millis: number): string {
  if (!Number.isFinite(millis) || millis <= 0) return `${String(millis)}m CPU`;
  if (millis % 1000 === 0 || millis > 1000) return `${Number((millis / 1000).toFixed(3))} CPU`;
  return `${millis}m CPU`;
}

/**
 * Formats a measured value and its limit, adding digits to the measured value until the two read
 * differently when they differ (so a failure never reads `25 > 25`).
 */
function formatAgainst(measured: number, limit: number): [string, string] {
  const limitText = formatNumber(limit, 6);
  let measuredText = formatNumber(measured);
  for (let digits = 4; measured !== limit && measuredText === limitText && digits <= 12; digits++) {
    measuredText = formatNumber(measured, digits);
  }
  return [measuredText, limitText];
}

interface Judgement {
  readonly threshold: string;
  readonly metric: string;
  readonly measured: number;
  readonly limit: number;
  readonly unit: string;
  /** `max`: passes when measured <= limit; `min`: when measured >= limit. */
  readonly bound: 'max' | 'min';
  readonly context: string;
  readonly fix: string;
  /** Text after the limit, before the context (`at p99 <= 25 ms`). */
  readonly qualifier?: string;
}

/** Turns a comparison into a verdict with its message. */
function judge(j: Judgement): Verdict {
  const within = j.bound === 'max' ? j.measured <= j.limit : j.measured >= j.limit;
  const pass = within;
  const op = j.bound === 'max' ? (within ? '<=' : '>') : within ? '>=' : '<';
  const [measured, limit] = formatAgainst(j.measured, j.limit);
  const unit = j.unit === '' ? '' : ` ${j.unit}`;
  const qualifier = j.qualifier === undefined ? '' : ` ${j.qualifier}`;
  const statement = `${j.metric} ${measured}${unit} ${op} ${j.threshold} ${limit}${qualifier} (${j.context})`;
  const message = pass ? statement : `${statement}; ${j.fix}`;
  return {
    threshold: j.threshold,
    metric: j.metric,
    measured: j.measured,
    limit: j.limit,
    unit: j.unit,
    pass,
    message,
  };
}

/** `1 CPU, onnxruntime 1.30.0`, and on a GPU `, NVIDIA A10G (driver 550.127.05, CUDA)`. */
function runtimeContext(m: GateMeasurements): string {
  const gpu = m.environment.gpu;
  const onGpu = gpu ? `, ${gpu.product} (driver ${gpu.driverVersion}, ${PROVIDER_LABELS[gpu.provider]})` : '';
  return `${formatCpuLimit(m.environment.cpuLimitMillis)}, onnxruntime ${m.environment.onnxruntimeVersion}${onGpu}`;
}

/** `>= 29.8 ms and <= 31.4 ms`, or `no bound yet`: what the samples show of a percentile. */
function shownBounds(b: PercentileBounds): string {
  const parts = [
    ...(b.lowerMs !== undefined ? [`>= ${formatNumber(b.lowerMs)} ms`] : []),
    ...(b.upperMs !== undefined ? [`<= ${formatNumber(b.upperMs)} ms`] : []),
  ];
  return parts.length > 0 ? parts.join(' and ') : 'no bound yet';
}

/** `>= 29.8 ms with 95% confidence from 4,812 samples`. */
function boundsText(b: PercentileBounds, confidence: number): string {
  return `${shownBounds(b)} with ${formatNumber(confidence * 100)}% confidence from ${formatCount(b.samples)} samples`;
}

/**
 * A latency threshold judged at the planned operating rate with confidence: it passes when the
 * percentile's upper bound is within the limit, fails when its lower bound is beyond it, and fails
 * as not shown when the samples could decide neither.
 */
function latencyVerdict(
  prop: string,
  name: 'p50' | 'p95' | 'p99',
  limit: number,
  m: GateMeasurements,
): Verdict {
  const { latency } = m;
  const b = latency.bounds[name];
  const decision = decideBounds(b, limit);
  // Undecided, the statement already says the confidence and the samples; the context gives the bounds.
  const shown =
    decision === 'undecided' ? `bounds so far ${shownBounds(b)}` : boundsText(b, latency.confidence);
  const context = `at the operating rate ${formatNumber(latency.rateRps)} rps, ${shown}; ${runtimeContext(m)}, ${enforcementText(m)}`;
  return decidedVerdict({
    threshold: prop,
    metric: `latency ${name}`,
    measured: b.estimateMs,
    limit,
    decision,
    samples: b.samples,
    confidence: latency.confidence,
    context,
    fix: `raise resources.cpu or relax ${prop}`,
  });
}

/**
 * A lone request's p99 against latencyP99Ms: a quiet service answers a request alone, after the
 * batch's queue delay; when that alone breaks the bound (shown with confidence), the gate fails.
 */
function loneRequestVerdict(limit: number, m: GateMeasurements): Verdict {
  const b = m.loneLatency.p99;
  const beyond = b.lowerMs !== undefined && b.lowerMs > limit;
  const delay = m.servingConfig.maxQueueDelayMs;
  const context = `one request at a time, queue delay ${formatNumber(delay)} ms included, ${boundsText(b, m.latency.confidence)}; ${runtimeContext(m)}`;
  const verdict = decidedVerdict({
    threshold: 'latencyP99Ms',
    metric: 'lone-request latency p99',
    measured: b.estimateMs,
    limit,
    decision: beyond ? 'beyond' : 'within',
    samples: b.samples,
    confidence: m.latency.confidence,
    context,
    fix:
      delay > 0
        ? 'a request alone may wait out the queue delay: lower gate.maxBatchSize, raise resources.cpu or relax latencyP99Ms'
        : 'raise resources.cpu or relax latencyP99Ms',
  });
  if (beyond || b.estimateMs <= limit) return verdict;
  // Over the limit by its estimate, not shown beyond it: it passes (only the operating rate must be
  // shown within), and says so rather than printing `<=` over a larger number.
  const [measured, limitText] = formatAgainst(b.estimateMs, limit);
  return {
    ...verdict,
    message: `lone-request latency p99 ${measured} ms, above latencyP99Ms ${limitText} but not shown beyond it (${context}); a lone request fails the gate only when shown beyond the bound`,
  };
}

/** `CPU held by a CFS quota`. */
function enforcementText(m: GateMeasurements): string {
  const e = m.environment.enforcement;
  return e.cpu === 'quota'
    ? 'CPU held by a CFS quota'
    : e.cpu === 'affinity'
      ? 'CPU held by affinity to whole cores'
      : 'CPU not held to the limit';
}

interface DecidedJudgement {
  readonly threshold: string;
  readonly metric: string;
  readonly measured: number;
  readonly limit: number;
  readonly decision: Decision;
  readonly samples: number;
  readonly confidence: number;
  readonly context: string;
  readonly fix: string;
}

/** A verdict from a decision with confidence: a failure never reads like a pass. */
function decidedVerdict(j: DecidedJudgement): Verdict {
  const [measured, limit] = formatAgainst(j.measured, j.limit);
  const pass = j.decision === 'within';
  let message: string;
  if (j.decision === 'within') {
    message = `${j.metric} ${measured} ms <= ${j.threshold} ${limit} (${j.context})`;
  } else if (j.decision === 'beyond') {
    message = `${j.metric} ${measured} ms > ${j.threshold} ${limit} (${j.context}); ${j.fix}`;
  } else {
    message =
      `${j.metric} ${measured} ms, not shown within ${j.threshold} ${limit} with ${formatNumber(j.confidence * 100)}% confidence ` +
      `after ${formatCount(j.samples)} samples (${j.context}): raise gate.budgetSeconds so the gate can take more samples; if it then fails, ${j.fix}`;
  }
  return {
    threshold: j.threshold,
    metric: j.metric,
    measured: j.measured,
    limit: j.limit,
    unit: 'ms',
    pass,
    message,
  };
}

/**
 * The batch setting the throughput figure comes from: the one the serving config uses, else the
 * fastest. Undefined when no setting was measured.
 */
export function chosenBatchSetting(m: GateMeasurements): BatchSettingResult | undefined {
  const { settings } = m.throughput;
  const serving = settings.find(
    (s) =>
      s.maxBatchSize === m.servingConfig.maxBatchSize &&
      s.maxQueueDelayMs === m.servingConfig.maxQueueDelayMs,
  );
  if (serving) return serving;
  return settings.reduce<BatchSettingResult | undefined>(
    (best, s) => (!best || s.rps > best.rps ? s : best),
    undefined,
  );
}

/**
 * Throughput at the bound against minThroughputRps: the rate the search showed within the bound
 * with confidence. A rate below the minimum fails; no rate shown at all fails as not shown.
 */
function throughputVerdict(spec: GateSpec, limit: number, m: GateMeasurements): Verdict {
  const chosen = chosenBatchSetting(m);
  const samples = chosen?.samples ?? 0;
  const { throughput } = m;
  const batch = chosen
    ? `max batch ${chosen.maxBatchSize}, queue delay ${formatNumber(chosen.maxQueueDelayMs)} ms, `
    : '';
  const generator = throughput.generatorBound
    ? ', bound by the load generator: the server may serve more'
    : '';
  const shown = throughput.rps > 0 && throughput.decision === 'within';
  const verdict = judge({
    threshold: 'minThroughputRps',
    metric: 'throughput',
    measured: throughput.rps,
    limit,
    unit: 'rps',
    bound: 'min',
    qualifier: `at p99 <= ${formatNumber(throughput.latencyBoundMs, 6)} ms`,
    context: `served over HTTP, ${runtimeContext(m)}, ${enforcementText(m)}, ${batch}${formatCount(samples)} samples, p99 shown within the bound with ${formatNumber(m.latency.confidence * 100)}% confidence${generator}`,
    fix: throughputFix(spec, m),
  });
  if (shown || throughput.rps > 0) return verdict;
  const why = chosen?.detail ?? 'no rate was tried';
  const bound = `p99 <= ${formatNumber(throughput.latencyBoundMs, 6)} ms`;
  const statement = `throughput not shown at ${bound} with ${formatNumber(m.latency.confidence * 100)}% confidence (${why}; ${runtimeContext(m)})`;
  // More budget helps a rate the samples could not decide, not one shown beyond the bound, nor a
  // load generator that could not keep to its schedule.
  const message = chosen?.generatorBound
    ? `${statement}: the load generator fell behind its own schedule even at the lowest rate tried, so the server was not measured; run the gate where nothing else is using the CPUs (or on a machine with more cores than resources.cpu), or set MODELFAB_GATE=skip to skip it`
    : chosen?.decision === 'beyond'
      ? `${statement}: every rate tried was shown beyond the bound; ${throughputFix(spec, m)}`
      : `${statement}: raise gate.budgetSeconds so the gate can take more samples; if it then fails, ${throughputFix(spec, m)}`;
  return { ...verdict, pass: false, message };
}

/**
 * What raises throughput for this model: batching only when it can batch. A search that tried only
 * batch 1 although gate.maxBatchSize allowed more means the model has no batch dimension.
 */
function throughputFix(spec: GateSpec, m: GateMeasurements): string {
  const couldBatch = spec.maxBatchSize === 1 || m.throughput.settings.some((s) => s.maxBatchSize > 1);
  return couldBatch
    ? `raise resources.cpu, allow batching (gate.maxBatchSize, now ${spec.maxBatchSize}) or lower minThroughputRps`
    : 'raise resources.cpu or lower minThroughputRps (the model has no batch dimension, so batching cannot help)';
}

function accuracyVerdict(spec: GateSpec, side: 'min' | 'max', limit: number, m: GateMeasurements): Verdict {
  const declared = spec.accuracy!;
  const measuredAs = m.accuracy ?? { metric: declared.metric, k: declared.k };
  const metricName = measuredAs.metric === 'topk' ? `top${measuredAs.k ?? declared.k}` : measuredAs.metric;
  const metric = `accuracy (${metricName})`;
  const threshold = `accuracy.${side}`;
  if (!m.accuracy) {
    return {
      threshold,
      metric,
      measured: NaN,
      limit,
      unit: '',
      pass: false,
      message: `${metric} was not measured (no accuracy result from the benchmark for ${declared.dataset}); this is a modelfab bug, please report it`,
    };
  }
  const a = m.accuracy;
  const relax = side === 'min' ? 'lower accuracy.min' : 'raise accuracy.max';
  return judge({
    threshold,
    metric,
    measured: a.value,
    limit,
    unit: '',
    bound: side,
    context: `${formatCount(a.samples)} samples of ${path.basename(a.dataset)}, output ${JSON.stringify(a.output)}`,
    fix: `retrain or fix preprocessing, and check the dataset (${a.dataset}) matches the model's inputs and labels; or ${relax}`,
  });
}

function parityVerdict(parity: NonNullable<GateSpec['parity']>, m: GateMeasurements): Verdict {
  const tolerance = `atol ${formatNumber(parity.atol, 6)} + rtol ${formatNumber(parity.rtol, 6)} × |expected|`;
  const p = m.parity;
  if (!p) {
    return {
      threshold: 'parity',
      metric: 'parity',
      measured: NaN,
      limit: 0,
      unit: 'elements',
      pass: false,
      message: `parity was not measured (no parity result from the benchmark for ${parity.dataset}); this is a modelfab bug, please report it`,
    };
  }
  const pass = p.mismatches === 0;
  const statement =
    `parity ${formatCount(p.mismatches)} of ${formatCount(p.elements)} elements outside ${tolerance} ` +
    `(${formatCount(p.samples)} samples of ${path.basename(p.dataset)}, ${runtimeContext(m)}, ` +
    `max abs error ${formatNumber(p.maxAbsError)}, max rel error ${formatNumber(p.maxRelError)})`;
  let message = statement;
  if (!pass) {
    const worst = p.worst
      ? `; worst: line ${p.worst.line}, output ${JSON.stringify(p.worst.output)}[${p.worst.index}] is ${formatNumber(p.worst.actual, 9)}, expected ${formatNumber(p.worst.expected, 9)}`
      : '';
    message = `${statement}${worst}; check the export (opset, dtypes) and preprocessing match the training framework, or relax parity.atol/parity.rtol`;
  }
  return {
    threshold: 'parity',
    metric: 'parity',
    measured: p.mismatches,
    limit: 0,
    unit: 'elements',
    pass,
    message,
  };
}
