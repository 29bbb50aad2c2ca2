/**
 * IEEE 754 half precision (binary16) to and from JavaScript numbers. onnxruntime-node on Node 20
 * (no `Float16Array`) holds float16 tensors as their bits in a `Uint16Array`.
 */

const TWO_POW_MINUS_24 = 2 ** -24;
const MIN_NORMAL = 2 ** -14;

/** Rounds to the nearest integer, ties to even. */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * The half-precision bits of a number, rounded to nearest, ties to even, directly from the
 * double (no float32 step, so no double rounding). Overflow gives ±Infinity, tiny values a
 * subnormal or ±0, NaN the quiet NaN `0x7e00`.
 */
export function halfBitsFromNumber(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a === Infinity) return sign | 0x7c00;
  if (a < MIN_NORMAL) {
    // Subnormal: a multiple of 2^-24. A result of 1024 is the smallest normal, whose bits are 0x0400.
    return sign | roundHalfEven(a / TWO_POW_MINUS_24);
  }
  let exponent = Math.floor(Math.log2(a));
  if (2 ** exponent > a) exponent -= 1;
  else if (2 ** (exponent + 1) <= a) exponent += 1;
  // The significand scaled to [1024, 2048): exact, as dividing by a power of two is.
  let significand = roundHalfEven(a / 2 ** (exponent - 10));
  if (significand === 2048) {
    significand = 1024;
    exponent += 1;
  }
  if (exponent > 15) return sign | 0x7c00;
  return sign | ((exponent + 15) << 10) | (significand - 1024);
}

/** The number that half-precision bits stand for (exact: every half is a double). */
export function numberFromHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * TWO_POW_MINUS_24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1024 + fraction) * 2 ** (exponent - 25);
}
