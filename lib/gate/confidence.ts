/**
 * Distribution-free confidence bounds of latency percentiles for the quality gate, from order
 * statistics: for continuous data the number of samples at or below the true p-th percentile is
 * Binomial(n, p / 100), so the k-th smallest sample lies at or above that percentile with probability
 * P(B ≤ k − 1). The binomial distribution is evaluated in log space, near its mean only, so that
 * ranks for millions of samples cost microseconds. Pure functions of numbers.
 */
import { type PercentileBounds } from './gate-report';
import { percentile } from './statistics';

/** One-sided bounds of the p-th percentile, each at `confidence`. */
export interface QuantileBounds {
  readonly samples: number;
  /** Nearest-rank estimate (same definition as statistics.ts `percentile`). */
  readonly estimate: number;
  /**
   * Value X_(l): the true percentile is >= it with probability >= confidence; undefined when there
   * are too few samples.
   */
  readonly lower?: number;
  /** 1-based rank l of `lower`. */
  readonly lowerRank?: number;
  /**
   * Value X_(u): the true percentile is <= it with probability >= confidence; undefined when there
   * are too few samples (see {@link samplesForUpperBound}).
   */
  readonly upper?: number;
  /** 1-based rank u of `upper`. */
  readonly upperRank?: number;
}

/** Verdict of {@link decideAtMost}. */
export type Decision = 'within' | 'beyond' | 'undecided';

/**
 * Relative slack with which a binomial probability counts as reaching its target. Round inputs meet
 * their targets exactly (P(B ≤ 0) = 0.05 for p95 and one sample) and rounding must not break such
 * ties; the slack lies well above the ~1e-13 error of {@link binomialCdf}.
 */
const TIE = 1e-9;

/** Stopping threshold of the tail sums: the neglected remainder is below this fraction of the sum. */
const SUM_EPSILON = 2 ** -56;

/**
 * One-sided confidence bounds of the p-th percentile from order statistics, with no assumption on
 * the distribution of the samples beyond continuity. With B ~ Binomial(n, p / 100):
 * the upper rank u is the smallest in 1..n with P(B ≤ u − 1) ≥ confidence, and the lower rank l the
 * largest in 1..n with P(B ≤ l − 1) ≤ 1 − confidence. A bound is left out when no rank qualifies:
 * the upper one below {@link samplesForUpperBound} samples, the lower one while
 * (1 − p / 100)^n > 1 − confidence. Probabilities within a relative 1e-9 of their target count as
 * reaching it, so exact ties resolve as these definitions say. Costs about √n operations.
 *
 * @param sortedAscending values sorted ascending (not checked; sort first)
 * @param p the percentile, in (0, 100)
 * @param confidence probability with which each bound holds, in (0, 1)
 * @throws RangeError when there are no values, p is outside (0, 100) or confidence is outside (0, 1)
 */
export function quantileBounds(
  sortedAscending: ArrayLike<number>,
  p: number,
  confidence = 0.95,
): QuantileBounds {
  const n = sortedAscending.length;
  checkPercentile(p);
  checkConfidence(confidence);
  if (n === 0) throw new RangeError(`cannot bound percentile p${p} of no samples`);
  const { lowerRank, upperRank } = quantileRanks(n, p, confidence);
  return {
    samples: n,
    estimate: percentile(sortedAscending, p),
    ...(lowerRank !== undefined ? { lower: sortedAscending[lowerRank - 1], lowerRank } : {}),
    ...(upperRank !== undefined ? { upper: sortedAscending[upperRank - 1], upperRank } : {}),
  };
}

/**
 * The 1-based ranks {@link quantileBounds} takes its bounds at, for `n` samples: each absent when no
 * rank qualifies. They depend on the count alone, not on the values.
 */
export function quantileRanks(
  n: number,
  p: number,
  confidence = 0.95,
): { readonly lowerRank?: number; readonly upperRank?: number } {
  checkPercentile(p);
  checkConfidence(confidence);
  if (n === 0) return {};
  const q = p / 100;
  // Smallest k in 0..n with P(B ≤ k) ≥ confidence; k = n means none below n, so no upper bound.
  const reach = confidence * (1 - TIE);
  const upperIndex = smallestReaching(n, q, (cdf) => cdf >= reach);
  // Smallest k with P(B ≤ k) > 1 − confidence; the largest with P(B ≤ k) ≤ 1 − confidence is k − 1.
  const exceed = (1 - confidence) * (1 + TIE);
  const lowerRank = smallestReaching(n, q, (cdf) => cdf > exceed);
  return {
    ...(lowerRank >= 1 ? { lowerRank } : {}),
    ...(upperIndex < n ? { upperRank: upperIndex + 1 } : {}),
  };
}

/** How many samples lie at or below a limit, of how many: what a decision needs of them. */
export interface CountAtOrBelow {
  readonly samples: number;
  readonly atOrBelow: number;
}

/**
 * {@link decideAtMost} without sorting: the verdict on the p-th percentile against `limit` from how
 * many samples lie at or below it. The u-th smallest sample is <= limit exactly when at least u
 * samples are, and the l-th is > limit exactly when fewer than l are; so this is the verdict of
 * `decideAtMost(quantileBounds(sorted, p, confidence), limit)`, in time independent of the values.
 * The lower bound may come from other samples than the upper one (`lowerFrom`), as where samples of
 * a higher load may only raise an upper bound.
 *
 * @param upperFrom the samples the upper bound is taken from
 * @param lowerFrom the samples the lower bound is taken from
 */
export function decideAtMostFromCounts(
  upperFrom: CountAtOrBelow,
  lowerFrom: CountAtOrBelow,
  p: number,
  confidence = 0.95,
): Decision {
  const { upperRank } = quantileRanks(upperFrom.samples, p, confidence);
  const { lowerRank } = quantileRanks(lowerFrom.samples, p, confidence);
  const within = upperRank !== undefined && upperFrom.atOrBelow >= upperRank;
  const beyond = lowerRank !== undefined && lowerFrom.atOrBelow < lowerRank;
  if (within === beyond) return 'undecided';
  return within ? 'within' : 'beyond';
}

/**
 * Whether a percentile meant as a maximum (a latency) stays at or below `limit`, each verdict at the
 * bounds' confidence: `within` when the upper bound is <= limit, `beyond` when the lower bound is
 * > limit, `undecided` when a needed bound is missing or the interval straddles the limit (and when
 * both hold, which bounds at a confidence below 0.5 can do).
 *
 * @param bounds bounds from {@link quantileBounds}
 * @param limit the largest acceptable value of the percentile
 * @throws RangeError when limit is NaN
 */
export function decideAtMost(bounds: QuantileBounds, limit: number): Decision {
  if (Number.isNaN(limit)) throw new RangeError(`limit must be a number, received ${limit}`);
  const within = bounds.upper !== undefined && bounds.upper <= limit;
  const beyond = bounds.lower !== undefined && bounds.lower > limit;
  if (within === beyond) return 'undecided';
  return within ? 'within' : 'beyond';
}

/**
 * The fewest samples for which {@link quantileBounds} has an upper bound: the smallest n with
 * 1 − (p / 100)^n ≥ confidence (the maximum of n samples then bounds the percentile). 299 for p99,
 * 59 for p95 and 5 for p50 at confidence 0.95.
 *
 * @param p the percentile, in (0, 100)
 * @param confidence probability with which the bound holds, in (0, 1)
 * @throws RangeError when p is outside (0, 100) or confidence is outside (0, 1)
 */
export function samplesForUpperBound(p: number, confidence = 0.95): number {
  checkPercentile(p);
  checkConfidence(confidence);
  const q = p / 100;
  const reach = confidence * (1 - TIE);
  // P(B ≤ n − 1) = 1 − qⁿ; start from the closed form and settle rounding with the same test as
  // quantileBounds, so both agree on every n.
  const hasUpper = (n: number) => binomialCdf(n - 1, n, q) >= reach;
  let n = Math.max(1, Math.ceil(Math.log1p(-confidence) / Math.log(q)));
  while (!hasUpper(n)) n++;
  while (n > 1 && hasUpper(n - 1)) n--;
  return n;
}

/**
 * P(B ≤ k) for B ~ Binomial(n, q), accurate to about 1e-13 relative. Sums probabilities outward
 * from k in log space over the tail that does not contain the mean (1 minus the other tail when k
 * is at or above the mean), stopping once the rest is negligible: about √(n q (1 − q)) terms, with
 * no underflow or overflow for any n. Results below ~1e-308 come out as 0.
 *
 * @param k the count; not an integer counts as its floor
 * @param n the number of trials, a non-negative integer
 * @param q the probability of each trial, in [0, 1]
 * @throws RangeError when k is NaN, n is not a non-negative integer or q is outside [0, 1]
 */
export function binomialCdf(k: number, n: number, q: number): number {
  if (Number.isNaN(k)) throw new RangeError(`binomial count must be a number, received ${k}`);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`binomial trials must be a non-negative integer, received ${n}`);
  }
  if (!(q >= 0 && q <= 1)) throw new RangeError(`binomial probability must be in [0, 1], received ${q}`);
  const count = Math.floor(k);
  if (count < 0) return 0;
  if (count >= n) return 1;
  if (q === 0) return 1;
  if (q === 1) return 0;
  return count < n * q ? lowerTail(count, n, q) : 1 - upperTail(count + 1, n, q);
}

/** P(B ≤ k) for 0 ≤ k < n q, summed downward from k while the terms shrink geometrically. */
function lowerTail(k: number, n: number, q: number): number {
  const odds = (1 - q) / q;
  let term = 1;
  let sum = 1;
  for (let j = k; j > 0; j--) {
    // pmf(j − 1) / pmf(j); it only falls as j falls, so the rest is at most term × ratio / (1 − ratio).
    const ratio = (j * odds) / (n - j + 1);
    term *= ratio;
    sum += term;
    if (term * ratio <= SUM_EPSILON * sum * (1 - ratio)) break;
  }
  return Math.exp(logBinomialPmf(k, n, q) + Math.log(sum));
}

/** P(B ≥ k) for n q < k ≤ n, summed upward from k while the terms shrink geometrically. */
function upperTail(k: number, n: number, q: number): number {
  const odds = q / (1 - q);
  let term = 1;
  let sum = 1;
  for (let j = k; j < n; j++) {
    // pmf(j + 1) / pmf(j); it only falls as j rises.
    const ratio = ((n - j) * odds) / (j + 1);
    term *= ratio;
    sum += term;
    if (term * ratio <= SUM_EPSILON * sum * (1 - ratio)) break;
  }
  return Math.exp(logBinomialPmf(k, n, q) + Math.log(sum));
}

/**
 * log P(B = k) for integers 0 ≤ k ≤ n and 0 < q < 1 in Loader's saddle-point form: Stirling-series
 * remainders plus deviances, with no cancellation between log-gammas (ln Γ(10⁷) ≈ 1.5e8 would leave
 * about 1e-8 of relative accuracy; this keeps ~1e-14).
 */
function logBinomialPmf(k: number, n: number, q: number): number {
  if (k === 0) return n * Math.log1p(-q);
  if (k === n) return n * Math.log(q);
  const m = n - k;
  return (
    stirlingRemainder(n) -
    stirlingRemainder(k) -
    stirlingRemainder(m) -
    deviance(k, n * q) -
    deviance(m, n * (1 - q)) +
    0.5 * Math.log(n / (2 * Math.PI * k * m))
  );
}

const HALF_LOG_TWO_PI = 0.5 * Math.log(2 * Math.PI);

/** ln(k!) for k = 0..15, from exact factorials (15! < 2^53). */
const LOG_FACTORIALS: readonly number[] = (() => {
  const out = [0];
  let factorial = 1;
  for (let k = 1; k <= 15; k++) {
    factorial *= k;
    out.push(Math.log(factorial));
  }
  return out;
})();

/**
 * ln(k!) − (k + ½) ln k + k − ½ ln 2π for an integer k ≥ 1: the error of Stirling's formula. From
 * exact factorials up to 15, above by its asymptotic series (the first neglected term is < 3e-16).
 */
function stirlingRemainder(k: number): number {
  if (k <= 15) return LOG_FACTORIALS[k] - (k + 0.5) * Math.log(k) + k - HALF_LOG_TWO_PI;
  const k2 = k * k;
  return (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - 1 / (1188 * k2)) / k2) / k2) / k2) / k;
}

/**
 * x ln(x / m) + m − x for x, m > 0, by a series in (x − m) / (x + m) when x is near m, where the
 * closed form cancels.
 */
function deviance(x: number, m: number): number {
  const diff = x - m;
  if (Math.abs(diff) >= 0.1 * (x + m)) return x * Math.log(x / m) + m - x;
  const v = diff / (x + m);
  const v2 = v * v;
  let sum = diff * v;
  let power = 2 * x * v;
  for (let j = 1; j < 1000; j++) {
    power *= v2;
    const next = sum + power / (2 * j + 1);
    if (next === sum) return next;
    sum = next;
  }
  return sum;
}

/**
 * The smallest k in 0..n with `reaches(P(B ≤ k))`, for a test that is monotone in the probability
 * and treating k = n (probability 1) as reaching. Starts at the mean, steps by probabilities
 * (cheap, a few standard deviations at most), then confirms or corrects with exact cumulative
 * probabilities by galloping and bisection (normally two evaluations).
 */
function smallestReaching(n: number, q: number, reaches: (cdf: number) => boolean): number {
  const odds = q / (1 - q);
  let k = Math.min(n, Math.floor(n * q));
  let cdf = binomialCdf(k, n, q);
  let pmf = Math.exp(logBinomialPmf(k, n, q));
  if (reaches(cdf)) {
    while (k > 0) {
      const below = cdf - pmf;
      if (!reaches(below)) break;
      pmf *= k / ((n - k + 1) * odds);
      cdf = below;
      k--;
    }
  } else {
    while (k < n && !reaches(cdf)) {
      pmf *= ((n - k) * odds) / (k + 1);
      cdf += pmf;
      k++;
    }
  }
  // Invariant: lo does not reach (or is −1), hi reaches (or is n).
  const reachesAt = (i: number) => i >= n || reaches(binomialCdf(i, n, q));
  let lo: number;
  let hi: number;
  if (reachesAt(k)) {
    hi = k;
    lo = k - 1;
    for (let step = 1; lo >= 0 && reachesAt(lo); step *= 2) {
      hi = lo;
      lo = hi - 2 * step;
    }
    lo = Math.max(lo, -1);
  } else {
    lo = k;
    hi = k + 1;
    for (let step = 1; hi < n && !reachesAt(hi); step *= 2) {
      lo = hi;
      hi = lo + 2 * step;
    }
    hi = Math.min(hi, n);
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (reachesAt(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** @throws RangeError when p is not in (0, 100) */
function checkPercentile(p: number): void {
  if (!Number.isFinite(p) || p <= 0 || p >= 100) {
    throw new RangeError(`percentile must be in (0, 100), received ${p}`);
  }
}

/** @throws RangeError when confidence is not in (0, 1) */
function checkConfidence(confidence: number): void {
  if (!Number.isFinite(confidence) || confidence <= 0 || confidence >= 1) {
    throw new RangeError(`confidence must be in (0, 1), received ${confidence}`);
  }
}

/**
 * The same decision from reported bounds ({@link PercentileBounds}, upper and lower possibly from
 * different samples): within when the upper bound is within the limit, beyond when the lower is
 * beyond it.
 */
export function decideBounds(bounds: PercentileBounds, limitMs: number): Decision {
  if (bounds.upperMs !== undefined && bounds.upperMs <= limitMs) return 'within';
  if (bounds.lowerMs !== undefined && bounds.lowerMs > limitMs) return 'beyond';
  return 'undecided';
}
