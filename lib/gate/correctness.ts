/**
 * Correctness metrics of the quality gate: top-k accuracy of a classifier, MAE and RMSE of a
 * regressor, and element-wise output parity with the training framework (numpy.allclose semantics).
 * Pure functions of numbers.
 */

/**
 * Fraction of rows whose label is among the k highest scores.
 *
 * Ties: a label counts as in the top k only when strictly fewer than k scores of its row are greater
 * than the label's score, so a label tied with others at the k-th place counts (ties are resolved in
 * the label's favour), and with k = 1 a row whose scores are all equal is correct. A NaN label score
 * is never in the top k; other NaN scores are never greater than the label's.
 *
 * @param scores `rows × classes` scores, row-major (logits or probabilities)
 * @param labels the expected class index of each row
 * @param k how many of the highest scores a label may be among (k >= classes makes every row correct)
 * @throws RangeError when the sizes disagree, there are no rows, k is not a positive integer or a
 *   label is not a class index in [0, classes)
 */
export function topKAccuracy(
  scores: ArrayLike<number>,
  rows: number,
  classes: number,
  labels: readonly number[],
  k: number,
): number {
  if (!Number.isInteger(rows) || rows < 1)
    throw new RangeError(`accuracy needs at least 1 row, received ${rows}`);
  if (!Number.isInteger(classes) || classes < 1) {
    throw new RangeError(`accuracy needs at least 1 class, received ${classes}`);
  }
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, received ${k}`);
  if (scores.length !== rows * classes) {
    throw new RangeError(
      `expected ${rows} × ${classes} = ${rows * classes} scores, received ${scores.length}; check the output's shape`,
    );
  }
  if (labels.length !== rows) throw new RangeError(`expected ${rows} labels, received ${labels.length}`);
  let correct = 0;
  for (let row = 0; row < rows; row++) {
    const label = labels[row];
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new RangeError(
        `label of row ${row} must be a class index in [0, ${classes - 1}], received ${label}; the output has ${classes} classes`,
      );
    }
    const offset = row * classes;
    const score = scores[offset + label];
    if (Number.isNaN(score)) continue;
    let greater = 0;
    for (let c = 0; c < classes && greater < k; c++) {
      if (scores[offset + c] > score) greater++;
    }
    if (greater < k) correct++;
  }
  return correct / rows;
}

/** Checks that predictions and labels are non-empty and of equal length. */
function checkPairs(predictions: ArrayLike<number>, labels: ArrayLike<number>, metric: string): void {
  if (predictions.length !== labels.length) {
    throw new RangeError(
      `${metric} needs as many predictions as labels, received ${predictions.length} predictions and ${labels.length} labels`,
    );
  }
  if (predictions.length === 0) throw new RangeError(`${metric} needs at least 1 prediction, received 0`);
}

/**
 * Mean absolute error of predictions against labels, element by element (both flat). A NaN
 * prediction makes the result NaN, which fails any bound.
 *
 * @throws RangeError when the lengths differ or there are no elements
 */
export function meanAbsoluteError(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPairs(predictions, labels, 'mae');
  let sum = 0;
  for (let i = 0; i < predictions.length; i++) sum += Math.abs(predictions[i] - labels[i]);
  return sum / predictions.length;
}

/**
 * Root mean squared error of predictions against labels, element by element (both flat). A NaN
 * prediction makes the result NaN, which fails any bound.
 *
 * @throws RangeError when the lengths differ or there are no elements
 */
export function rootMeanSquaredError(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPairs(predictions, labels, 'rmse');
  let sum = 0;
  for (let i = 0; i < predictions.length; i++) {
    const d = predictions[i] - labels[i];
    sum += d * d;
  }
  return Math.sqrt(sum / predictions.length);
}

/** How far actual outputs are from the expected ones. */
export interface ParityComparison {
  /** Largest |actual − expected| over elements where it is a finite number; 0 when there is none. */
  readonly maxAbsError: number;
  /** Largest |actual − expected| / |expected| over finite elements with expected ≠ 0; 0 when there is none. */
  readonly maxRelError: number;
  /** Elements outside atol + rtol × |expected|. */
  readonly mismatches: number;
  readonly elements: number;
  /**
   * The element furthest outside its tolerance (largest |actual − expected| / (atol + rtol × |expected|),
   * NaN and infinite mismatches first); -1 when there are no elements.
   */
  readonly worstIndex: number;
}

/**
 * Compares outputs element by element as numpy.allclose(actual, expected, rtol, atol, equal_nan=True)
 * does: an element matches when |actual − expected| ≤ atol + rtol × |expected|. NaN matches only NaN
 * (a NaN where a number is expected is a mismatch, and so is a number where NaN is expected);
 * infinities match only the same infinity.
 *
 * @throws RangeError when the lengths differ or atol/rtol is not a finite number >= 0
 */
export function compareParity(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  atol: number,
  rtol: number,
): ParityComparison {
  if (actual.length !== expected.length) {
    throw new RangeError(
      `parity needs as many outputs as expected values, received ${actual.length} and ${expected.length}; check the output's shape`,
    );
  }
  if (!Number.isFinite(atol) || atol < 0)
    throw new RangeError(`atol must be a number >= 0, received ${atol}`);
  if (!Number.isFinite(rtol) || rtol < 0)
    throw new RangeError(`rtol must be a number >= 0, received ${rtol}`);
  let maxAbsError = 0;
  let maxRelError = 0;
  let mismatches = 0;
  let worstIndex = actual.length > 0 ? 0 : -1;
  let worstExcess = -1;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    let excess: number;
    if (a === e || (Number.isNaN(a) && Number.isNaN(e))) {
      excess = 0;
    } else if (!Number.isFinite(a) || !Number.isFinite(e)) {
      excess = Infinity;
      mismatches++;
    } else {
      const diff = Math.abs(a - e);
      const allowed = atol + rtol * Math.abs(e);
      maxAbsError = Math.max(maxAbsError, diff);
      if (e !== 0) maxRelError = Math.max(maxRelError, diff / Math.abs(e));
      if (diff > allowed) mismatches++;
      excess = allowed > 0 ? diff / allowed : diff > 0 ? Infinity : 0;
    }
    if (excess > worstExcess) {
      worstExcess = excess;
      worstIndex = i;
    }
  }
  return { maxAbsError, maxRelError, mismatches, elements: actual.length, worstIndex };
}
