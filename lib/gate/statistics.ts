/**
 * Latency statistics of the quality gate: percentiles by nearest rank over every sample, per-window
 * figures, the stability verdict over the last windows and the log-spaced histogram for the chart.
 * Pure functions of numbers.
 */
import { type LatencyStats, type Stability, type WindowStats } from './gate-report';

/**
 * The p-th percentile of ascending-sorted values by nearest rank: the value at 1-based rank
 * `ceil(p / 100 × n)` (so p100 is the maximum and p50 of `[1, 2]` is 1). Never interpolates.
 *
 * @param sortedAscending values sorted ascending (not checked; sort first)
 * @param p the percentile, in (0, 100]
 * @throws RangeError when there are no values or p is outside (0, 100]
 */
export function percentile(sortedAscending: ArrayLike<number>, p: number): number {
  const n = sortedAscending.length;
  if (n === 0) throw new RangeError(`cannot take percentile p${p} of no samples`);
  if (!Number.isFinite(p) || p <= 0 || p > 100) {
    throw new RangeError(`percentile must be in (0, 100], received ${p}`);
  }
  return sortedAscending[nearestRank(n, p) - 1];
}

/** 1-based nearest rank of the p-th percentile of n values, robust to floating-point noise in p × n / 100. */
function nearestRank(n: number, p: number): number {
  const exact = (p * n) / 100;
  const rounded = Math.round(exact);
  const rank = Math.abs(exact - rounded) <= 1e-9 * Math.max(1, exact) ? rounded : Math.ceil(exact);
  return Math.min(n, Math.max(1, rank));
}

/** Copies and sorts samples ascending, rejecting values that are not finite non-negative numbers. */
function sortedCopy(samplesMs: ArrayLike<number>): Float64Array {
  const sorted = Float64Array.from(samplesMs);
  for (let i = 0; i < sorted.length; i++) {
    const value = sorted[i];
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`latency sample ${i} must be a finite number of ms >= 0, received ${value}`);
    }
  }
  return sorted.sort();
}

/**
 * Percentiles (p50, p90, p95, p99 by nearest rank), maximum and mean of latency samples. Sorts a copy
 * once; the input is left as it is and need not be sorted.
 *
 * @throws RangeError when there are no samples or a sample is not a finite number >= 0
 */
export function latencyStats(samplesMs: ArrayLike<number>): LatencyStats {
  const sorted = sortedCopy(samplesMs);
  if (sorted.length === 0) throw new RangeError('cannot compute latency statistics of no samples');
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    samples: sorted.length,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1],
    meanMs: sum / sorted.length,
  };
}

/**
 * Figures of one measurement window: sample count, p50, p99 and completed requests per second.
 * A window in which nothing completed has 0 samples, 0 rps and percentiles of 0 (and makes
 * {@link stability} report the run unstable).
 *
 * @param samplesMs latencies of the requests that completed in the window
 * @param windowSeconds the window's length
 * @throws RangeError when windowSeconds is not a positive number
 */
export function windowStats(samplesMs: ArrayLike<number>, windowSeconds: number): WindowStats {
  if (!Number.isFinite(windowSeconds) || windowSeconds <= 0) {
    throw new RangeError(`window length must be a positive number of seconds, received ${windowSeconds}`);
  }
  const sorted = sortedCopy(samplesMs);
  if (sorted.length === 0) return { samples: 0, p50Ms: 0, p99Ms: 0, rps: 0 };
  return {
    samples: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    rps: sorted.length / windowSeconds,
  };
}

/** Options of {@link stability}. */
export interface StabilityOptions {
  /**
   * How many of the last windows must agree.
   * @default 3
   */
  readonly compare?: number;
  /**
   * Largest relative spread, (max − min) / median, allowed on p50 and on throughput.
   * @default 0.10
   */
  readonly tolerance?: number;
  /**
   * What must agree. Closed-loop latency windows compare p50 and throughput. Open-loop windows at a
   * fixed offered rate compare served throughput only: their p50 is queueing delay, which swings
   * near the latency bound by design, and the bound itself is checked on each window's p99.
   * @default 'p50-and-throughput'
   */
  readonly on?: 'p50-and-throughput' | 'throughput';
  /**
   * Absolute resolution, ms: windows whose p50 differ by at most this much, and whose time per
   * request (1 / throughput) differs by at most this much, agree even beyond `tolerance`. A machine
   * flips between fast and slow windows by microseconds (a bare session.run moves between 10 and
   * 15 µs here), which is 50% of a 10 µs model and nothing a user could act on.
   * @default 0
   */
  readonly resolutionMs?: number;
}

/**
 * Whether a measurement settled: the last `compare` windows agree within `tolerance` on p50 AND on
 * throughput, the spread of each being (max − min) / median over those windows. Fewer windows than
 * `compare`, or a window in which nothing completed, is unstable. `spread` is the larger of the two
 * spreads (over the windows there are, 0 when fewer than two).
 *
 * @throws RangeError when compare is not an integer >= 2 or tolerance is not a number >= 0
 */
export function stability(windows: readonly WindowStats[], options: StabilityOptions = {}): Stability {
  const compare = options.compare ?? 3;
  const tolerance = options.tolerance ?? 0.1;
  if (!Number.isInteger(compare) || compare < 2) {
    throw new RangeError(`stability must compare at least 2 windows, received ${compare}`);
  }
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new RangeError(`stability tolerance must be a number >= 0, received ${tolerance}`);
  }
  const last = windows.slice(-compare);
  const throughputOnly = options.on === 'throughput';
  const resolutionMs = options.resolutionMs ?? 0;
  const p50Spread = throughputOnly ? 0 : relativeSpread(last.map((w) => w.p50Ms));
  const rpsSpread = relativeSpread(last.map((w) => w.rps));
  const spread = Math.max(p50Spread, rpsSpread);
  const spreads = throughputOnly
    ? `throughput spread ${percent(rpsSpread)}`
    : `p50 spread ${percent(p50Spread)}, throughput spread ${percent(rpsSpread)}`;
  if (windows.length < compare) {
    const got = windows.length === 1 ? '1 measurement window' : `${windows.length} measurement windows`;
    return { stable: false, spread, detail: `only ${got}, ${compare} needed to judge stability` };
  }
  const empty = last.findIndex((w) => w.samples === 0);
  if (empty >= 0) {
    const index = windows.length - last.length + empty + 1;
    return { stable: false, spread, detail: `window ${index} of ${windows.length} completed no requests` };
  }
  const within = (s: number) => s <= tolerance + 1e-12;
  if (within(p50Spread) && within(rpsSpread)) {
    return {
      stable: true,
      spread,
      detail: `last ${compare} windows agree within ${percent(tolerance)}: ${spreads}`,
    };
  }
  const p50Range = throughputOnly ? 0 : absoluteRange(last.map((w) => w.p50Ms));
  const perRequestRange = absoluteRange(last.map((w) => (w.rps > 0 ? 1000 / w.rps : Infinity)));
  const close = (s: number, rangeMs: number) => within(s) || rangeMs <= resolutionMs + 1e-12;
  if (resolutionMs > 0 && close(p50Spread, p50Range) && close(rpsSpread, perRequestRange)) {
    return {
      stable: true,
      spread,
      detail: `last ${compare} windows agree within ${percent(tolerance)} or ${formatMicros(resolutionMs)}: ${spreads} (p50 range ${formatMicros(p50Range)}, time per request range ${formatMicros(perRequestRange)})`,
    };
  }
  return {
    stable: false,
    spread,
    detail: `last ${compare} windows disagree by more than ${percent(tolerance)}: ${spreads}`,
  };
}

/** (max − min) / median; 0 for fewer than two values; relative to max when the median is 0. */
function relativeSpread(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const min = sorted[0];
  const max = sorted[sorted.length - 1];
  if (max === min) return 0;
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return (max - min) / (median > 0 ? median : max);
}

/** max − min; 0 for fewer than two values. */
function absoluteRange(values: readonly number[]): number {
  return values.length < 2 ? 0 : Math.max(...values) - Math.min(...values);
}

/** 0.0123 ms → `12.3 µs`. */
function formatMicros(ms: number): string {
  return `${Number((ms * 1000).toFixed(1))} µs`;
}

/** 0.083 → `8.3%`. */
function percent(fraction: number): string {
  return `${Number((fraction * 100).toFixed(1))}%`;
}

/** A histogram: bucket upper bounds (ascending) and the count in each bucket. */
export interface Histogram {
  readonly boundsMs: number[];
  readonly counts: number[];
}

/**
 * A log-spaced histogram of latency samples for the chart. Bucket i covers (bounds[i−1], bounds[i]]
 * and the first bucket starts at the smallest sample, so the bounds run from min × r to exactly max
 * with a constant ratio r. Every sample is counted exactly once. When all samples are equal there is
 * one bucket; samples of 0 ms fall in the first bucket (the scale starts at the smallest positive
 * sample). No samples give an empty histogram.
 *
 * @param buckets the number of buckets
 * @throws RangeError when buckets is not a positive integer or a sample is not a finite number >= 0
 */
export function logHistogram(samplesMs: ArrayLike<number>, buckets = 24): Histogram {
  if (!Number.isInteger(buckets) || buckets < 1) {
    throw new RangeError(`histogram needs a positive integer number of buckets, received ${buckets}`);
  }
  const sorted = sortedCopy(samplesMs);
  if (sorted.length === 0) return { boundsMs: [], counts: [] };
  const max = sorted[sorted.length - 1];
  const lo = sorted.find((value) => value > 0);
  if (lo === undefined || lo === max) return { boundsMs: [max], counts: [sorted.length] };
  const logSpan = Math.log(max / lo);
  const boundsMs = Array.from({ length: buckets }, (_, i) =>
    i === buckets - 1 ? max : lo * Math.pow(max / lo, (i + 1) / buckets),
  );
  const counts = new Array<number>(buckets).fill(0);
  for (const value of sorted) {
    let index = value <= lo ? 0 : Math.ceil((Math.log(value / lo) / logSpan) * buckets) - 1;
    index = Math.min(buckets - 1, Math.max(0, index));
    // Correct floating-point drift so the sample lies in (bounds[index − 1], bounds[index]].
    while (index > 0 && value <= boundsMs[index - 1]) index--;
    while (index < buckets - 1 && value > boundsMs[index]) index++;
    counts[index]++;
  }
  return { boundsMs, counts };
}
