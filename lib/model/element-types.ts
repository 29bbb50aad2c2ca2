import { type ElementType } from './model-info';

/**
 * ONNX `TensorProto.DataType` codes to element type names, by code (index 0 is UNDEFINED). The
 * names for codes 1 to 13 are onnxruntime-node's; the others are the ONNX names in lower case.
 */
/**
 * The element types onnxruntime-node can feed and fetch (its `Tensor.Type`), which are exactly
 * ONNX `DataType` codes 1 to 13, in code order.
 */
export const FEEDABLE_ELEMENT_TYPES = [
  'float32',
  'uint8',
  'int8',
  'uint16',
  'int16',
  'int32',
  'int64',
  'string',
  'bool',
  'float16',
  'float64',
  'uint32',
  'uint64',
] as const satisfies readonly ElementType[];

const ELEMENT_TYPE_BY_CODE: readonly (ElementType | undefined)[] = [
  undefined,
  ...FEEDABLE_ELEMENT_TYPES,
  'complex64',
  'complex128',
  'bfloat16',
  'float8e4m3fn',
  'float8e4m3fnuz',
  'float8e5m2',
  'float8e5m2fnuz',
  'uint4',
  'int4',
  'float4e2m1',
  'float8e8m0',
  'uint2',
  'int2',
];

/** The element type of an ONNX `DataType` code, or undefined for 0 (UNDEFINED) and unknown codes. */
export function elementTypeOfCode(code: number): ElementType | undefined {
  return Number.isInteger(code) && code >= 0 ? ELEMENT_TYPE_BY_CODE[code] : undefined;
}

/** The largest `DataType` code modelfab knows. */
export const MAX_KNOWN_ELEMENT_TYPE_CODE = ELEMENT_TYPE_BY_CODE.length - 1;
