/**
 * The binary tensor data extension on the request side: an input whose values follow the JSON
 * header as raw bytes (little-endian; BOOL one byte, 0 or 1; BYTES a 4-byte little-endian length
 * and UTF-8 bytes per element), read into a tensor with one copy into an aligned typed array.
 */
import { isUtf8 } from 'node:buffer';
import { type FeedableElementType, type TensorData, allocateData, formatDims } from '../runtime';
import {
  HOST_IS_LITTLE_ENDIAN,
  OIP_ELEMENT_BYTES,
  oipDatatype,
  swapByteOrder,
} from '../runtime/oip-datatypes';
import { OipRequestError } from './oip-errors';

/** An input whose data follows the JSON header. */
export interface BinaryInput {
  readonly label: string;
  readonly name: string;
  readonly type: FeedableElementType;
  readonly dims: number[];
  readonly count: number;
  readonly size: number;
}

/**
 * The tensor of `input` from its binary section `body[start, start + size)`, copied once into an
 * aligned array.
 * @throws OipRequestError when the section's size does not fit the shape, a BOOL byte is not 0 or
 *   1, or BYTES elements overrun the section or are not UTF-8
 */
export function tensorFromBinary(input: BinaryInput, body: Buffer, start: number): TensorData {
  const { label, type, dims, count, size } = input;
  const datatype = oipDatatype(type);
  if (type === 'string') return stringsFromBinary(input, body, start);
  const width = OIP_ELEMENT_BYTES[type];
  const expected = count * width;
  if (size !== expected) {
    throw new OipRequestError(
      `${label} has parameters.binary_data_size ${size}, but ${datatype} ${formatDims(dims)} takes ${count} × ${width} = ${expected} bytes`,
    );
  }
  const data = allocateData(type, count) as Exclude<TensorData['data'], string[]>;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  bytes.set(body.subarray(start, start + size));
  if (!HOST_IS_LITTLE_ENDIAN) swapByteOrder(bytes, width);
  if (type === 'bool') {
    for (let i = 0; i < count; i++) {
      if (bytes[i] > 1) {
        throw new OipRequestError(
          `${label}: byte ${i} of its BOOL binary data is ${bytes[i]}, but a BOOL element is one byte, 1 for true or 0 for false`,
        );
      }
    }
  }
  return { type, dims, data };
}

/** BYTES elements from binary data: each a 4-byte little-endian length, then that many UTF-8 bytes. */
function stringsFromBinary(input: BinaryInput, body: Buffer, start: number): TensorData {
  const { label, dims, count, size } = input;
  if (count * 4 > size) {
    throw new OipRequestError(
      `${label} has parameters.binary_data_size ${size}, too small for ${count} BYTES elements of shape ${formatDims(dims)} (each takes a 4-byte length and its bytes)`,
    );
  }
  const end = start + size;
  const data: string[] = new Array<string>(count);
  let at = start;
  for (let i = 0; i < count; i++) {
    if (at + 4 > end) {
      throw new OipRequestError(
        `${label}: its binary data (${size} bytes) ends before the length of BYTES element ${i} of ${count}`,
      );
    }
    const length = body.readUInt32LE(at);
    at += 4;
    if (at + length > end) {
      throw new OipRequestError(
        `${label}: BYTES element ${i} says it has ${length} bytes, but only ${end - at} of its binary data (${size} bytes) are left`,
      );
    }
    const bytes = body.subarray(at, at + length);
    if (!isUtf8(bytes)) {
      throw new OipRequestError(
        `${label}: BYTES element ${i} is not valid utf-8; onnxruntime-node string tensors hold text, so send text encoded as utf-8`,
      );
    }
    data[i] = bytes.toString('utf8');
    at += length;
  }
  if (at !== end) {
    throw new OipRequestError(
      `${label} has parameters.binary_data_size ${size}, but its ${count} BYTES elements take ${at - start} bytes`,
    );
  }
  return { type: 'string', dims, data };
}
