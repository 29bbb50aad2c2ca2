import { describe, expect, it } from 'vitest';
import { type WindowStats } from '../lib/gate/gate-report';
import { latencyStats, logHistogram, percentile, stability, windowStats } from '../lib/gate/statistics';

/**
 * Nearest rank by its definition rather than its formula: the smallest value such that at least
 * p% of the values are less than or equal to it.
 */
function referencePercentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  for (const candidate of sorted) {
    const atOrBelow = sorted.filter((v) => v <= candidate).length;
    if (atOrBelow * 100 >= p * sorted.length) return candidate;
  }
  throw new Error('unreachable');
}

/** 1..n */
function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** A deterministic shuffle (mulberry32). */
function shuffled<T>(values: readonly T[], seed = 42): T[] {
  let a = seed;
  const rand = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = [...values];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const PERCENTILES = [0.1, 1, 10, 25, 33.3, 50, 66.7, 75, 90, 95, 99, 99.9, 100];

describe('percentile', () => {
  it.each([
    ['1..100', range(100)],
    ['1..1000', range(1000)],
    ['n = 1', [7]],
    ['n = 2', [3, 9]],
    ['n = 3', [1, 2, 3]],
    ['ties', [1, 2, 2, 2, 2, 3, 5, 5, 8]],
    ['1..4812', range(4812)],
  ])('matches the nearest-rank definition on %s', (_name, values) => {
    const sorted = [...values].sort((a, b) => a - b);
    for (const p of PERCENTILES) {
      expect(percentile(sorted, p), `p${p}`).toBe(referencePercentile(values, p));
    }
  });

  it('takes known values on 1..100 and 1..1000', () => {
    const hundred = range(100);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 1)).toBe(1);
    expect(percentile(hundred, 0.5)).toBe(1);
    const thousand = range(1000);
    expect(percentile(thousand, 99)).toBe(990);
    expect(percentile(thousand, 99.9)).toBe(999);
    expect(percentile(thousand, 95)).toBe(950);
    expect(percentile(thousand, 50)).toBe(500);
  });

  it('never interpolates: p50 of two values is the lower one, p51 the upper', () => {
    expect(percentile([10, 20], 50)).toBe(10);
    expect(percentile([10, 20], 51)).toBe(20);
    expect(percentile([10], 1)).toBe(10);
    expect(percentile([10], 100)).toBe(10);
  });

  it('picks the tied value', () => {
    expect(percentile([1, 2, 2, 2, 3], 50)).toBe(2);
    expect(percentile([1, 2, 2, 2, 3], 80)).toBe(2);
    expect(percentile([1, 2, 2, 2, 3], 81)).toBe(3);
  });

  it('accepts typed arrays', () => {
    expect(percentile(Float64Array.from(range(100)), 90)).toBe(90);
  });

  it('throws on no samples and on p outside (0, 100]', () => {
    expect(() => percentile([], 50)).toThrow(/no samples/);
    expect(() => percentile([1], 0)).toThrow(/received 0/);
    expect(() => percentile([1], 100.1)).toThrow(/received 100.1/);
    expect(() => percentile([1], Number.NaN)).toThrow(/received NaN/);
  });
});

describe('latencyStats', () => {
  it('computes percentiles, max and mean of unsorted input without changing it', () => {
    const input = shuffled(range(1000));
    const before = [...input];
    expect(latencyStats(input)).toEqual({
      samples: 1000,
      p50Ms: 500,
      p90Ms: 900,
      p95Ms: 950,
      p99Ms: 990,
      maxMs: 1000,
      meanMs: 500.5,
    });
    expect(input).toEqual(before);
  });

  it('matches the reference on fractional samples with ties', () => {
    const samples = shuffled([0.5, 0.25, 0.25, 3.75, 1.5, 1.5, 1.5, 0.75, 12.25, 0.5, 2, 2]);
    const stats = latencyStats(samples);
    expect(stats.p50Ms).toBe(referencePercentile(samples, 50));
    expect(stats.p90Ms).toBe(referencePercentile(samples, 90));
    expect(stats.p99Ms).toBe(12.25);
    expect(stats.maxMs).toBe(12.25);
    expect(stats.meanMs).toBeCloseTo(samples.reduce((a, b) => a + b, 0) / samples.length, 12);
  });

  it('handles a single sample', () => {
    expect(latencyStats([4.2])).toEqual({
      samples: 1,
      p50Ms: 4.2,
      p90Ms: 4.2,
      p95Ms: 4.2,
      p99Ms: 4.2,
      maxMs: 4.2,
      meanMs: 4.2,
    });
  });

  it('rejects no samples and samples that are not finite non-negative numbers', () => {
    expect(() => latencyStats([])).toThrow(/no samples/);
    expect(() => latencyStats([1, Number.NaN])).toThrow(/sample 1 .* received NaN/);
    expect(() => latencyStats([-1])).toThrow(/received -1/);
    expect(() => latencyStats([Infinity])).toThrow(/received Infinity/);
  });
});

describe('windowStats', () => {
  it('gives sample count, p50, p99 and requests per second', () => {
    expect(windowStats(shuffled(range(200)), 2)).toEqual({ samples: 200, p50Ms: 100, p99Ms: 198, rps: 100 });
  });

  it('reports an empty window as 0 samples and 0 rps', () => {
    expect(windowStats([], 1)).toEqual({ samples: 0, p50Ms: 0, p99Ms: 0, rps: 0 });
  });

  it('rejects a window length that is not positive', () => {
    expect(() => windowStats([1], 0)).toThrow(/received 0/);
    expect(() => windowStats([1], -2)).toThrow(/received -2/);
  });
});

function win(p50Ms: number, rps: number, samples = 100): WindowStats {
  return { samples, p50Ms, p99Ms: p50Ms * 2, rps };
}

describe('stability', () => {
  it('is stable when the last three windows are equal', () => {
    const s = stability([win(10, 100), win(10, 100), win(10, 100)]);
    expect(s.stable).toBe(true);
    expect(s.spread).toBe(0);
    expect(s.detail).toMatch(/last 3 windows agree within 10%/);
  });

  it('is stable within 10% on p50 and throughput, spread being (max - min) / median', () => {
    const s = stability([win(10, 100), win(10.5, 104), win(10.9, 98)]);
    expect(s.stable).toBe(true);
    expect(s.spread).toBeCloseTo(0.9 / 10.5, 12);
  });

  it('counts a spread of exactly the tolerance as stable', () => {
    const s = stability([win(95, 100), win(100, 100), win(105, 100)]);
    expect(s.spread).toBeCloseTo(0.1, 12);
    expect(s.stable).toBe(true);
  });

  it('is unstable when p50 moves more than 10%', () => {
    const s = stability([win(10, 100), win(11.5, 100), win(10, 100)]);
    expect(s.stable).toBe(false);
    expect(s.spread).toBeCloseTo(0.15, 12);
    expect(s.detail).toMatch(/disagree by more than 10%: p50 spread 15%, throughput spread 0%/);
  });

  it('is unstable when throughput moves more than 10% even if p50 does not', () => {
    const s = stability([win(10, 100), win(10, 120), win(10, 100)]);
    expect(s.stable).toBe(false);
    expect(s.detail).toMatch(/throughput spread 20%/);
  });

  it('compares only the last windows: an early warm-up outlier does not matter', () => {
    expect(stability([win(50, 10), win(10, 100), win(10, 101), win(10, 99)]).stable).toBe(true);
    expect(stability([win(10, 100), win(10, 100), win(10, 100), win(50, 10)]).stable).toBe(false);
  });

  it('is unstable with fewer windows than compared, and says so', () => {
    const two = stability([win(10, 100), win(10, 100)]);
    expect(two.stable).toBe(false);
    expect(two.detail).toBe('only 2 measurement windows, 3 needed to judge stability');
    expect(stability([win(10, 100)]).detail).toBe('only 1 measurement window, 3 needed to judge stability');
    const none = stability([]);
    expect(none.stable).toBe(false);
    expect(none.spread).toBe(0);
  });

  it('is unstable when a compared window completed nothing', () => {
    const s = stability([win(10, 100), win(10, 100), win(0, 0, 0)]);
    expect(s.stable).toBe(false);
    expect(s.detail).toBe('window 3 of 3 completed no requests');
    expect(Number.isFinite(s.spread)).toBe(true);
  });

  it('honours compare and tolerance', () => {
    const windows = [win(10, 100), win(10, 100), win(10, 100), win(10, 100), win(11.5, 100)];
    expect(stability(windows, { compare: 2 }).stable).toBe(false);
    expect(stability(windows, { compare: 2, tolerance: 0.2 }).stable).toBe(true);
    expect(stability(windows.slice(0, 4), { compare: 4 }).stable).toBe(true);
    expect(() => stability(windows, { compare: 1 })).toThrow(/received 1/);
    expect(() => stability(windows, { tolerance: -0.1 })).toThrow(/received -0.1/);
  });
});

describe('logHistogram', () => {
  /** The bucket a sample belongs to by the contract: the first whose upper bound is >= the sample. */
  function bucketOf(bounds: readonly number[], value: number): number {
    return bounds.findIndex((b) => value <= b);
  }

  it('counts every sample exactly once in log-spaced buckets from min to max', () => {
    const samples = shuffled(range(5000).map((i) => 0.05 * Math.exp(i / 700)));
    const { boundsMs, counts } = logHistogram(samples);
    expect(boundsMs).toHaveLength(24);
    expect(counts).toHaveLength(24);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(5000);
    expect(boundsMs[23]).toBe(Math.max(...samples));
    for (let i = 1; i < 24; i++) expect(boundsMs[i]).toBeGreaterThan(boundsMs[i - 1]);
    const ratios = boundsMs.slice(1).map((b, i) => b / boundsMs[i]);
    for (const ratio of ratios) expect(ratio).toBeCloseTo(ratios[0], 9);
    expect(boundsMs[0] / ratios[0]).toBeCloseTo(Math.min(...samples), 9);
    const expected = new Array<number>(24).fill(0);
    for (const s of samples) expected[bucketOf(boundsMs, s)]++;
    expect(counts).toEqual(expected);
  });

  it('puts samples that sit exactly on a bound in the bucket that bound closes', () => {
    const samples = [1, 2, 4, 8, 16];
    const { boundsMs, counts } = logHistogram(samples, 4);
    expect(boundsMs.map((b) => Number(b.toPrecision(12)))).toEqual([2, 4, 8, 16]);
    expect(counts).toEqual([2, 1, 1, 1]);
  });

  it('honours the bucket count', () => {
    const { boundsMs, counts } = logHistogram([1, 10, 100], 3);
    expect(boundsMs.map((b) => Number(b.toPrecision(12)))).toEqual([4.64158883361, 21.5443469003, 100]);
    expect(counts).toEqual([1, 1, 1]);
  });

  it('gives one bucket when every sample is equal, and nothing for no samples', () => {
    expect(logHistogram([3, 3, 3])).toEqual({ boundsMs: [3], counts: [3] });
    expect(logHistogram([])).toEqual({ boundsMs: [], counts: [] });
    expect(logHistogram([0, 0])).toEqual({ boundsMs: [0], counts: [2] });
  });

  it('counts 0 ms samples in the first bucket', () => {
    const { boundsMs, counts } = logHistogram([0, 1, 10, 100], 2);
    expect(boundsMs).toEqual([10, 100]);
    expect(counts).toEqual([3, 1]);
  });

  it('rejects a bad bucket count or sample', () => {
    expect(() => logHistogram([1], 0)).toThrow(/received 0/);
    expect(() => logHistogram([1, Number.NaN])).toThrow(/received NaN/);
  });
});

describe('stability for fast models and open-loop windows', () => {
  const window = (p50Ms: number, rps: number) => ({ samples: 1000, p50Ms, p99Ms: p50Ms * 3, rps });

  it('treats windows a few microseconds apart as agreeing when a resolution is given', () => {
    // 10 µs vs 15 µs: 50% apart, but 5 µs is machine noise, not a result.
    const windows = [window(0.01, 100_000), window(0.015, 66_667), window(0.012, 83_333)];
    expect(stability(windows).stable).toBe(false);
    const verdict = stability(windows, { resolutionMs: 0.02 });
    expect(verdict.stable).toBe(true);
    expect(verdict.detail).toMatch(/within 10% or 20 µs/);
  });

  it('still reports slow models that differ by more than the resolution as unstable', () => {
    const windows = [window(1.0, 1000), window(1.5, 667), window(1.2, 833)];
    expect(stability(windows, { resolutionMs: 0.02 }).stable).toBe(false);
  });

  it('compares only served throughput for open-loop windows', () => {
    const windows = [window(0.5, 1000), window(4, 1000), window(9, 990)]; // queueing moves p50, the rate holds
    expect(stability(windows).stable).toBe(false);
    expect(stability(windows, { on: 'throughput' }).stable).toBe(true);
    expect(
      stability([window(0.5, 1000), window(0.5, 700), window(0.5, 990)], { on: 'throughput' }).stable,
    ).toBe(false);
  });
});
