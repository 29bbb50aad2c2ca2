/**
 * Tensors to and from flat JSON values (the Open Inference Protocol's JSON tensors, dataset
 * files): numbers, booleans and strings, with exact integer handling for int64/uint64.
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

/** Array.isArray without narrowing to `any[]`. */
function isList(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

/** `an int8`, `a uint8`, `a float32`. */
function article(type: string): string {
  return type.startsWith('int') ? 'an' : 'a';
}

function elementError(index: number, type: string, expected: string, value: unknown): InputValidationError {
  return new InputValidationError(
    `element ${index} of ${article(type)} ${type} tensor must be ${expected}, received ${show(value)}`,
  );
}

function toNumber(index: number, type: FloatElementType, value: unknown): number {
  if (typeof value !== 'number') throw elementError(index, type, 'a number', value);
  if (overflowsFloat(type, value)) {
    throw new InputValidationError(
      `element ${index} of ${article(type)} ${type} tensor is ${show(value)}, beyond the largest ${type} (±${FLOAT_MAX[type]}), where it would become Infinity; scale it into range`,
    );
  }
  return value;
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
      throw new InputValidationError(
        `element ${index} of ${article(type)} ${type} tensor is ${show(value)}, beyond 2^53, where json numbers lose precision; send it as a string`,
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
 * nearest even; a finite number beyond the type's range is an error, not Infinity), integers in range for the integer types (int64/uint64 also as numeric strings,
 * or numbers up to 2^53), booleans or 0/1 for bool, strings for string.
 * @throws InputValidationError naming the element index and the value received, or a count that
 *   does not match `dims`
 */
export function tensorFromJson(
  type: ElementType,
  values: readonly unknown[],
  dims: readonly number[],
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
        (data as Uint16Array)[i] = halfBitsFromNumber(toNumber(i, type, values[i]));
      break;
    case 'float32':
    case 'float64':
      for (let i = 0; i < count; i++) (data as Float64Array)[i] = toNumber(i, type, values[i]);
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
