/**
 * The ranges of the float element types, so that a value a client wrote as a number is never
 * turned into ±Infinity behind its back (`1e39` as float32, `1e5` as float16).
 */

/** The largest finite value of each float element type. */
export const FLOAT_MAX = {
  float16: 65504,
  float32: 3.4028234663852886e38,
  float64: Number.MAX_VALUE,
} as const;

/** A float element type. */
export type FloatElementType = keyof typeof FLOAT_MAX;

/** float16 values from this magnitude up round to ±Infinity (round half to even). */
const FLOAT16_OVERFLOW = 65520;

/**
 * True when `value` is finite but becomes ±Infinity once stored as `type`: `1e39` as float32,
 * `70000` as float16. NaN and ±Infinity themselves are not out of range (they are what they say).
 */
export function overflowsFloat(type: FloatElementType, value: number): boolean {
  if (!Number.isFinite(value)) return false;
  if (type === 'float32') return !Number.isFinite(Math.fround(value));
  if (type === 'float16') return Math.abs(value) >= FLOAT16_OVERFLOW;
  return false;
}
