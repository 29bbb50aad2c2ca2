import { describe, expect, it } from 'vitest';
import {
  binomialCdf,
  decideAtMost,
  decideAtMostFromCounts,
  quantileBounds,
  quantileRanks,
  samplesForUpperBound,
  type QuantileBounds,
} from '../lib/gate/confidence';
import { percentile } from '../lib/gate/statistics';

/** 1..n as an array (sorted ascending, so each value is its own rank). */
function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** 1..n without allocating: index i holds i + 1, so a value is its own 1-based rank. */
function lazyRanks(n: number): ArrayLike<number> {
  return new Proxy<ArrayLike<number>>(
    { length: n },
    {
      get: (_target, key) => (key === 'length' ? n : Number(key) + 1),
    },
  );
}

/** n copies of value. */
function constant(n: number, value: number): number[] {
  return new Array<number>(n).fill(value);
}

function bitLength(value: bigint): number {
  return value === 0n ? 0 : value.toString(2).length;
}

/** num / den (at most 1) as a double, to ~1e-18 relative; 0 below ~1e-300. */
function ratioToNumber(num: bigint, den: bigint): number {
  if (num === 0n) return 0;
  const shift = bitLength(den) - bitLength(num) + 64;
  if (shift > 1060) return 0;
  return Number((num << BigInt(shift)) / den) / 2 ** 64 / 2 ** (shift - 64);
}

/**
 * Exact cumulative binomial probabilities for q = a / d, by rational arithmetic: P(B ≤ k) is
 * cumulative[k] / denominator.
 */
function exactCdf(n: number, a: number, d: number): { cumulative: bigint[]; denominator: bigint } {
  const qa = BigInt(a);
  const qb = BigInt(d - a);
  const powA = [1n];
  const powB = [1n];
  for (let j = 1; j <= n; j++) {
    powA.push(powA[j - 1] * qa);
    powB.push(powB[j - 1] * qb);
  }
  const cumulative: bigint[] = [];
  let choose = 1n;
  let sum = 0n;
  for (let j = 0; j <= n; j++) {
    sum += choose * powA[j] * powB[n - j];
    cumulative.push(sum);
    choose = (choose * BigInt(n - j)) / BigInt(j + 1);
  }
  return { cumulative, denominator: BigInt(d) ** BigInt(n) };
}

describe('binomialCdf', () => {
  it('matches exact rational summation for n in 1..200 to 1e-12 relative', () => {
    // q = a / 100; every k of every n, against Σ C(n, j) aʲ (100 − a)ⁿ⁻ʲ / 100ⁿ computed exactly.
    let worst = 0;
    for (const a of [1, 5, 10, 25, 50, 75, 90, 95, 99]) {
      for (let n = 1; n <= 200; n++) {
        const { cumulative, denominator } = exactCdf(n, a, 100);
        for (let k = 0; k <= n; k++) {
          const exact = ratioToNumber(cumulative[k], denominator);
          const got = binomialCdf(k, n, a / 100);
          if (exact === 0) {
            expect(got).toBeLessThan(1e-295);
            continue;
          }
          const error = Math.abs(got - exact) / exact;
          worst = Math.max(worst, error);
          if (error > 1e-12) expect({ a, n, k, got }).toEqual({ a, n, k, got: exact });
        }
      }
    }
    expect(worst).toBeLessThan(1e-12);
  });

  it('matches the p50 table of Binomial(10, 0.5) by hand', () => {
    // C(10, j) / 1024 cumulated: 1, 11, 56, 176, 386, 638, 848, 968, 1013, 1023 over 1024.
    const table = [1, 11, 56, 176, 386, 638, 848, 968, 1013, 1023, 1024].map((c) => c / 1024);
    table.forEach((value, k) => expect(binomialCdf(k, 10, 0.5)).toBeCloseTo(value, 14));
  });

  it('agrees with high-precision references at n = 10⁶ and 10⁷', () => {
    // Reference values summed with mpmath at 40 digits (log-gamma pmf, outward from k), rounded to 16.
    const references: [number, number, number, number][] = [
      [5_000_000, 10_000_000, 0.5, 0.5001261566229471],
      [4_990_000, 10_000_000, 0.5, 1.272400245577587e-10],
      [9_900_100, 10_000_000, 0.99, 0.6251154174968044],
      [9_899_000, 10_000_000, 0.99, 7.571703763237938e-4],
      [100, 10_000_000, 0.00001, 0.5265621985303303],
      [990_163, 1_000_000, 0.99, 0.950123656078154],
    ];
    for (const [k, n, q, expected] of references) {
      expect(Math.abs(binomialCdf(k, n, q) - expected) / expected).toBeLessThan(1e-12);
    }
  });

  it('keeps the closed-form ends and the symmetry B(n, q) = n − B(n, 1 − q) at n = 10⁷', () => {
    const n = 10_000_000;
    // P(B ≤ n − 1) = 1 − qⁿ and P(B ≤ 0) = (1 − q)ⁿ.
    const q = 1 - 1e-7;
    expect(binomialCdf(n - 1, n, q)).toBeCloseTo(-Math.expm1(n * Math.log(q)), 14);
    expect(binomialCdf(0, n, 1e-7)).toBeCloseTo(Math.exp(n * Math.log1p(-1e-7)), 14);
    // 2^−10⁷ is below the smallest double: 0, not NaN.
    expect(binomialCdf(0, n, 0.5)).toBe(0);
    // q and 1 − q both exact, as q = 2⁻¹⁹ (mean 19.07) is; a rounded 1 − q would move the mean.
    for (const [k, q] of [
      [4_998_000, 0.5],
      [7_499_000, 0.75],
      [9_899_700, 0.99],
      [30, 2 ** -19],
    ]) {
      const sum = binomialCdf(k, n, q) + binomialCdf(n - k - 1, n, 1 - q);
      expect(sum).toBeCloseTo(1, 12);
    }
  });

  it('handles the degenerate cases', () => {
    expect(binomialCdf(-1, 10, 0.3)).toBe(0);
    expect(binomialCdf(10, 10, 0.3)).toBe(1);
    expect(binomialCdf(Infinity, 10, 0.3)).toBe(1);
    expect(binomialCdf(-Infinity, 10, 0.3)).toBe(0);
    expect(binomialCdf(0, 0, 0.3)).toBe(1);
    expect(binomialCdf(3, 10, 0)).toBe(1);
    expect(binomialCdf(9, 10, 1)).toBe(0);
    // A count that is not an integer counts as its floor.
    expect(binomialCdf(3.7, 10, 0.5)).toBe(binomialCdf(3, 10, 0.5));
  });

  it('rejects what is not a binomial distribution', () => {
    expect(() => binomialCdf(NaN, 10, 0.5)).toThrow(
      new RangeError('binomial count must be a number, received NaN'),
    );
    expect(() => binomialCdf(1, -1, 0.5)).toThrow(/non-negative integer, received -1$/);
    expect(() => binomialCdf(1, 2.5, 0.5)).toThrow(/non-negative integer, received 2.5$/);
    expect(() => binomialCdf(1, 10, -0.1)).toThrow(/in \[0, 1\], received -0.1$/);
    expect(() => binomialCdf(1, 10, 1.5)).toThrow(/in \[0, 1\], received 1.5$/);
    expect(() => binomialCdf(1, 10, NaN)).toThrow(/in \[0, 1\], received NaN$/);
  });
});

describe('quantileBounds', () => {
  it('p99 at 0.95 has no upper bound below 299 samples and the maximum at 299', () => {
    // 1 − 0.99²⁹⁸ = 0.94996 < 0.95; 1 − 0.99²⁹⁹ = 1 − 0.04954 = 0.95046 ≥ 0.95.
    expect(quantileBounds(range(298), 99).upper).toBeUndefined();
    expect(quantileBounds(range(298), 99).upperRank).toBeUndefined();
    // Lower at 299: P(B ≤ 292) = 0.03225 ≤ 0.05 < P(B ≤ 293) = 0.08190, so l = 293.
    expect(quantileBounds(range(299), 99)).toEqual({
      samples: 299,
      estimate: 297, // ceil(0.99 × 299) = 297
      lower: 293,
      lowerRank: 293,
      upper: 299,
      upperRank: 299,
    });
  });

  it('p50 of 10 samples: ranks 2 and 9 from the Binomial(10, 0.5) table', () => {
    // P(B ≤ k), k = 0..9: 0.00098, 0.01074, 0.05469, 0.17188, 0.37695, 0.62305, 0.82813, 0.94531,
    // 0.98926, 0.99902.
    // upper: P(B ≤ 8) = 0.98926 ≥ 0.95 and P(B ≤ 7) = 0.94531 < 0.95 → u = 9.
    // lower: P(B ≤ 1) = 0.01074 ≤ 0.05 and P(B ≤ 2) = 0.05469 > 0.05 → l = 2.
    const values = [3, 5, 8, 13, 21, 34, 55, 89, 144, 233];
    expect(quantileBounds(values, 50)).toEqual({
      samples: 10,
      estimate: 21,
      lower: 5,
      lowerRank: 2,
      upper: 144,
      upperRank: 9,
    });
    // At 0.99: P(B ≤ 8) = 0.98926 < 0.99 ≤ P(B ≤ 9) = 0.99902 → u = 10; P(B ≤ 0) = 0.00098 ≤ 0.01
    // < P(B ≤ 1) = 0.01074 → l = 1.
    expect(quantileBounds(values, 50, 0.99)).toMatchObject({ lowerRank: 1, upperRank: 10 });
  });

  it('p99 of 20 and 40 samples: a lower bound but no upper one', () => {
    // n = 20: P(B ≤ 0) = 0.01²⁰ = 1e-40, so l exists; P(B ≤ 18) = 1 − 0.99²⁰ − 20 × 0.99¹⁹ × 0.01
    // = 1 − 0.81791 − 0.16523 = 0.01686 ≤ 0.05 < P(B ≤ 19) = 0.18209 → l = 19.
    const twenty = quantileBounds(range(20), 99);
    expect(twenty).toEqual({ samples: 20, estimate: 20, lower: 19, lowerRank: 19 });
    // n = 40: P(B ≤ 37) = 0.00750 ≤ 0.05 < P(B ≤ 38) = 1 − 0.66897 − 0.27029 = 0.06074 → l = 38.
    expect(quantileBounds(range(40), 99)).toEqual({ samples: 40, estimate: 40, lower: 38, lowerRank: 38 });
  });

  it('has no lower bound while (1 − q)ⁿ > 1 − confidence', () => {
    // p50: 0.5⁴ = 0.0625 > 0.05 → none at 4 samples; 0.5⁵ = 0.03125 ≤ 0.05 → rank 1 at 5.
    expect(quantileBounds(range(4), 50).lower).toBeUndefined();
    expect(quantileBounds(range(5), 50)).toMatchObject({ lower: 1, lowerRank: 1, upper: 5, upperRank: 5 });
    // One sample at p95: P(B ≤ 0) = 0.05 exactly, a tie that counts as ≤ 0.05.
    expect(quantileBounds([7], 95)).toEqual({ samples: 1, estimate: 7, lower: 7, lowerRank: 1 });
  });

  it('matches the definitions in exact rational arithmetic for n in 1..300', () => {
    for (const [a, confidence, c, d] of [
      [50, 0.95, 19n, 20n],
      [90, 0.9, 9n, 10n],
      [95, 0.95, 19n, 20n],
      [99, 0.95, 19n, 20n],
      [99, 0.99, 99n, 100n],
    ] as const) {
      for (let n = 1; n <= 300; n++) {
        const { cumulative, denominator } = exactCdf(n, a, 100);
        // upper: smallest u with P(B ≤ u − 1) ≥ c; lower: largest l with P(B ≤ l − 1) ≤ 1 − c.
        let upperRank: number | undefined;
        let lowerRank: number | undefined;
        for (let u = 1; u <= n && upperRank === undefined; u++) {
          if (d * cumulative[u - 1] >= c * denominator) upperRank = u;
        }
        for (let l = n; l >= 1 && lowerRank === undefined; l--) {
          if (d * cumulative[l - 1] <= (d - c) * denominator) lowerRank = l;
        }
        const bounds = quantileBounds(range(n), a, confidence);
        expect({ a, confidence, n, lowerRank: bounds.lowerRank, upperRank: bounds.upperRank }).toEqual({
          a,
          confidence,
          n,
          lowerRank,
          upperRank,
        });
      }
    }
  });

  it('takes the nearest-rank estimate and values at the ranks', () => {
    const values = range(500).map((i) => i * 1.5);
    for (const p of [1, 10, 50, 90, 95, 99, 99.9]) {
      const bounds = quantileBounds(values, p);
      expect(bounds.estimate).toBe(percentile(values, p));
      if (bounds.lowerRank !== undefined) expect(bounds.lower).toBe(values[bounds.lowerRank - 1]);
      if (bounds.upperRank !== undefined) expect(bounds.upper).toBe(values[bounds.upperRank - 1]);
      expect(bounds.lower ?? -Infinity).toBeLessThanOrEqual(bounds.estimate);
      expect(bounds.upper ?? Infinity).toBeGreaterThanOrEqual(bounds.estimate);
    }
  });

  it('p99 of 10⁶ samples lies within two ranks of the normal approximation', () => {
    // Mean n q = 990 000, σ = √(10⁶ × 0.99 × 0.01) = 99.499, z₀.₉₅ = 1.64485:
    // upper ≈ 990 000 + 163.66 → rank 990 164; lower ≈ 990 000 − 163.66 → rank 989 836.
    const n = 1_000_000;
    const sigma = Math.sqrt(n * 0.99 * 0.01);
    const bounds = quantileBounds(lazyRanks(n), 99);
    expect(Math.abs(bounds.upperRank! - (990_000 + 1.644854 * sigma))).toBeLessThanOrEqual(2);
    expect(Math.abs(bounds.lowerRank! - (990_000 - 1.644854 * sigma))).toBeLessThanOrEqual(2);
    expect(bounds).toMatchObject({ upperRank: 990_164, upper: 990_164, lowerRank: 989_836, lower: 989_836 });
  });

  it('meets the definitions at the rank edges for up to 10⁷ samples', () => {
    for (const n of [1_000, 54_321, 1_000_000, 10_000_000]) {
      for (const p of [0.1, 50, 90, 99, 99.9, 99.99]) {
        const q = p / 100;
        const { lowerRank, upperRank } = quantileBounds(lazyRanks(n), p);
        if (upperRank !== undefined) {
          expect(binomialCdf(upperRank - 1, n, q)).toBeGreaterThanOrEqual(0.95);
          expect(binomialCdf(upperRank - 2, n, q)).toBeLessThan(0.95);
        } else {
          expect(binomialCdf(n - 1, n, q)).toBeLessThan(0.95);
        }
        if (lowerRank !== undefined) {
          expect(binomialCdf(lowerRank - 1, n, q)).toBeLessThanOrEqual(0.05);
          if (lowerRank < n) expect(binomialCdf(lowerRank, n, q)).toBeGreaterThan(0.05);
        } else {
          expect(binomialCdf(0, n, q)).toBeGreaterThan(0.05);
        }
      }
    }
  });

  it('rejects no samples, percentiles outside (0, 100) and confidences outside (0, 1)', () => {
    expect(() => quantileBounds([], 99)).toThrow(new RangeError('cannot bound percentile p99 of no samples'));
    for (const p of [0, 100, -1, NaN, Infinity]) {
      expect(() => quantileBounds([1], p)).toThrow(
        new RangeError(`percentile must be in (0, 100), received ${p}`),
      );
    }
    for (const c of [0, 1, 1.5, NaN]) {
      expect(() => quantileBounds([1], 99, c)).toThrow(
        new RangeError(`confidence must be in (0, 1), received ${c}`),
      );
    }
  });
});

describe('decideAtMost', () => {
  it('is within when the upper bound is at or below the limit', () => {
    // 300 samples ≥ 299 → upper bound X₍₂₉₉₎ = 100 ≤ 2000.
    expect(decideAtMost(quantileBounds(constant(300, 100), 99), 2000)).toBe('within');
    expect(decideAtMost(quantileBounds(range(299), 99), 299)).toBe('within');
  });

  it('is beyond when the lower bound is above the limit', () => {
    // 20 samples: no upper bound, lower X₍₁₉₎ = 100 > 50.
    expect(decideAtMost(quantileBounds(constant(20, 100), 99), 50)).toBe('beyond');
    // 299 samples 1..299: lower 293 (P(B ≤ 292) = 0.03225 ≤ 0.05), so 293 > 292.5.
    expect(decideAtMost(quantileBounds(range(299), 99), 292.5)).toBe('beyond');
  });

  it('is undecided when the interval straddles the limit or a needed bound is missing', () => {
    // 40 samples: no upper bound at p99 (needs 299), and the lower 317 ≤ 2000.
    expect(decideAtMost(quantileBounds(constant(40, 317), 99), 2000)).toBe('undecided');
    // 299 samples 1..299: lower 293 ≤ 295 < upper 299.
    expect(decideAtMost(quantileBounds(range(299), 99), 295)).toBe('undecided');
    // Neither bound: 3 samples at p50 (0.5³ = 0.125 > 0.05 and 1 − 0.5³ = 0.875 < 0.95).
    expect(decideAtMost(quantileBounds([1, 2, 3], 50), 0)).toBe('undecided');
  });

  it('is undecided when bounds below 0.5 confidence both hold', () => {
    const crossed: QuantileBounds = {
      samples: 2,
      estimate: 2,
      lower: 3,
      lowerRank: 2,
      upper: 1,
      upperRank: 1,
    };
    expect(decideAtMost(crossed, 2)).toBe('undecided');
  });

  it('rejects a NaN limit', () => {
    expect(() => decideAtMost(quantileBounds([1], 50, 0.4), NaN)).toThrow(
      new RangeError('limit must be a number, received NaN'),
    );
  });
});

describe('samplesForUpperBound', () => {
  it('gives the smallest n with 1 − qⁿ ≥ confidence', () => {
    // p99: 0.99²⁹⁸ = 0.05004 > 0.05, 0.99²⁹⁹ = 0.04954 → 299.
    expect(samplesForUpperBound(99)).toBe(299);
    // p95: 0.95⁵⁸ = 0.05105, 0.95⁵⁹ = 0.04849 → 59.
    expect(samplesForUpperBound(95)).toBe(59);
    // p50: 0.5⁴ = 0.0625, 0.5⁵ = 0.03125 → 5.
    expect(samplesForUpperBound(50)).toBe(5);
    // p50 at 0.75: 0.5² = 0.25 exactly → 2 (a tie counts).
    expect(samplesForUpperBound(50, 0.75)).toBe(2);
    // p90 at 0.99: log 0.01 / log 0.9 = 43.7 → 44.
    expect(samplesForUpperBound(90, 0.99)).toBe(44);
  });

  it('agrees with quantileBounds on where the upper bound appears', () => {
    for (const p of [1, 25, 50, 75, 90, 95, 99, 99.5, 99.9]) {
      for (const confidence of [0.5, 0.9, 0.95, 0.99]) {
        const n = samplesForUpperBound(p, confidence);
        if (n > 1) expect(quantileBounds(range(n - 1), p, confidence).upperRank).toBeUndefined();
        expect(quantileBounds(range(n), p, confidence).upperRank).toBe(n);
      }
    }
  });

  it('rejects percentiles outside (0, 100) and confidences outside (0, 1)', () => {
    expect(() => samplesForUpperBound(100)).toThrow(
      new RangeError('percentile must be in (0, 100), received 100'),
    );
    expect(() => samplesForUpperBound(99, 1)).toThrow(
      new RangeError('confidence must be in (0, 1), received 1'),
    );
  });
});

describe('decideAtMostFromCounts', () => {
  it('gives the verdict of decideAtMost on the sorted samples, from the count at or below the limit alone', () => {
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let compared = 0;
    for (const n of [1, 20, 40, 298, 299, 300, 473, 1000, 5000]) {
      const samples = Array.from({ length: n }, () => 10 * random() ** 8).sort((a, b) => a - b);
      for (const p of [50, 95, 99] as const) {
        const bounds = quantileBounds(samples, p);
        for (const limit of [0.0001, 0.01, 0.5, 2, 5, 9.99, 20]) {
          const counted = { samples: n, atOrBelow: samples.filter((ms) => ms <= limit).length };
          expect(decideAtMostFromCounts(counted, counted, p)).toBe(decideAtMost(bounds, limit));
          compared++;
        }
      }
    }
    expect(compared).toBe(9 * 3 * 7);
  });

  it('takes the upper bound from one set of samples and the lower from another', () => {
    // 100 samples give p99 no upper bound; with 400 more, all fast, the upper rank is within them.
    const own = { samples: 100, atOrBelow: 100 };
    expect(decideAtMostFromCounts(own, own, 99)).toBe('undecided');
    expect(decideAtMostFromCounts({ samples: 500, atOrBelow: 500 }, own, 99)).toBe('within');
    // The lower bound comes from the own samples only: slow pooled ones cannot make it beyond.
    expect(decideAtMostFromCounts({ samples: 500, atOrBelow: 100 }, own, 99)).toBe('undecided');
  });

  it('ranks depend on the count only: none below the sizes quantileBounds needs', () => {
    expect(quantileRanks(298, 99)).toEqual({ lowerRank: expect.any(Number) });
    expect(quantileRanks(299, 99).upperRank).toBe(299);
    expect(quantileRanks(0, 99)).toEqual({});
  });
});
