/**
 * Kubernetes resource quantities (`500m`, `2`, `512Mi`, `1.5Gi`, `129e6`), parsed exactly.
 *
 * Values are kept as integers in nano-units (bigint), so `0.1` and `100m` are the same number and
 * `1.5Gi` is exactly 1,610,612,736 bytes. Grammar as in k8s.io/apimachinery's resource.Quantity:
 * a signed decimal number followed by a binary-SI suffix (Ki…Ei), a decimal-SI suffix (n, u, m,
 * k, M, G, T, P, E) or a decimal exponent (e3, E-2).
 */

const NANOS_PER_UNIT = 1_000_000_000n;

const BINARY_SUFFIXES: Readonly<Record<string, bigint>> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};

const DECIMAL_SUFFIX_EXPONENTS: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

const QUANTITY_PATTERN = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?$/;

/** Why a string is not a quantity, or why a quantity is not a valid CPU or memory amount. */
export class QuantityError extends Error {
  override readonly name = 'QuantityError';
}

/**
 * Parses a quantity into nano-units. Throws `QuantityError` when the string does not follow the
 * grammar or is finer than one nano-unit (Kubernetes cannot represent that either).
 */
export function parseQuantityNanos(input: string): bigint {
  const match = QUANTITY_PATTERN.exec(input);
  if (!match) {
    throw new QuantityError(`${JSON.stringify(input)} is not a kubernetes quantity`);
  }
  const [, sign, number, suffix = ''] = match;
  const [whole = '', fraction = ''] = number.split('.');
  // mantissa = digits / 10^fraction.length
  const digits = BigInt((whole || '0') + fraction);
  let numerator = digits * NANOS_PER_UNIT;
  let denominator = 10n ** BigInt(fraction.length);
  if (suffix in BINARY_SUFFIXES) {
    numerator *= BINARY_SUFFIXES[suffix];
  } else {
    const exponent =
      suffix in DECIMAL_SUFFIX_EXPONENTS ? DECIMAL_SUFFIX_EXPONENTS[suffix] : Number(suffix.slice(1));
    if (Math.abs(exponent) > 40) {
      throw new QuantityError(`${JSON.stringify(input)} has an exponent out of range`);
    }
    if (exponent >= 0) numerator *= 10n ** BigInt(exponent);
    else denominator *= 10n ** BigInt(-exponent);
  }
  if (numerator % denominator !== 0n) {
    throw new QuantityError(`${JSON.stringify(input)} is finer than the smallest unit kubernetes keeps (1n)`);
  }
  const nanos = numerator / denominator;
  return sign === '-' ? -nanos : nanos;
}

/** Parses a CPU quantity into millicores. `1` → 1000, `500m` → 500, `0.25` → 250. */
export function parseCpuMillis(input: string): number {
  const nanos = parseQuantityNanos(input);
  if (nanos <= 0n) throw new QuantityError(`cpu ${JSON.stringify(input)} must be greater than zero`);
  if (nanos % 1_000_000n !== 0n) {
    throw new QuantityError(`cpu ${JSON.stringify(input)} is finer than 1m (one millicore)`);
  }
  return toSafeNumber(nanos / 1_000_000n, input);
}

/** Parses a memory quantity into bytes. `512Mi` → 536870912, `1G` → 1000000000. */
export function parseMemoryBytes(input: string): number {
  const nanos = parseQuantityNanos(input);
  if (nanos <= 0n) throw new QuantityError(`memory ${JSON.stringify(input)} must be greater than zero`);
  if (nanos % NANOS_PER_UNIT !== 0n) {
    throw new QuantityError(`memory ${JSON.stringify(input)} is not a whole number of bytes`);
  }
  return toSafeNumber(nanos / NANOS_PER_UNIT, input);
}

function toSafeNumber(value: bigint, input: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new QuantityError(`${JSON.stringify(input)} is too large`);
  }
  return Number(value);
}

/** Formats millicores canonically: whole cores as `2`, otherwise `1500m`. */
export function formatCpu(millis: number): string {
  assertPositiveInteger(millis, 'millicores');
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

/**
 * Formats bytes canonically: the largest binary suffix that divides exactly (`1536Mi`), else the
 * largest decimal suffix that does (`1G`, `129M`), else plain bytes.
 */
export function formatMemory(bytes: number): string {
  assertPositiveInteger(bytes, 'bytes');
  const value = BigInt(bytes);
  for (const suffix of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki']) {
    const unit = BINARY_SUFFIXES[suffix];
    if (value % unit === 0n) return `${value / unit}${suffix}`;
  }
  for (const suffix of ['E', 'P', 'T', 'G', 'M', 'k']) {
    const unit = 10n ** BigInt(DECIMAL_SUFFIX_EXPONENTS[suffix]);
    if (value % unit === 0n) return `${value / unit}${suffix}`;
  }
  return String(value);
}

function assertPositiveInteger(value: number, unit: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new QuantityError(`${value} ${unit} is not a positive integer`);
  }
}
