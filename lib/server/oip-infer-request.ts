/**
 * Decodes an Open Inference Protocol (KServe V2) REST inference request into tensors for the
 * executor: the JSON body, or a JSON header followed by binary tensor data (the binary tensor
 * data extension). Everything a request can get wrong about the protocol or the model's
 * signature (names, datatypes, shapes, data counts, byte sizes) is an {@link OipRequestError}.
 *
 * This file reads the request's envelope (id, parameters, inputs, outputs, shapes, the split
 * between JSON header and binary data); an input's values are read by oip-json-tensor.ts (JSON
 * data) and oip-binary-tensor.ts (binary data).
 */
import { type ModelInfo, type TensorSignature, type ValueSignature } from '../model';
import { type TensorData, formatDims } from '../runtime';
import { type BinaryInput, tensorFromBinary } from './oip-binary-tensor';
import { elementTypeForOip, oipDatatype } from '../runtime/oip-datatypes';
import { OipRequestError } from './oip-errors';
import { brief, clip } from './oip-quote';
import { tensorFromOipJson } from './oip-json-tensor';

/** An output the request asks for, and whether it wants it as binary data. */
export interface RequestedOutput {
  readonly name: string;
  /** True when the output goes back as binary data after the JSON header. */
  readonly binary: boolean;
}

/** A decoded inference request. */
export interface DecodedInferRequest {
  /** The request's `id`, to echo in the response. */
  readonly id?: string;
  /** The input tensors by name: exactly the model's inputs. */
  readonly inputs: Record<string, TensorData>;
  /** Outputs to return, in order: the request's `outputs` list, or every model output when it has none. */
  readonly outputs: readonly RequestedOutput[];
  /** The request's `parameters` (`{}` when it has none), `binary_data_output` included. */
  readonly parameters: Readonly<Record<string, unknown>>;
}

/** What {@link decodeInferRequest} needs besides the body. */
export interface DecodeInferRequestOptions {
  /**
   * The `Inference-Header-Content-Length` header's value: the body is a JSON header of this many
   * bytes followed by binary tensor data. Undefined when the request has no such header: the
   * whole body is JSON.
   * @default undefined
   */
  readonly headerLength?: number;
  /** The model the request is for. */
  readonly model: ModelInfo;
}

function quoted(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The model's inputs and outputs by name, worked out once per model. */
interface ModelIndex {
  readonly inputs: ReadonlyMap<string, ValueSignature>;
  readonly outputs: ReadonlyMap<string, ValueSignature>;
  readonly inputsPhrase: string;
  readonly outputsPhrase: string;
}

const MODEL_INDEXES = new WeakMap<ModelInfo, ModelIndex>();

function indexOf(model: ModelInfo): ModelIndex {
  let index = MODEL_INDEXES.get(model);
  if (index === undefined) {
    const inputNames = model.inputs.map((i) => i.name);
    const outputNames = model.outputs.map((o) => o.name);
    index = {
      inputs: new Map(model.inputs.map((i) => [i.name, i])),
      outputs: new Map(model.outputs.map((o) => [o.name, o])),
      inputsPhrase:
        inputNames.length === 0 ? 'the model has no inputs' : `the model's inputs are ${quoted(inputNames)}`,
      outputsPhrase:
        outputNames.length === 0
          ? 'the model has no outputs'
          : `the model's outputs are ${quoted(outputNames)}`,
    };
    MODEL_INDEXES.set(model, index);
  }
  return index;
}

/** Line and column (1-based) of a character offset in `text`. */
function lineAndColumn(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

function parseJson(body: Buffer, length: number, binary: boolean): unknown {
  const text = body.toString('utf8', 0, length);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    // V8's message says where (a position, or a short excerpt around the fault); add line and column.
    const raw = (error as Error).message;
    const message = raw.charAt(0).toLowerCase() + raw.slice(1);
    const position = /at position (\d+)/.exec(message);
    const where = position ? ` (${lineAndColumn(text, Number(position[1]))})` : '';
    const what = binary
      ? `the request's json header (the first ${length} bytes, per Inference-Header-Content-Length)`
      : 'the request body';
    throw new OipRequestError(
      `${what} is not valid json: ${clip(message)}${where}; send a json object { "inputs": [...] }`,
    );
  }
}

function checkHeaderLength(headerLength: number, bodyLength: number): void {
  if (!Number.isSafeInteger(headerLength) || headerLength < 0 || headerLength > bodyLength) {
    throw new OipRequestError(
      `Inference-Header-Content-Length is ${brief(headerLength)}, but it must be the byte length of the json header, an integer from 0 to the body's ${bodyLength} bytes`,
    );
  }
}

/**
 * The most dimensions an input of unknown rank may have. An input whose rank the model declares
 * must have exactly that rank.
 */
export const MAX_UNDECLARED_RANK = 32;

/**
 * The shape of an input: non-negative integers whose product is a safe integer, as many as the
 * model's signature declares (at most {@link MAX_UNDECLARED_RANK} when it declares none). Checked
 * before any data is looked at, so nested data is never walked deeper than the declared rank.
 */
function readShape(
  label: string,
  shape: unknown,
  signature: TensorSignature,
): { dims: number[]; count: number } {
  if (!Array.isArray(shape)) {
    throw new OipRequestError(
      `${label} needs "shape", an array of non-negative integers; received ${brief(shape)}`,
    );
  }
  const declared = signature.shape;
  if (declared !== undefined && shape.length !== declared.length) {
    throw new OipRequestError(
      `${label} has shape ${brief(shape)} (rank ${shape.length}); the model expects rank ${declared.length}: ${formatDims(declared)}`,
    );
  }
  if (declared === undefined && shape.length > MAX_UNDECLARED_RANK) {
    throw new OipRequestError(
      `${label} has a shape of rank ${shape.length}; this server takes at most ${MAX_UNDECLARED_RANK} dimensions for an input whose rank the model does not declare`,
    );
  }
  const dims: number[] = new Array<number>(shape.length);
  let count = 1;
  for (let k = 0; k < shape.length; k++) {
    const d: unknown = shape[k];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new OipRequestError(
        `${label} has shape ${brief(shape)}: dimension ${k} is ${brief(d)}, but every dimension must be a non-negative integer`,
      );
    }
    dims[k] = d;
    count *= d;
  }
  if (!Number.isSafeInteger(count)) {
    throw new OipRequestError(`${label} has shape ${formatDims(dims)}, whose element count is too large`);
  }
  return { dims, count };
}

function readParameters(label: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) {
    throw new OipRequestError(`${label} "parameters" must be an object, received ${brief(value)}`);
  }
  return value;
}

function readOutputs(
  outputs: unknown,
  index: ModelIndex,
  model: ModelInfo,
  binaryByDefault: boolean,
): RequestedOutput[] {
  if (outputs === undefined) {
    return model.outputs.filter((o) => o.isTensor).map((o) => ({ name: o.name, binary: binaryByDefault }));
  }
  if (!Array.isArray(outputs)) {
    throw new OipRequestError(
      `"outputs" must be an array of { "name": ... } objects (or left out for every output), received ${brief(outputs)}`,
    );
  }
  const requested: RequestedOutput[] = new Array<RequestedOutput>(outputs.length);
  const seen = new Set<string>();
  for (let i = 0; i < outputs.length; i++) {
    const output: unknown = outputs[i];
    if (!isRecord(output) || typeof output.name !== 'string') {
      throw new OipRequestError(
        `"outputs"[${i}] must be an object with a string "name", received ${brief(output)}; ${index.outputsPhrase}`,
      );
    }
    const name = output.name;
    const label = `output ${JSON.stringify(name)}`;
    const signature = index.outputs.get(name);
    if (signature === undefined) {
      throw new OipRequestError(
        `unknown output ${JSON.stringify(name)} in "outputs"; ${index.outputsPhrase}`,
      );
    }
    if (!signature.isTensor) {
      throw new OipRequestError(
        `${label} is a ${signature.kind}, which the protocol cannot return as a tensor`,
      );
    }
    if (seen.has(name)) throw new OipRequestError(`${label} is requested twice in "outputs"; list it once`);
    seen.add(name);
    const parameters = readParameters(label, output.parameters);
    const binaryData = parameters?.binary_data;
    if (binaryData !== undefined && typeof binaryData !== 'boolean') {
      throw new OipRequestError(
        `${label} parameters.binary_data must be true or false, received ${brief(binaryData)}`,
      );
    }
    if (parameters?.classification !== undefined) {
      throw new OipRequestError(
        `${label} asks for parameters.classification, which this server does not support; request the raw output and rank it on the client`,
      );
    }
    requested[i] = { name, binary: binaryData ?? binaryByDefault };
  }
  return requested;
}

/**
 * Decodes an inference request body for `model`. With `headerLength` (the
 * `Inference-Header-Content-Length` header), the body is that many bytes of JSON followed by the
 * binary data of the inputs that carry `parameters.binary_data_size`, in input order, which must
 * add up to the rest of the body exactly. Without it the body is JSON only.
 *
 * JSON `data` may be flat or nested (nesting must follow `shape`); BYTES come as strings, BOOL as
 * booleans (or 0/1), INT64/UINT64 as numbers up to 2^53 or numeric strings, FP16/FP32/FP64 as
 * numbers or the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (what the response encoder writes for
 * them). Binary data is little-endian, BOOL one byte (0 or 1), BYTES a 4-byte little-endian length
 * and UTF-8 bytes per element; each tensor is copied once into its own aligned typed array.
 *
 * Each input's datatype must be its model input's type, and the request must carry exactly the
 * model's inputs; checking shapes against the model's declared dims is left to the executor's
 * `validateInputs`.
 * @throws OipRequestError naming what is wrong: the body, an input or an output
 */
export function decodeInferRequest(body: Buffer, options: DecodeInferRequestOptions): DecodedInferRequest {
  const { headerLength, model } = options;
  const binary = headerLength !== undefined;
  if (binary) checkHeaderLength(headerLength, body.length);
  const jsonLength = binary ? headerLength : body.length;
  const request = parseJson(body, jsonLength, binary);
  if (!isRecord(request)) {
    throw new OipRequestError(
      `the request must be a json object { "inputs": [...] }, received ${brief(request)}`,
    );
  }
  const { id } = request;
  if (id !== undefined && typeof id !== 'string') {
    throw new OipRequestError(`"id" must be a string, received ${brief(id)}`);
  }
  const parameters = readParameters('the request', request.parameters) ?? {};
  const binaryOutput = parameters.binary_data_output;
  if (binaryOutput !== undefined && typeof binaryOutput !== 'boolean') {
    throw new OipRequestError(
      `the request's parameters.binary_data_output must be true or false, received ${brief(binaryOutput)}`,
    );
  }
  const index = indexOf(model);
  const rawInputs = request.inputs;
  if (!Array.isArray(rawInputs)) {
    throw new OipRequestError(
      `the request needs "inputs", an array of { "name", "shape", "datatype", "data" } objects, received ${brief(rawInputs)}; ${index.inputsPhrase}`,
    );
  }
  const inputs: Record<string, TensorData> = {};
  const seen = new Set<string>();
  const binaryInputs: BinaryInput[] = [];
  let binaryBytes = 0;
  for (let i = 0; i < rawInputs.length; i++) {
    const input: unknown = rawInputs[i];
    if (!isRecord(input) || typeof input.name !== 'string') {
      throw new OipRequestError(
        `"inputs"[${i}] must be an object with a string "name", received ${brief(input)}; ${index.inputsPhrase}`,
      );
    }
    const name = input.name;
    const label = `input ${JSON.stringify(name)}`;
    const signature = index.inputs.get(name);
    if (signature === undefined) {
      throw new OipRequestError(`unknown input ${JSON.stringify(name)}; ${index.inputsPhrase}`);
    }
    if (seen.has(name)) throw new OipRequestError(`${label} appears twice in "inputs"; send each input once`);
    seen.add(name);
    if (!signature.isTensor) {
      throw new OipRequestError(
        `${label} is a ${signature.kind}, which the protocol cannot send as a tensor`,
      );
    }
    const expected = signature.elementType;
    const { datatype } = input;
    const type = typeof datatype === 'string' ? elementTypeForOip(datatype) : undefined;
    if (type !== expected) {
      const wanted = `${oipDatatype(expected)} (${expected})`;
      if (type === undefined && datatype !== oipDatatype(expected)) {
        throw new OipRequestError(
          `${label} has datatype ${brief(datatype)}, which is not a datatype onnxruntime-node can feed; the model expects ${wanted}`,
        );
      }
      if (type === undefined) {
        throw new OipRequestError(`${label} is ${wanted}, which onnxruntime-node cannot feed`);
      }
      throw new OipRequestError(`${label} has datatype ${brief(datatype)}; the model expects ${wanted}`);
    }
    const { dims, count } = readShape(label, input.shape, signature);
    const inputParameters = readParameters(label, input.parameters);
    const size = inputParameters?.binary_data_size;
    if (size === undefined) {
      if (count > jsonLength) {
        throw new OipRequestError(
          `${label} has shape ${formatDims(dims)}, which needs ${count} values, more than its ${jsonLength}-byte json can hold; send a shape that matches "data"`,
        );
      }
      inputs[name] = tensorFromOipJson(label, type, input.data, dims, count);
      continue;
    }
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new OipRequestError(
        `${label} parameters.binary_data_size must be a non-negative integer (bytes), received ${brief(size)}`,
      );
    }
    if (input.data !== undefined) {
      throw new OipRequestError(
        `${label} has both "data" and parameters.binary_data_size; send its values one way only`,
      );
    }
    if (!binary) {
      throw new OipRequestError(
        `${label} has parameters.binary_data_size, but the request has no Inference-Header-Content-Length header to say where the json ends and the binary data begins`,
      );
    }
    binaryInputs.push({ label, name, type, dims, count, size });
    binaryBytes += size;
  }
  if (binary) {
    const after = body.length - headerLength;
    if (binaryBytes !== after) {
      const sizes =
        binaryInputs.length === 0
          ? 'no input has parameters.binary_data_size'
          : `the inputs' binary_data_size add up to ${binaryBytes} (${binaryInputs.map((b) => `${JSON.stringify(b.name)}: ${b.size}`).join(', ')})`;
      throw new OipRequestError(
        `the body has ${after} bytes after its ${headerLength}-byte json header (Inference-Header-Content-Length), but ${sizes}`,
      );
    }
    let at = headerLength;
    for (const b of binaryInputs) {
      inputs[b.name] = tensorFromBinary(b, body, at);
      at += b.size;
    }
  }
  const matched = rawInputs.length;
  if (matched !== model.inputs.length) {
    const missing = model.inputs.filter((s) => !Object.prototype.hasOwnProperty.call(inputs, s.name));
    throw new OipRequestError(
      `missing input${missing.length === 1 ? '' : 's'} ${quoted(missing.map((s) => s.name))}; ${index.inputsPhrase}`,
    );
  }
  const outputs = readOutputs(request.outputs, index, model, binaryOutput ?? false);
  return id === undefined ? { inputs, outputs, parameters } : { id, inputs, outputs, parameters };
}
