/**
 * Tensors to and from flat JSON values (the Open Inference Protocol's JSON tensors, dataset
 * files): numbers, booleans and strings, with exact integer handling for int64/uint64. The one
 * converter from JSON values to tensors, for the gate's inputs and datasets and for the server's
 * requests (which add the protocol's strings for non-finite floats and word the errors their way).
 */
import { show } from '../core';
import { type ElementType } from '../model';
import { InputValidationError } from './errors';
import { halfBitsFromNumber, numberFromHalfBits } from './float16';
import { FLOAT_MAX, type FloatElementType, overflowsFloat } from './float-range';
import { type TensorData, allocateData, elementCount, formatDims, isFeedableElementType } from './tensor';
import { FEEDABLE_ELEMENT_TYPES } from '../model';

/** A flat JSON value of a tensor. */
export type JsonTensorValue = number | boolean | string;

/** How {@link tensorFromJson} reads float elements. */
export interface TensorFromJsonOptions {
  /**
   * Read the strings `"NaN"`, `"Infinity"` and `"-Infinity"` as those floats, and refuse an
   * infinite number (JSON has none: it is a literal such as `1e400` that overflowed), as the Open
   * Inference Protocol writes non-finite floats.
   * @default false: a float element is a number, an infinite one included
   */
  readonly nonFiniteStrings?: boolean;
}

/**
 * One element of JSON values that its tensor type cannot hold, with what a caller needs to word
 * the message its own way. Its `name` stays `InputValidationError`: it is one.
 */
export class JsonElementError extends InputValidationError {
  constructor(
    message: string,
    /** The element's index, row-major. */
    readonly index: number,
    /** The value received. */
    readonly value: unknown,
    /**
     * What the element must be (`a number`, `an integer from 0 to 255`…) when it is not a value of
     * its type; undefined when it is one that the type cannot store as given (a float beyond the
     * type's range, an integer beyond 2^53 as a JSON number).
     */
    readonly expected: string | undefined,
  ) {
    super(message);
  }
}

const INTEGER_RANGES = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
} as const;

const BIG_RANGES = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
} as const;

const INTEGER_STRING = /^[+-]?\d+$/;

/** The strings that stand for non-finite floats with `nonFiniteStrings` (JSON has no NaN or Infinity). */
const NON_FINITE: ReadonlyMap<unknown, number> = new Map<unknown, number>([
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
]);

/** Array.isArray without narrowing to `any[]`. */
function isList(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

/** `an int8`, `a uint8`, `a float32`. */
function article(type: string): string {
  return type.startsWith('int') ? 'an' : 'a';
}

function elementError(index: number, type: string, expected: string, value: unknown): JsonElementError {
  return new JsonElementError(
    `element ${index} of ${article(type)} ${type} tensor must be ${expected}, received ${show(value)}`,
    index,
    value,
    expected,
  );
}

/**
 * One JSON value as a float of `type`: a number within the type's range (refused rather than
 * stored as ±Infinity), or with `nonFiniteStrings` one of the strings for non-finite floats.
 */
function toFloat(index: number, type: FloatElementType, value: unknown, nonFiniteStrings: boolean): number {
  if (typeof value === 'number') {
    if (overflowsFloat(type, value) || (nonFiniteStrings && !Number.isFinite(value))) {
      const text = Number.isFinite(value) ? show(value) : 'a number beyond the float64 range';
      const advice = nonFiniteStrings ? ', or send "Infinity" or "-Infinity" for an infinite value' : '';
      throw new JsonElementError(
        `element ${index} of ${article(type)} ${type} tensor is ${text}, beyond the largest ${type} (±${FLOAT_MAX[type]}), where it would become Infinity; scale it into range${advice}`,
        index,
        value,
        undefined,
      );
    }
    return value;
  }
  if (!nonFiniteStrings) throw elementError(index, type, 'a number', value);
  const n = NON_FINITE.get(value);
  if (n === undefined) throw elementError(index, type, 'a number (or "NaN", "Infinity", "-Infinity")', value);
  return n;
}

function toSmallInteger(index: number, type: keyof typeof INTEGER_RANGES, value: unknown): number {
  const [min, max] = INTEGER_RANGES[type];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw elementError(index, type, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

function toBigInteger(index: number, type: keyof typeof BIG_RANGES, value: unknown): bigint {
  const [min, max] = BIG_RANGES[type];
  const expected = `an integer from ${min} to ${max} (a number up to 2^53, or a numeric string)`;
  let big: bigint;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw elementError(index, type, expected, value);
    if (!Number.isSafeInteger(value)) {
      throw new JsonElementError(
        `element ${index} of ${article(type)} ${type} tensor is ${show(value)}, beyond 2^53, where json numbers lose precision; send it as a string`,
        index,
        value,
        undefined,
      );
    }
    big = BigInt(value);
  } else if (typeof value === 'string' && INTEGER_STRING.test(value)) big = BigInt(value);
  else throw elementError(index, type, expected, value);
  if (big < min || big > max) throw elementError(index, type, expected, value);
  return big;
}

function toBool(index: number, value: unknown): number {
  if (value === true || value === 1) return 1;
  if (value === false || value === 0) return 0;
  throw elementError(index, 'bool', 'true, false, 1 or 0', value);
}

/**
 * A tensor from flat JSON values in row-major order: numbers for floats (float16 rounded to
 * nearest even; a finite number beyond the type's range is an error, not Infinity; see
 * `options.nonFiniteStrings` for NaN and ±Infinity), integers in range for the integer types
 * (int64/uint64 also as numeric strings, or numbers up to 2^53), booleans or 0/1 for bool,
 * strings for string.
 * @throws JsonElementError (an InputValidationError) naming the element index and the value
 *   received
 * @throws InputValidationError for a type onnxruntime-node cannot feed, or a count that does not
 *   match `dims`
 */
export function tensorFromJson(
  type: ElementType,
  values: readonly unknown[],
  dims: readonly number[],
  options: TensorFromJsonOptions = {},
): TensorData {
  if (!isFeedableElementType(type)) {
    throw new InputValidationError(
      `element type ${type} cannot be fed to onnxruntime-node; it feeds ${FEEDABLE_ELEMENT_TYPES.join(', ')}`,
    );
  }
  if (!isList(values)) {
    throw new InputValidationError(`tensor values must be a flat array, received ${show(values)}`);
  }
  let count: number;
  try {
    count = elementCount(dims);
  } catch (error) {
    throw new InputValidationError((error as Error).message);
  }
  if (values.length !== count) {
    throw new InputValidationError(
      `a tensor of dims ${formatDims(dims)} needs ${count} values, received ${values.length}`,
    );
  }
  const outDims = [...dims];
  const nonFiniteStrings = options.nonFiniteStrings === true;
  const data = allocateData(type, count);
  switch (type) {
    case 'string':
      for (let i = 0; i < count; i++) {
        const v = values[i];
        if (typeof v !== 'string') throw elementError(i, type, 'a string', v);
        (data as string[])[i] = v;
      }
      break;
    case 'bool':
      for (let i = 0; i < count; i++) (data as Uint8Array)[i] = toBool(i, values[i]);
      break;
    case 'float16':
      for (let i = 0; i < count; i++)
        (data as Uint16Array)[i] = halfBitsFromNumber(toFloat(i, type, values[i], nonFiniteStrings));
      break;
    case 'float32':
    case 'float64':
      for (let i = 0; i < count; i++)
        (data as Float64Array)[i] = toFloat(i, type, values[i], nonFiniteStrings);
      break;
    case 'int64':
    case 'uint64':
      for (let i = 0; i < count; i++) (data as BigInt64Array)[i] = toBigInteger(i, type, values[i]);
      break;
    default:
      for (let i = 0; i < count; i++) (data as Int32Array)[i] = toSmallInteger(i, type, values[i]);
  }
  return { type, dims: outDims, data };
}

/**
 * A tensor's elements as flat JSON values in row-major order: numbers (float16 decoded), int64
 * and uint64 as numbers when they are safe integers (|v| ≤ 2^53 − 1) and as decimal strings
 * otherwise, booleans for bool, strings for string.
 */
export function tensorToJson(tensor: TensorData): JsonTensorValue[] {
  const { type, data } = tensor;
  if (Array.isArray(data)) return [...data];
  if (type === 'bool') return Array.from(data as Uint8Array, (v) => v !== 0);
  if (type === 'float16') return Array.from(data as Uint16Array, numberFromHalfBits);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const out: JsonTensorValue[] = new Array<JsonTensorValue>(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      out[i] =
        v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
          ? Number(v)
          : v.toString();
    }
    return out;
  }
  return Array.from(data as Float64Array);
}
