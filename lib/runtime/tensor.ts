/**
 * Tensors as plain data, the way onnxruntime-node holds them (`Tensor.type`, `dims`, `data`), so
 * they cross worker threads by structured clone and convert to and from onnxruntime tensors
 * without copying. Also the row operations the batcher needs.
 */
import { type ElementType, FEEDABLE_ELEMENT_TYPES } from '../model';

/** An element type onnxruntime-node can feed; see {@link FEEDABLE_ELEMENT_TYPES}. */
export type FeedableElementType = (typeof FEEDABLE_ELEMENT_TYPES)[number];

/** The data array of a tensor, by element type: float16 as IEEE half bits, bool as 0/1 bytes. */
export interface TensorDataArrays {
  float32: Float32Array;
  uint8: Uint8Array;
  int8: Int8Array;
  uint16: Uint16Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  string: string[];
  bool: Uint8Array;
  float16: Uint16Array;
  float64: Float64Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
}

/** Any tensor data array. */
export type TensorDataArray = TensorDataArrays[FeedableElementType];

/**
 * A dense tensor as plain data, matching onnxruntime-node's `Tensor` (`type`, `dims`, `data`):
 * `data` holds the elements in row-major order, float16 as IEEE half bits in a `Uint16Array` and
 * bool as 0/1 in a `Uint8Array`.
 */
export interface TensorData {
  readonly type: ElementType;
  readonly dims: readonly number[];
  readonly data:
    | Float32Array
    | Float64Array
    | Uint16Array
    | Int8Array
    | Uint8Array
    | Int16Array
    | Int32Array
    | Uint32Array
    | BigInt64Array
    | BigUint64Array
    | string[];
}

type NumericType = Exclude<FeedableElementType, 'string'>;
type TypedArrayConstructor = {
  new (length: number): Exclude<TensorDataArray, string[]>;
  readonly name: string;
};

/** The typed array class that holds each numeric element type. */
const TYPED_ARRAYS: Readonly<Record<NumericType, TypedArrayConstructor>> = {
  float32: Float32Array,
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
  float16: Uint16Array,
  float64: Float64Array,
  uint32: Uint32Array,
  uint64: BigUint64Array,
};

/** True for the element types onnxruntime-node can feed. */
export function isFeedableElementType(type: string): type is FeedableElementType {
  return (FEEDABLE_ELEMENT_TYPES as readonly string[]).includes(type);
}

/**
 * The name of the array class that holds `type` (`'Float32Array'`, `'Array'` for strings), or
 * undefined for a type onnxruntime-node cannot feed.
 */
export function dataClassFor(type: ElementType): string | undefined {
  if (type === 'string') return 'Array';
  return isFeedableElementType(type) ? TYPED_ARRAYS[type].name : undefined;
}

/** The class name of a data array as received (`'Float64Array'`, `'Array'`, `'undefined'`). */
export function dataClassOf(data: unknown): string {
  if (Array.isArray(data)) return 'Array';
  if (ArrayBuffer.isView(data)) return data.constructor.name;
  if (data === null) return 'null';
  if (typeof data === 'object') return data.constructor?.name ?? 'Object';
  return typeof data;
}

/** True when `data` is the array class onnxruntime-node expects for `type`. */
export function dataFitsType(type: ElementType, data: unknown): boolean {
  if (type === 'string') return Array.isArray(data);
  if (!isFeedableElementType(type)) return false;
  return data instanceof TYPED_ARRAYS[type];
}

/** A zero-filled data array of `length` elements for `type` (`''` for strings). */
export function allocateData(type: FeedableElementType, length: number): TensorDataArray {
  if (type === 'string') return new Array<string>(length).fill('');
  return new TYPED_ARRAYS[type](length);
}

/** `[2, 3]` → `'[2, 3]'`, for messages. */
export function formatDims(dims: readonly (number | string)[] | undefined): string {
  if (dims === undefined) return '(unknown rank)';
  return `[${dims.map((d) => (typeof d === 'string' ? (d === '' ? '?' : d) : String(d))).join(', ')}]`;
}

/**
 * The number of elements of a tensor with these dims: their product, 1 for a scalar (`[]`).
 * Throws a RangeError when a dim is not a non-negative integer.
 */
export function elementCount(dims: readonly number[]): number {
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new RangeError(
        `invalid tensor dims ${formatDims(dims)}: ${String(d)} is not a non-negative integer`,
      );
    }
    count *= d;
  }
  return count;
}

/** Elements in one row (dims after dim 0) of a tensor of rank ≥ 1. */
function rowSize(dims: readonly number[]): number {
  return elementCount(dims.slice(1));
}

/**
 * Stacks tensors along dimension 0 into a new tensor (the batcher's input). All must have the
 * same element type, a rank of at least 1 and the same dims after dim 0. The data is copied once
 * into a fresh array the caller owns.
 */
export function concatAlongDim0(tensors: readonly TensorData[]): TensorData {
  const first = tensors[0];
  if (first === undefined) throw new RangeError('concatAlongDim0 needs at least one tensor, received none');
  if (first.dims.length === 0) throw new RangeError('cannot concatenate scalars along dimension 0');
  const tail = first.dims.slice(1);
  let rows = 0;
  for (const [i, t] of tensors.entries()) {
    if (t.type !== first.type) {
      throw new TypeError(`tensor ${i} is ${t.type}; tensor 0 is ${first.type}; cannot concatenate`);
    }
    if (t.dims.length !== first.dims.length || t.dims.some((d, k) => k > 0 && d !== first.dims[k])) {
      throw new RangeError(
        `tensor ${i} has dims ${formatDims(t.dims)}; tensor 0 has ${formatDims(first.dims)}; only dimension 0 may differ`,
      );
    }
    rows += t.dims[0];
  }
  const dims = [rows, ...tail];
  if (Array.isArray(first.data)) {
    return { type: first.type, dims, data: tensors.flatMap((t) => t.data as string[]) };
  }
  const typed = first.data;
  const Ctor = typed.constructor as new (length: number) => typeof typed;
  const data = new Ctor(elementCount(dims));
  let offset = 0;
  for (const t of tensors) {
    const part = t.data as typeof typed;
    (data as { set(source: typeof part, offset: number): void }).set(part, offset);
    offset += part.length;
  }
  return { type: first.type, dims, data };
}

/**
 * Splits a tensor along dimension 0 into consecutive parts of `rowCounts` rows (the batcher's
 * outputs). The counts must add up to dim 0. Each part gets its own copy of its rows, so parts
 * can be handed to different callers (and transferred) independently.
 */
export function splitAlongDim0(tensor: TensorData, rowCounts: readonly number[]): TensorData[] {
  if (tensor.dims.length === 0) throw new RangeError('cannot split a scalar along dimension 0');
  const total = rowCounts.reduce((a, b) => a + b, 0);
  if (total !== tensor.dims[0]) {
    throw new RangeError(
      `row counts [${rowCounts.join(', ')}] add up to ${total}, but dimension 0 of ${formatDims(tensor.dims)} is ${tensor.dims[0]}`,
    );
  }
  const size = rowSize(tensor.dims);
  const tail = tensor.dims.slice(1);
  let start = 0;
  return rowCounts.map((rows) => {
    const end = start + rows * size;
    const data = tensor.data.slice(start, end);
    start = end;
    return { type: tensor.type, dims: [rows, ...tail], data };
  });
}
