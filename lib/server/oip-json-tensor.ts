/**
 * The JSON data of a request's input (`"data"`, flat or nested following its shape) as a tensor:
 * the nesting checked and flattened here, the values converted by lib/runtime's one converter
 * (`tensorFromJson`, with the protocol's `"NaN"`, `"Infinity"` and `"-Infinity"` for non-finite
 * floats), and its errors worded for the request.
 */
import {
  type FeedableElementType,
  FLOAT_MAX,
  InputValidationError,
  JsonElementError,
  type TensorData,
  formatDims,
  tensorFromJson,
} from '../runtime';
import { oipDatatype } from '../runtime/oip-datatypes';
import { OipRequestError } from './oip-errors';
import { brief, clip } from './oip-quote';

/** `"data"[1][2]`: where in nested data a walk is, for messages. */
function dataPath(indexes: readonly number[], depth: number): string {
  return depth === 0 ? '"data"' : `"data"[${indexes.slice(0, depth).join('][')}]`;
}

/**
 * The elements of `data` in row-major order: `data` itself when flat, or nested arrays
 * flattened after checking that their nesting follows `dims` exactly. The walk keeps its own
 * stack (no recursion on client data), never goes deeper than `dims`, and allocates the output
 * only after `count` was checked against the body's size.
 */
function flattenData(
  label: string,
  data: readonly unknown[],
  dims: readonly number[],
  count: number,
): readonly unknown[] {
  if (data.length === 0 || !Array.isArray(data[0])) {
    if (data.length !== count) {
      throw new OipRequestError(
        `${label} has ${data.length} values in "data", but shape ${formatDims(dims)} needs ${count}`,
      );
    }
    return data;
  }
  const rank = dims.length;
  if (rank < 2) {
    throw new OipRequestError(
      `${label} has nested arrays in "data", but shape ${formatDims(dims)} has rank ${rank}; send its values flat`,
    );
  }
  const levels: (readonly unknown[])[] = [data];
  const indexes: number[] = [0];
  const checkLength = (level: readonly unknown[], depth: number): void => {
    if (level.length !== dims[depth]) {
      throw new OipRequestError(
        `${label}: ${dataPath(indexes, depth)} has ${level.length} entries, but dimension ${depth} of shape ${formatDims(dims)} is ${dims[depth]}; nested data must follow the shape`,
      );
    }
  };
  checkLength(data, 0);
  const out: unknown[] = new Array<unknown>(count);
  let filled = 0;
  while (levels.length > 0) {
    const depth = levels.length - 1;
    const level = levels[depth];
    const i = indexes[depth];
    if (i === level.length) {
      levels.pop();
      indexes.pop();
      if (depth > 0) indexes[depth - 1]++;
      continue;
    }
    const entry = level[i];
    const leaf = depth === rank - 1;
    if (Array.isArray(entry) === leaf) {
      throw new OipRequestError(
        `${label}: ${dataPath(indexes, depth + 1)} is ${brief(entry)}, but at depth ${depth + 1} of shape ${formatDims(dims)} it must be ${leaf ? 'a value' : 'an array'}; nested data must follow the shape`,
      );
    }
    if (leaf) {
      out[filled++] = entry;
      indexes[depth]++;
    } else {
      indexes.push(0);
      checkLength(entry as readonly unknown[], depth + 1);
      levels.push(entry as readonly unknown[]);
    }
  }
  return out;
}

/**
 * The 400 message for a value the converter refused: for a float, in the protocol's words
 * (`element 2 of FP32 data must be…`); otherwise the converter's message with the datatype added.
 */
function elementMessage(label: string, type: FeedableElementType, error: InputValidationError): string {
  const datatype = oipDatatype(type);
  if ((type === 'float32' || type === 'float64' || type === 'float16') && error instanceof JsonElementError) {
    const { index, value, expected } = error;
    if (expected !== undefined) {
      return `${label}: element ${index} of ${datatype} data must be ${expected}, received ${brief(value)}`;
    }
    const text = Number.isFinite(value) ? brief(value) : 'a number beyond the float64 range';
    return `${label}: element ${index} of ${datatype} data is ${text}, beyond the largest ${datatype} (±${FLOAT_MAX[type]}), where it would become Infinity; scale it into range, or send "Infinity" or "-Infinity" for an infinite value`;
  }
  return `${label}: ${clip(error.message.replace(/ tensor /, ` (${datatype}) tensor `))}`;
}

/**
 * The tensor of input `label` from its JSON `data`, of `type` and shape `dims` (`count`
 * elements, checked against the body's size by the caller).
 * @throws OipRequestError naming the input, the place in `data` and the value that is wrong
 */
export function tensorFromOipJson(
  label: string,
  type: FeedableElementType,
  data: unknown,
  dims: number[],
  count: number,
): TensorData {
  if (!Array.isArray(data)) {
    throw new OipRequestError(
      `${label} needs "data", an array of its values (flat or nested), or parameters.binary_data_size with the binary data after the json header; received ${brief(data)}`,
    );
  }
  const values = flattenData(label, data, dims, count);
  try {
    return tensorFromJson(type, values, dims, { nonFiniteStrings: true });
  } catch (error) {
    if (error instanceof InputValidationError) throw new OipRequestError(elementMessage(label, type, error));
    throw error;
  }
}
