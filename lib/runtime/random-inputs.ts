/**
 * Seeded random inputs for benchmarks: the same model, shapes and seed always give the same
 * bytes, for every element type onnxruntime-node can feed.
 */
import { type ModelInfo } from '../model';
import { InputShapesError, InputValidationError } from './errors';
import { halfBitsFromNumber } from './float16';
import { mulberry32 } from './prng';
import { tensorFromJson } from './tensor-json';
import {
  type FeedableElementType,
  type TensorData,
  type TensorDataArray,
  allocateData,
  elementCount,
  isFeedableElementType,
} from './tensor';
import { FEEDABLE_ELEMENT_TYPES } from '../model';

const TWO_POW_23 = 2 ** 23;
const TWO_POW_31 = 2 ** 31;
/** Integer inputs are drawn from 0 to 9: valid as indices into any table of 10 or more. */
const INTEGER_VALUES = 10;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function fill(type: FeedableElementType, count: number, next: () => number): TensorDataArray {
  const data = allocateData(type, count);
  switch (type) {
    case 'float32':
      // Multiples of 2^-23 in [-1, 1): exact in float32, so none rounds up to 1.
      for (let i = 0; i < count; i++) (data as Float32Array)[i] = (next() >>> 8) / TWO_POW_23 - 1;
      break;
    case 'float64':
      for (let i = 0; i < count; i++) (data as Float64Array)[i] = next() / TWO_POW_31 - 1;
      break;
    case 'float16':
      // Multiples of 2^-11 in [-1, 1): each is exactly a half, so no rounding up to 1.
      for (let i = 0; i < count; i++)
        (data as Uint16Array)[i] = halfBitsFromNumber((next() % 4096) / 2048 - 1);
      break;
    case 'bool':
      for (let i = 0; i < count; i++) (data as Uint8Array)[i] = next() & 1;
      break;
    case 'int64':
    case 'uint64':
      for (let i = 0; i < count; i++) (data as BigInt64Array)[i] = BigInt(next() % INTEGER_VALUES);
      break;
    case 'string':
      for (let i = 0; i < count; i++) {
        const length = 1 + (next() % 8);
        let word = '';
        for (let k = 0; k < length; k++) word += LETTERS[next() % LETTERS.length];
        (data as string[])[i] = word;
      }
      break;
    default:
      for (let i = 0; i < count; i++) (data as Int32Array)[i] = next() % INTEGER_VALUES;
  }
  return data;
}

/**
 * A tensor for every model input at the given shapes (see `resolveInputShapes`), filled from a
 * seeded generator in input order: floats (float32, float64, float16) uniform in [-1, 1),
 * integers from 0 to 9, bools 0 or 1, strings of 1 to 8 lower-case letters. An input named in
 * `fixed` has that value in every element instead (checked against its type as a request's JSON
 * data is); the others keep the values they would have had without it.
 * @throws InputShapesError when an input has no shape or an invalid one
 * @throws InputValidationError when an input is not a tensor, has a type onnxruntime-node cannot
 *   feed, or `fixed` names an input the model does not have or a value its type cannot hold
 */
export function randomInputs(
  model: ModelInfo,
  shapes: Readonly<Record<string, readonly number[]>>,
  seed: number,
  fixed: Readonly<Record<string, number>> = {},
): Record<string, TensorData> {
  for (const input of Object.keys(fixed)) {
    if (!model.inputs.some((i) => i.name === input)) {
      const names = model.inputs.map((i) => JSON.stringify(i.name)).join(', ');
      throw new InputValidationError(
        `gate.inputValues names input ${JSON.stringify(input)}, which the model does not have; its inputs are ${names}`,
      );
    }
  }
  const next = mulberry32(seed);
  const inputs: Record<string, TensorData> = {};
  for (const signature of model.inputs) {
    const name = JSON.stringify(signature.name);
    if (!signature.isTensor) {
      throw new InputValidationError(
        `input ${name} is a ${signature.kind}, which onnxruntime-node cannot feed`,
      );
    }
    const type = signature.elementType;
    if (!isFeedableElementType(type)) {
      throw new InputValidationError(
        `input ${name} is ${type}, which onnxruntime-node cannot feed; it feeds ${FEEDABLE_ELEMENT_TYPES.join(', ')}`,
      );
    }
    const dims = shapes[signature.name];
    if (dims === undefined) {
      throw new InputShapesError(
        `no shape for input ${name}; resolve the shapes with resolveInputShapes first`,
      );
    }
    let count: number;
    try {
      count = elementCount(dims);
    } catch (error) {
      throw new InputShapesError(`input ${name}: ${(error as Error).message}`);
    }
    // Drawn either way, so pinning one input leaves every other input's values as they were.
    const random = fill(type, count, next);
    const value = fixed[signature.name];
    inputs[signature.name] =
      value === undefined
        ? { type, dims: [...dims], data: random }
        : fixedTensor(type, dims, count, value, name);
  }
  return inputs;
}

/** A tensor of `count` elements, each `value`, converted and checked as JSON request data is. */
function fixedTensor(
  type: FeedableElementType,
  dims: readonly number[],
  count: number,
  value: number,
  name: string,
): TensorData {
  try {
    return tensorFromJson(type, new Array<number>(count).fill(value), dims);
  } catch (error) {
    // `element 0 of a uint8 tensor must be …, received 300` → `each element must be …`.
    const rule = (error as Error).message
      .replace(/^element 0 of an? \S+ tensor /, 'each element ')
      .replace(/, received [^;]*$/, '');
    throw new InputValidationError(
      `gate.inputValues gives input ${name} (${type}) the value ${value}, which it cannot take: ${rule}`,
      { cause: error },
    );
  }
}

/**
 * Seeded random inputs at the model's declared shapes, each symbolic dimension taken as 1: what
 * the server warms up with and the executor measures with. Or the reason there are none (an
 * input of undeclared rank, a non-tensor input, a type onnxruntime-node cannot feed).
 */
export function declaredShapeInputs(
  model: ModelInfo,
  seed: number,
): { readonly inputs: Record<string, TensorData> } | { readonly reason: string } {
  const shapes: Record<string, number[]> = {};
  for (const signature of model.inputs) {
    if (!signature.isTensor) {
      return { reason: `input ${JSON.stringify(signature.name)} is a ${signature.kind}` };
    }
    if (signature.shape === undefined) {
      return { reason: `input ${JSON.stringify(signature.name)} does not declare its rank` };
    }
    shapes[signature.name] = signature.shape.map((d) => (typeof d === 'number' ? d : 1));
  }
  try {
    return { inputs: randomInputs(model, shapes, seed) };
  } catch (error) {
    return { reason: (error as Error).message };
  }
}
