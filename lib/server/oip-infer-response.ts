/**
 * Encodes an Open Inference Protocol (KServe V2) REST inference response: JSON with flat tensor
 * data, or a JSON header followed by the binary data of the outputs asked for as binary (the
 * binary tensor data extension).
 */
import { type TensorData, formatDims, isFeedableElementType, numberFromHalfBits } from '../runtime';
import {
  HOST_IS_LITTLE_ENDIAN,
  OIP_ELEMENT_BYTES,
  oipDatatype,
  swapByteOrder,
} from '../runtime/oip-datatypes';
import { type RequestedOutput } from './oip-infer-request';

/** An encoded response body. */
export interface EncodedBody {
  readonly body: Buffer;
  /** `'application/octet-stream'` when binary sections follow the JSON header, else `'application/json'`. */
  readonly contentType: string;
  /**
   * The JSON header's byte length, for the `Inference-Header-Content-Length` response header;
   * set only when binary sections follow the JSON header.
   */
  readonly headerLength?: number;
}

/** What {@link encodeInferResponse} encodes. */
export interface InferResponse {
  readonly modelName: string;
  /**
   * The model version to report as `model_version`.
   * @default undefined (left out)
   */
  readonly modelVersion?: string;
  /**
   * The request's `id`, echoed.
   * @default undefined (left out)
   */
  readonly id?: string;
  /** The model's outputs by name; each requested output must be here. */
  readonly outputs: Readonly<Record<string, TensorData>>;
  /** The outputs to return, in order, and which go back as binary data. */
  readonly requested: readonly RequestedOutput[];
  /**
   * Response-level `parameters`.
   * @default undefined (left out)
   */
  readonly parameters?: Readonly<Record<string, unknown>>;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** The JSON text of a float: the number, or `"NaN"`, `"Infinity"`, `"-Infinity"` (JSON cannot hold them). */
function floatText(v: number): string {
  if (v - v === 0) return String(v); // the same digits JSON.stringify writes (-0 as 0)
  return v !== v ? '"NaN"' : v > 0 ? '"Infinity"' : '"-Infinity"';
}

/** True when every element is finite, so the array's own `join` writes its JSON. */
function allFinite(values: Float32Array | Float64Array): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) return false;
  }
  return true;
}

/**
 * A tensor's elements as a flat JSON array, written as text: numbers (float16 decoded; non-finite
 * floats as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`), int64/uint64 as numbers when
 * |v| ≤ 2^53 − 1 and as decimal strings beyond, booleans for BOOL, strings for BYTES. The text is
 * what `JSON.stringify` writes for those values, without building them as an array first.
 */
function jsonDataText(tensor: TensorData): string {
  const { type, data } = tensor;
  if (Array.isArray(data)) return JSON.stringify(data);
  const n = data.length;
  switch (type) {
    case 'float32':
    case 'float64': {
      const floats = data as Float32Array | Float64Array;
      if (allFinite(floats)) return `[${floats.join(',')}]`;
      let text = '[';
      for (let i = 0; i < n; i++) text += (i === 0 ? '' : ',') + floatText(floats[i]);
      return `${text}]`;
    }
    case 'float16': {
      const halves = data as Uint16Array;
      let text = '[';
      for (let i = 0; i < n; i++) text += (i === 0 ? '' : ',') + floatText(numberFromHalfBits(halves[i]));
      return `${text}]`;
    }
    case 'bool': {
      const bytes = data as Uint8Array;
      let text = '[';
      for (let i = 0; i < n; i++) text += (i === 0 ? '' : ',') + (bytes[i] !== 0 ? 'true' : 'false');
      return `${text}]`;
    }
    case 'int64':
    case 'uint64': {
      const bigs = data as BigInt64Array;
      let text = '[';
      for (let i = 0; i < n; i++) {
        const v = bigs[i];
        const digits = v.toString();
        text += (i === 0 ? '' : ',') + (v <= MAX_SAFE && v >= MIN_SAFE ? digits : `"${digits}"`);
      }
      return `${text}]`;
    }
    default:
      return `[${(data as Int32Array).join(',')}]`;
  }
}

/**
 * A tensor's binary section: its typed array's own bytes (no copy) on a little-endian host; BYTES
 * as a 4-byte little-endian length and the UTF-8 bytes of each element.
 */
function binaryData(tensor: TensorData): Uint8Array {
  const { type, data } = tensor;
  if (Array.isArray(data)) {
    let size = 0;
    for (let i = 0; i < data.length; i++) size += 4 + Buffer.byteLength(data[i], 'utf8');
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (let i = 0; i < data.length; i++) {
      const written = out.write(data[i], at + 4, 'utf8');
      out.writeUInt32LE(written, at);
      at += 4 + written;
    }
    return out;
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_IS_LITTLE_ENDIAN || type === 'string') return bytes;
  const swapped = bytes.slice();
  swapByteOrder(swapped, OIP_ELEMENT_BYTES[type as keyof typeof OIP_ELEMENT_BYTES]);
  return swapped;
}

/**
 * Encodes an inference response: `{ model_name, model_version?, id?, parameters?, outputs }`
 * with the requested outputs in order, each `{ name, datatype, shape, data }` with flat data.
 *
 * JSON data: FP16/FP32/FP64 as numbers (float32 values written as the doubles they are, e.g.
 * `0.10000000149011612`, which read back to the same float32); NaN and ±Infinity, which JSON
 * cannot hold, as the strings `"NaN"`, `"Infinity"` and `"-Infinity"` (which `decodeInferRequest`,
 * JavaScript's `Number()` and Python's `float()` all read back); INT64/UINT64 as numbers when
 * |v| ≤ 2^53 − 1 and as decimal strings beyond, so no value is silently rounded; BOOL as
 * booleans; BYTES as strings.
 *
 * Outputs requested as binary carry `parameters: { binary_data_size }` and no `data`; their bytes
 * follow the JSON header in output order (little-endian, BOOL one byte, BYTES a 4-byte
 * little-endian length and the UTF-8 bytes per element), and `headerLength` is the header's
 * byte length. The JSON text is what `JSON.stringify` writes for that object.
 * @throws RangeError when a requested output is missing from `outputs` or has a type
 *   onnxruntime-node cannot fetch (a server bug, not a bad request)
 */
export function encodeInferResponse(response: InferResponse): EncodedBody {
  return joinInferResponseParts(encodeInferResponseParts(response));
}

/** The body of {@link InferResponseParts}: the JSON alone, or the JSON header and the binary sections in one buffer. */
export function joinInferResponseParts(parts: InferResponseParts): EncodedBody {
  const { json, sections, binaryBytes } = parts;
  if (sections.length === 0) {
    return { body: Buffer.from(json, 'utf8'), contentType: 'application/json' };
  }
  const headerLength = Buffer.byteLength(json, 'utf8');
  const body = Buffer.allocUnsafe(headerLength + binaryBytes);
  body.write(json, 0, 'utf8');
  let at = headerLength;
  for (const section of sections) {
    body.set(section, at);
    at += section.byteLength;
  }
  return { body, contentType: 'application/octet-stream', headerLength };
}

/** An inference response before it is put into one buffer: see {@link encodeInferResponseParts}. */
export interface InferResponseParts {
  /** The JSON (the whole body when `sections` is empty, else the header before them). */
  readonly json: string;
  /** The binary sections that follow the JSON header, in output order; empty for a JSON-only body. */
  readonly sections: readonly Uint8Array[];
  /** The sections' total byte length. */
  readonly binaryBytes: number;
}

/**
 * What {@link encodeInferResponse} encodes, as the JSON text and the binary sections apart, so a
 * server can write a JSON-only answer as a string (no buffer copy). The text is exactly what
 * `JSON.stringify` writes for the response object, built without the intermediate objects.
 * @throws RangeError as {@link encodeInferResponse}
 */
export function encodeInferResponseParts(response: InferResponse): InferResponseParts {
  const { requested, outputs } = response;
  const sections: Uint8Array[] = [];
  let binaryBytes = 0;
  let entries = '';
  for (let i = 0; i < requested.length; i++) {
    const { name, binary } = requested[i];
    const tensor = Object.prototype.hasOwnProperty.call(outputs, name) ? outputs[name] : undefined;
    if (tensor === undefined) {
      throw new RangeError(
        `output ${JSON.stringify(name)} was requested but is not among the model's results (${Object.keys(
          outputs,
        )
          .map((k) => JSON.stringify(k))
          .join(', ')})`,
      );
    }
    if (!isFeedableElementType(tensor.type)) {
      throw new RangeError(
        `output ${JSON.stringify(name)} is ${tensor.type} ${formatDims(tensor.dims)}, which onnxruntime-node cannot return`,
      );
    }
    let entry = `{"name":${JSON.stringify(name)},"datatype":"${oipDatatype(tensor.type)}","shape":[${tensor.dims.join(',')}]`;
    if (binary) {
      const section = binaryData(tensor);
      entry += `,"parameters":{"binary_data_size":${section.byteLength}}}`;
      sections.push(section);
      binaryBytes += section.byteLength;
    } else {
      entry += `,"data":${jsonDataText(tensor)}}`;
    }
    entries += i === 0 ? entry : `,${entry}`;
  }
  let json = `{"model_name":${JSON.stringify(response.modelName)}`;
  if (response.modelVersion !== undefined)
    json += `,"model_version":${JSON.stringify(response.modelVersion)}`;
  if (response.id !== undefined) json += `,"id":${JSON.stringify(response.id)}`;
  if (response.parameters !== undefined) json += `,"parameters":${JSON.stringify(response.parameters)}`;
  json += `,"outputs":[${entries}]}`;
  return { json, sections, binaryBytes };
}
