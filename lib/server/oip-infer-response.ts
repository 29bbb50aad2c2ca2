/**
 * Encodes an Open Inference Protocol (KServe V2) REST inference response: JSON with flat tensor
 * data, or a JSON header followed by the binary data of the outputs asked for as binary (the
 * binary tensor data extension).
 */
import { type TensorData, formatDims, isFeedableElementType, numberFromHalfBits } from '../runtime';
import { HOST_IS_LITTLE_ENDIAN, OIP_ELEMENT_BYTES, oipDatatype, swapByteOrder } from './oip-datatypes';
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

/** A JSON value of a tensor element. */
type JsonElement = number | boolean | string;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** `"NaN"`, `"Infinity"` or `"-Infinity"` for a non-finite number (JSON cannot hold them). */
function nonFinite(v: number): string {
  return v !== v ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

/**
 * A tensor's elements as flat JSON values: numbers (float16 decoded; non-finite floats as the
 * strings `"NaN"`, `"Infinity"`, `"-Infinity"`), int64/uint64 as numbers when |v| ≤ 2^53 − 1 and
 * as decimal strings beyond, booleans for BOOL, strings for BYTES.
 */
function jsonData(tensor: TensorData): JsonElement[] | string[] {
  const { type, data } = tensor;
  if (Array.isArray(data)) return data;
  const n = data.length;
  const out: JsonElement[] = new Array<JsonElement>(n);
  switch (type) {
    case 'float32':
    case 'float64': {
      const floats = data as Float32Array;
      for (let i = 0; i < n; i++) {
        const v = floats[i];
        out[i] = v - v === 0 ? v : nonFinite(v);
      }
      return out;
    }
    case 'float16': {
      const halves = data as Uint16Array;
      for (let i = 0; i < n; i++) {
        const v = numberFromHalfBits(halves[i]);
        out[i] = v - v === 0 ? v : nonFinite(v);
      }
      return out;
    }
    case 'bool': {
      const bytes = data as Uint8Array;
      for (let i = 0; i < n; i++) out[i] = bytes[i] !== 0;
      return out;
    }
    case 'int64':
    case 'uint64': {
      const bigs = data as BigInt64Array;
      for (let i = 0; i < n; i++) {
        const v = bigs[i];
        out[i] = v <= MAX_SAFE && v >= MIN_SAFE ? Number(v) : v.toString();
      }
      return out;
    }
    default: {
      const ints = data as Int32Array;
      for (let i = 0; i < n; i++) out[i] = ints[i];
      return out;
    }
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

/** One `$response_output` object. */
interface ResponseOutput {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: { binary_data_size: number };
  data?: JsonElement[] | string[];
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
 * byte length. The JSON is built with a single `JSON.stringify`.
 * @throws RangeError when a requested output is missing from `outputs` or has a type
 *   onnxruntime-node cannot fetch (a server bug, not a bad request)
 */
export function encodeInferResponse(response: InferResponse): EncodedBody {
  const { requested, outputs } = response;
  const entries: ResponseOutput[] = new Array<ResponseOutput>(requested.length);
  const sections: Uint8Array[] = [];
  let binaryBytes = 0;
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
    const entry: ResponseOutput = { name, datatype: oipDatatype(tensor.type), shape: [...tensor.dims] };
    if (binary) {
      const section = binaryData(tensor);
      entry.parameters = { binary_data_size: section.byteLength };
      sections.push(section);
      binaryBytes += section.byteLength;
    } else {
      entry.data = jsonData(tensor);
    }
    entries[i] = entry;
  }
  const json: Record<string, unknown> = { model_name: response.modelName };
  if (response.modelVersion !== undefined) json.model_version = response.modelVersion;
  if (response.id !== undefined) json.id = response.id;
  if (response.parameters !== undefined) json.parameters = response.parameters;
  json.outputs = entries;
  const text = JSON.stringify(json);
  if (sections.length === 0) {
    return { body: Buffer.from(text, 'utf8'), contentType: 'application/json' };
  }
  const headerLength = Buffer.byteLength(text, 'utf8');
  const body = Buffer.allocUnsafe(headerLength + binaryBytes);
  body.write(text, 0, 'utf8');
  let at = headerLength;
  for (const section of sections) {
    body.set(section, at);
    at += section.byteLength;
  }
  return { body, contentType: 'application/octet-stream', headerLength };
}
