import { describe, expect, it } from 'vitest';
import {
  compareParity,
  meanAbsoluteError,
  rootMeanSquaredError,
  topKAccuracy,
} from '../lib/gate/correctness';

/** A seeded generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('topKAccuracy', () => {
  // 4 rows × 3 classes. Row 0: class 0 best; row 1: order 2 > 0 > 1; row 2: 1 > 2 > 0; row 3: 0 > 1 > 2.
  const scores = [0.7, 0.2, 0.1, 0.3, 0.1, 0.6, 0.1, 0.5, 0.4, 0.5, 0.3, 0.2];

  it('computes top-1 and top-2 by hand', () => {
    const labels = [0, 0, 2, 2];
    // top-1: row 0 ✓, row 1 ✗ (best is 2), row 2 ✗ (best is 1), row 3 ✗ → 1/4
    expect(topKAccuracy(scores, 4, 3, labels, 1)).toBe(0.25);
    // top-2: row 0 ✓, row 1 ✓ (0 is second), row 2 ✓ (2 is second), row 3 ✗ (2 is last) → 3/4
    expect(topKAccuracy(scores, 4, 3, labels, 2)).toBe(0.75);
    expect(topKAccuracy(scores, 4, 3, labels, 3)).toBe(1);
    expect(topKAccuracy(scores, 4, 3, labels, 10)).toBe(1);
  });

  it('accepts typed arrays', () => {
    expect(topKAccuracy(Float32Array.from(scores), 4, 3, [0, 2, 1, 0], 1)).toBe(1);
  });

  it('resolves ties in the label’s favour: only strictly greater scores push it out', () => {
    const tied = [0.4, 0.4, 0.2];
    expect(topKAccuracy(tied, 1, 3, [0], 1)).toBe(1);
    expect(topKAccuracy(tied, 1, 3, [1], 1)).toBe(1);
    expect(topKAccuracy(tied, 1, 3, [2], 1)).toBe(0);
    expect(topKAccuracy(tied, 1, 3, [2], 2)).toBe(0);
    expect(topKAccuracy(tied, 1, 3, [2], 3)).toBe(1);
    expect(topKAccuracy([1, 1, 1, 1], 1, 4, [3], 1)).toBe(1);
  });

  it('never counts a NaN label score', () => {
    expect(topKAccuracy([Number.NaN, 0.1, 0.2], 1, 3, [0], 3)).toBe(0);
    expect(topKAccuracy([0.5, Number.NaN, 0.2], 1, 3, [0], 1)).toBe(1);
  });

  it('drops to chance when the labels are shuffled', () => {
    const rows = 2000;
    const classes = 10;
    const rand = random(7);
    const labels = Array.from({ length: rows }, () => Math.floor(rand() * classes));
    const logits = new Float32Array(rows * classes);
    labels.forEach((label, row) => {
      for (let c = 0; c < classes; c++) logits[row * classes + c] = rand();
      logits[row * classes + label] = 2; // the true class scores highest
    });
    expect(topKAccuracy(logits, rows, classes, labels, 1)).toBe(1);
    const shuffled = [...labels];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const accuracy = topKAccuracy(logits, rows, classes, shuffled, 1);
    expect(accuracy).toBeLessThan(0.2);
    expect(accuracy).toBeGreaterThan(0.02);
  });

  it('rejects sizes that disagree, bad labels and bad k', () => {
    expect(() => topKAccuracy(scores, 4, 4, [0, 0, 0, 0], 1)).toThrow(
      /expected 4 × 4 = 16 scores, received 12/,
    );
    expect(() => topKAccuracy(scores, 4, 3, [0, 0, 0], 1)).toThrow(/expected 4 labels, received 3/);
    expect(() => topKAccuracy(scores, 4, 3, [0, 3, 0, 0], 1)).toThrow(
      /label of row 1 must be a class index in \[0, 2\], received 3/,
    );
    expect(() => topKAccuracy(scores, 4, 3, [0, 0.5, 0, 0], 1)).toThrow(/received 0.5/);
    expect(() => topKAccuracy(scores, 4, 3, [0, 0, 0, 0], 0)).toThrow(
      /k must be a positive integer, received 0/,
    );
    expect(() => topKAccuracy([], 0, 3, [], 1)).toThrow(/at least 1 row, received 0/);
  });
});

describe('meanAbsoluteError and rootMeanSquaredError', () => {
  it('computes hand values', () => {
    // errors 1, 0, 2
    expect(meanAbsoluteError([1, 2, 3], [2, 2, 5])).toBe(1);
    expect(rootMeanSquaredError([1, 2, 3], [2, 2, 5])).toBeCloseTo(Math.sqrt(5 / 3), 15);
    expect(meanAbsoluteError(Float32Array.from([0.5, -0.5]), [0, 0])).toBe(0.5);
    expect(rootMeanSquaredError([3, -4], [0, 0])).toBeCloseTo(Math.sqrt(12.5), 15);
    expect(rootMeanSquaredError([1, 2], [1, 2])).toBe(0);
  });

  it('propagates NaN so a NaN prediction fails any bound', () => {
    expect(meanAbsoluteError([1, Number.NaN], [1, 1])).toBeNaN();
    expect(rootMeanSquaredError([1, Number.NaN], [1, 1])).toBeNaN();
  });

  it('rejects lengths that differ and no elements', () => {
    expect(() => meanAbsoluteError([1, 2], [1])).toThrow(/received 2 predictions and 1 labels/);
    expect(() => rootMeanSquaredError([], [])).toThrow(/rmse needs at least 1 prediction/);
  });
});

describe('compareParity', () => {
  it('finds no mismatch in identical outputs', () => {
    expect(compareParity([1, 2, 3], Float32Array.from([1, 2, 3]), 1e-4, 1e-3)).toEqual({
      maxAbsError: 0,
      maxRelError: 0,
      mismatches: 0,
      elements: 3,
      worstIndex: 0,
    });
  });

  it('uses |a − e| <= atol + rtol × |e|, by hand', () => {
    // e = 1:   |diff| 5e-5  <= 1e-4 + 1e-3       → match (excess 0.045)
    // e = 100: |diff| 0.05  <= 1e-4 + 0.1        → match (excess 0.4995)
    // e = 0:   |diff| 2e-4  >  1e-4              → mismatch (excess 2)
    // e = -2:  |diff| 3e-3  >  1e-4 + 2e-3       → mismatch (excess 1.4286)
    const result = compareParity([1.00005, 100.05, 0.0002, -2.003], [1, 100, 0, -2], 1e-4, 1e-3);
    expect(result.mismatches).toBe(2);
    expect(result.elements).toBe(4);
    expect(result.worstIndex).toBe(2);
    expect(result.maxAbsError).toBeCloseTo(0.05, 12);
    expect(result.maxRelError).toBeCloseTo(0.0015, 12);
  });

  it('treats the boundary as a match, like numpy.allclose', () => {
    expect(compareParity([1.5], [1], 0.5, 0).mismatches).toBe(0);
    expect(compareParity([1.5000001], [1], 0.5, 0).mismatches).toBe(1);
    expect(compareParity([2], [1], 0, 1).mismatches).toBe(0);
  });

  it('fails a perturbed vector and points at the perturbed element', () => {
    const rand = random(3);
    const expected = Float32Array.from({ length: 1000 }, () => rand() * 2 - 1);
    const actual = Float32Array.from(expected);
    expect(compareParity(actual, expected, 1e-4, 1e-3).mismatches).toBe(0);
    actual[613] += 0.01;
    const result = compareParity(actual, expected, 1e-4, 1e-3);
    expect(result.mismatches).toBe(1);
    expect(result.worstIndex).toBe(613);
    expect(result.maxAbsError).toBeCloseTo(0.01, 6);
  });

  it('handles NaN and infinities', () => {
    expect(compareParity([Number.NaN], [1], 1e-4, 1e-3)).toMatchObject({ mismatches: 1, worstIndex: 0 });
    expect(compareParity([1], [Number.NaN], 1e-4, 1e-3).mismatches).toBe(1);
    expect(compareParity([Number.NaN], [Number.NaN], 1e-4, 1e-3).mismatches).toBe(0);
    expect(compareParity([Infinity, -Infinity], [Infinity, -Infinity], 0, 0).mismatches).toBe(0);
    expect(compareParity([Infinity], [1e308], 1e-4, 1e-3).mismatches).toBe(1);
    const mixed = compareParity([1, 5, Number.NaN], [1, 1, 2], 1e-4, 1e-3);
    expect(mixed).toMatchObject({ mismatches: 2, worstIndex: 2, maxAbsError: 4 });
  });

  it('reports -1 as the worst index of no elements', () => {
    expect(compareParity([], [], 0, 0)).toEqual({
      maxAbsError: 0,
      maxRelError: 0,
      mismatches: 0,
      elements: 0,
      worstIndex: -1,
    });
  });

  it('rejects lengths that differ and bad tolerances', () => {
    expect(() => compareParity([1, 2], [1], 1e-4, 1e-3)).toThrow(/received 2 and 1/);
    expect(() => compareParity([1], [1], -1, 1e-3)).toThrow(/atol must be a number >= 0, received -1/);
    expect(() => compareParity([1], [1], 1e-4, Number.NaN)).toThrow(/rtol .* received NaN/);
  });
});
