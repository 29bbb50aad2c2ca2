/**
 * Inference requests as clients send them to the served model: Open Inference Protocol JSON
 * (`{"inputs":[{"name","shape","datatype","data"}]}`), or the binary tensor data extension (a
 * JSON header naming each input's `binary_data_size`, the raw little-endian bytes after it, its
 * length in `Inference-Header-Content-Length`). Encoded once, before the load starts, so the load
 * generator only writes buffers.
 */
import {
  HOST_IS_LITTLE_ENDIAN,
  OIP_ELEMENT_BYTES,
  oipDatatype,
  swapByteOrder,
  type TensorData,
  tensorToJson,
} from '../runtime';
import { encodeHttpRequest } from './http-client';

/** How the gate's requests carry their tensors. */
export type RequestEncoding = 'json' | 'binary';

/** One request's body and the headers it needs. */
export interface InferRequestBody {
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/** The raw bytes of a tensor in the binary extension: little-endian elements; BYTES as length-prefixed strings. */
function tensorBytes(tensor: TensorData): Buffer {
  const { data } = tensor;
  if (Array.isArray(data)) {
    const parts = data.flatMap((s) => {
      const bytes = Buffer.from(String(s), 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    });
    return Buffer.concat(parts);
  }
  const view = data;
  const bytes = Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  if (HOST_IS_LITTLE_ENDIAN) return bytes;
  const copy = Buffer.from(bytes);
  swapByteOrder(copy, OIP_ELEMENT_BYTES[tensor.type as keyof typeof OIP_ELEMENT_BYTES]);
  return copy;
}

/** One request for these inputs, in the given encoding. */
export function encodeInferRequest(
  inputs: Readonly<Record<string, TensorData>>,
  encoding: RequestEncoding,
): InferRequestBody {
  const entries = Object.entries(inputs);
  if (encoding === 'json') {
    const body = {
      inputs: entries.map(([name, t]) => ({
        name,
        shape: t.dims,
        datatype: oipDatatype(t.type),
        data: tensorToJson(t),
      })),
    };
    return { body: Buffer.from(JSON.stringify(body)), headers: { 'Content-Type': 'application/json' } };
  }
  const raw = entries.map(([, t]) => tensorBytes(t));
  const header = Buffer.from(
    JSON.stringify({
      inputs: entries.map(([name, t], i) => ({
        name,
        shape: t.dims,
        datatype: oipDatatype(t.type),
        parameters: { binary_data_size: raw[i].length },
      })),
      parameters: { binary_data_output: true },
    }),
  );
  return {
    body: Buffer.concat([header, ...raw]),
    headers: {
      'Content-Type': 'application/octet-stream',
      'Inference-Header-Content-Length': String(header.length),
    },
  };
}

/**
 * `count` complete HTTP requests (request line, headers, body) to `url`, each from the next inputs
 * of the source: the ring the load generator cycles through.
 */
export function encodeInferRequests(
  url: string,
  nextInputs: () => Readonly<Record<string, TensorData>>,
  encoding: RequestEncoding,
  count: number,
): Buffer[] {
  return Array.from({ length: count }, () => {
    const { body, headers } = encodeInferRequest(nextInputs(), encoding);
    return encodeHttpRequest({ url, body, headers });
  });
}
