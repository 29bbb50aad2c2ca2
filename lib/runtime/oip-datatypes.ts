/**
 * Element types to and from the Open Inference Protocol's tensor datatypes (`FP32`, `INT64`,
 * `BYTES`, …), and the byte size of each in the binary tensor data extension.
 */
import { type ElementType } from '../model';
import { type FeedableElementType } from './tensor';

/**
 * The protocol datatype of each element type. The first fourteen are the protocol's own names
 * (KServe V2 and Triton, `BF16` included); the ONNX types the protocol does not name (complex,
 * float8, float4, 4- and 2-bit integers) are reported by their ONNX name in upper case, so model
 * metadata can still describe a model that uses them.
 */
const OIP_DATATYPES: Readonly<Record<ElementType, string>> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
  bfloat16: 'BF16',
  complex64: 'COMPLEX64',
  complex128: 'COMPLEX128',
  float8e4m3fn: 'FLOAT8E4M3FN',
  float8e4m3fnuz: 'FLOAT8E4M3FNUZ',
  float8e5m2: 'FLOAT8E5M2',
  float8e5m2fnuz: 'FLOAT8E5M2FNUZ',
  uint4: 'UINT4',
  int4: 'INT4',
  float4e2m1: 'FLOAT4E2M1',
  float8e8m0: 'FLOAT8E8M0',
  uint2: 'UINT2',
  int2: 'INT2',
};

/** The feedable element type of each protocol datatype. */
const FEEDABLE_BY_DATATYPE: ReadonlyMap<string, FeedableElementType> = new Map<string, FeedableElementType>([
  ['BOOL', 'bool'],
  ['UINT8', 'uint8'],
  ['UINT16', 'uint16'],
  ['UINT32', 'uint32'],
  ['UINT64', 'uint64'],
  ['INT8', 'int8'],
  ['INT16', 'int16'],
  ['INT32', 'int32'],
  ['INT64', 'int64'],
  ['FP16', 'float16'],
  ['FP32', 'float32'],
  ['FP64', 'float64'],
  ['BYTES', 'string'],
]);

/**
 * Bytes per element in the binary tensor data extension (little-endian, native size; `BOOL` one
 * byte), for the fixed-size feedable types. `string` (`BYTES`) has no fixed size: each element
 * is a 4-byte little-endian length followed by its bytes.
 */
export const OIP_ELEMENT_BYTES: Readonly<Record<Exclude<FeedableElementType, 'string'>, number>> = {
  bool: 1,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  float16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  uint64: 8,
  int64: 8,
  float64: 8,
};

/**
 * The protocol datatype of an element type: `'float32'` → `'FP32'`, `'string'` → `'BYTES'`,
 * `'bool'` → `'BOOL'`, `'float16'` → `'FP16'`, `'bfloat16'` → `'BF16'`, `'int64'` → `'INT64'`.
 * Types the protocol does not name come back as their ONNX name in upper case (`'COMPLEX64'`).
 */
export function oipDatatype(type: ElementType): string {
  return OIP_DATATYPES[type];
}

/**
 * The element type onnxruntime-node feeds for a protocol datatype (`'FP32'` → `'float32'`,
 * `'BYTES'` → `'string'`), or undefined for a datatype it cannot feed (`'BF16'`) or that the
 * protocol does not define. Datatypes are case-sensitive, as the protocol spells them.
 */
export function elementTypeForOip(datatype: string): FeedableElementType | undefined {
  return FEEDABLE_BY_DATATYPE.get(datatype);
}

/** True on a little-endian host (every platform Node ships for today but s390x). */
export const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reverses the byte order of each `width`-byte element of `bytes` in place, to convert between
 * the binary extension's little-endian data and a big-endian host's typed arrays. `bytes.length`
 * must be a multiple of `width`; a width of 1 leaves the bytes as they are.
 */
export function swapByteOrder(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  if (!Number.isInteger(width) || width < 1 || bytes.length % width !== 0) {
    throw new RangeError(`cannot swap ${bytes.length} bytes in elements of ${width} bytes`);
  }
  const half = width >> 1;
  for (let start = 0; start < bytes.length; start += width) {
    for (let k = 0; k < half; k++) {
      const a = start + k;
      const b = start + width - 1 - k;
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}
