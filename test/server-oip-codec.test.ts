/**
 * lib/server's Open Inference Protocol codec on real models (inspected by lib/model, run by
 * onnxruntime-node): every feedable datatype in JSON (flat and nested) and in binary, requests
 * built by hand the way the Triton binary tensor data extension describes them, responses read
 * back with an independent parser, round trips through onnxruntime, output selection, ids and
 * parameters, non-finite floats, and every way a request can be wrong with its exact message.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ElementType, type ModelInfo, inspectModel } from '../lib/model';
import { type FeedableElementType, type TensorData } from '../lib/runtime';
import { fromOrtTensor, toOrtTensor } from '../lib/runtime/ort-tensor';
import {
  OIP_ELEMENT_BYTES,
  elementTypeForOip,
  oipDatatype,
  swapByteOrder,
} from '../lib/runtime/oip-datatypes';
import { OipRequestError } from '../lib/server/oip-errors';
import {
  type DecodedInferRequest,
  type RequestedOutput,
  decodeInferRequest,
} from '../lib/server/oip-infer-request';
import { type EncodedBody, encodeInferResponse } from '../lib/server/oip-infer-response';
import { OIP_EXTENSIONS, modelMetadata, serverMetadata } from '../lib/server/oip-metadata';
import { ELEMENT_TYPES, encodeModel } from '../tools/onnx/model-builder';
import {
  ORT_ELEMENT_TYPES,
  type FixtureName,
  type WrittenFixture,
  makeTempDir,
  removeDir,
  withInputElementType,
  writeFixtureModels,
} from './support/fixture-models';
import { identityModel, writeModel } from './support/runtime-fixtures';

const IRIS_DIR = path.join(__dirname, '..', 'examples', 'iris', 'model');

let dir: string;
let fixtures: Record<FixtureName, WrittenFixture>;
let dtypes: ModelInfo;
let multiIo: ModelInfo;
let classifier: ModelInfo;
let sequence: ModelInfo;
let noInputs: ModelInfo;
let bfloat16: ModelInfo;
let triton: ModelInfo;
let iris: ModelInfo;

beforeAll(() => {
  dir = makeTempDir('modelfab-server-oip-');
  fixtures = writeFixtureModels(dir);
  dtypes = inspectModel(fixtures['all-element-types'].path);
  multiIo = inspectModel(fixtures['multi-io'].path);
  classifier = inspectModel(fixtures['batchable-classifier'].path);
  sequence = inspectModel(fixtures['sequence-input'].path);
  noInputs = inspectModel(fixtures['no-inputs'].path);
  const bf16Path = path.join(dir, 'bf16.onnx');
  fs.writeFileSync(bf16Path, withInputElementType(encodeModel(identityModel('float32')), 'x', 16));
  bfloat16 = inspectModel(bf16Path);
  // The model of the Triton binary tensor data extension's example: a UINT32 [2, 2] and a BOOL [3].
  triton = inspectModel(
    writeModel(dir, 'triton', {
      graphName: 'triton-example',
      inputs: [
        { name: 'input0', type: 'uint32', shape: [2, 2] },
        { name: 'input1', type: 'bool', shape: [3] },
      ],
      outputs: [
        { name: 'output0', type: 'uint32', shape: [2, 2] },
        { name: 'output1', type: 'bool', shape: [3] },
      ],
      nodes: [
        { op: 'Identity', inputs: ['input0'], outputs: ['output0'] },
        { op: 'Not', inputs: ['input1'], outputs: ['output1'] },
      ],
    }),
  );
  iris = inspectModel(path.join(IRIS_DIR, 'iris.onnx'));
});

afterAll(() => removeDir(dir));

// ---------------------------------------------------------------------------------------------
// Values of every feedable type, and what they must become, written out by hand.

const DATATYPES: Record<FeedableElementType, string> = {
  float32: 'FP32',
  uint8: 'UINT8',
  int8: 'INT8',
  uint16: 'UINT16',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  string: 'BYTES',
  bool: 'BOOL',
  float16: 'FP16',
  float64: 'FP64',
  uint32: 'UINT32',
  uint64: 'UINT64',
};

/** Four values of each type (a [2, 2] tensor), as a client sends them in JSON. */
const VALUES: Record<FeedableElementType, unknown[]> = {
  float32: [1.5, -2.25, 0, 0.1],
  uint8: [0, 255, 7, 128],
  int8: [-128, 127, 0, -1],
  uint16: [0, 65535, 300, 1],
  int16: [-32768, 32767, -1, 2],
  int32: [-2147483648, 2147483647, 0, 5],
  int64: ['9007199254740993', -5, '-9223372036854775808', '9223372036854775807'],
  string: ['a', 'ü€😀', '', 'with "quotes"'],
  bool: [true, false, false, true],
  float16: [1, 0.5, -2, 65504],
  float64: [0.1, -1e300, 5e-324, 2],
  uint32: [4294967295, 0, 1, 2],
  uint64: ['18446744073709551615', 0, '9007199254740992', 3],
};

/** The tensor data each must decode to. */
const DATA: Record<FeedableElementType, TensorData['data']> = {
  float32: new Float32Array([1.5, -2.25, 0, 0.1]),
  uint8: new Uint8Array([0, 255, 7, 128]),
  int8: new Int8Array([-128, 127, 0, -1]),
  uint16: new Uint16Array([0, 65535, 300, 1]),
  int16: new Int16Array([-32768, 32767, -1, 2]),
  int32: new Int32Array([-2147483648, 2147483647, 0, 5]),
  int64: new BigInt64Array([9007199254740993n, -5n, -9223372036854775808n, 9223372036854775807n]),
  string: ['a', 'ü€😀', '', 'with "quotes"'],
  bool: new Uint8Array([1, 0, 0, 1]),
  float16: new Uint16Array([0x3c00, 0x3800, 0xc000, 0x7bff]),
  float64: new Float64Array([0.1, -1e300, 5e-324, 2]),
  uint32: new Uint32Array([4294967295, 0, 1, 2]),
  uint64: new BigUint64Array([18446744073709551615n, 0n, 9007199254740992n, 3n]),
};

/** The JSON data a response carries for them. */
const JSON_DATA: Record<FeedableElementType, unknown[]> = {
  float32: [1.5, -2.25, 0, Math.fround(0.1)],
  uint8: [0, 255, 7, 128],
  int8: [-128, 127, 0, -1],
  uint16: [0, 65535, 300, 1],
  int16: [-32768, 32767, -1, 2],
  int32: [-2147483648, 2147483647, 0, 5],
  int64: ['9007199254740993', -5, '-9223372036854775808', '9223372036854775807'],
  string: ['a', 'ü€😀', '', 'with "quotes"'],
  bool: [true, false, false, true],
  float16: [1, 0.5, -2, 65504],
  float64: [0.1, -1e300, 5e-324, 2],
  uint32: [4294967295, 0, 1, 2],
  uint64: ['18446744073709551615', 0, '9007199254740992', 3],
};

/** Little-endian bytes of a tensor per the binary extension, written with DataView (not the codec). */
function leBytes(type: FeedableElementType, data: TensorData['data']): Uint8Array {
  if (type === 'string') {
    const parts = (data as string[]).map((s) => Buffer.from(s, 'utf8'));
    const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
    const view = new DataView(out.buffer);
    let at = 0;
    for (const p of parts) {
      view.setUint32(at, p.length, true);
      out.set(p, at + 4);
      at += 4 + p.length;
    }
    return out;
  }
  const width = {
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
  }[type];
  const out = new Uint8Array(data.length * width);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as never;
    const at = i * width;
    switch (type) {
      case 'float32':
        view.setFloat32(at, v, true);
        break;
      case 'float64':
        view.setFloat64(at, v, true);
        break;
      case 'uint8':
      case 'bool':
        view.setUint8(at, v);
        break;
      case 'int8':
        view.setInt8(at, v);
        break;
      case 'uint16':
      case 'float16':
        view.setUint16(at, v, true);
        break;
      case 'int16':
        view.setInt16(at, v, true);
        break;
      case 'uint32':
        view.setUint32(at, v, true);
        break;
      case 'int32':
        view.setInt32(at, v, true);
        break;
      case 'uint64':
        view.setBigUint64(at, v, true);
        break;
      case 'int64':
        view.setBigInt64(at, v, true);
        break;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Request and response helpers.

function jsonBody(request: unknown): Buffer {
  return Buffer.from(JSON.stringify(request), 'utf8');
}

function decodeJson(model: ModelInfo, request: unknown): DecodedInferRequest {
  return decodeInferRequest(jsonBody(request), { model });
}

/**
 * A binary-extension body: the JSON header, padded with spaces to `pad` extra bytes (so the
 * binary data can start at an odd, unaligned offset), then the sections.
 */
function binaryBody(
  header: unknown,
  sections: readonly Uint8Array[],
  pad = 0,
): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header) + ' '.repeat(pad), 'utf8');
  return { body: Buffer.concat([json, ...sections]), headerLength: json.length };
}

/** The error `fn` throws, which must be an OipRequestError. */
function errorOf(fn: () => unknown): OipRequestError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OipRequestError);
    expect((error as Error).name).toBe('OipRequestError');
    return error as OipRequestError;
  }
  throw new Error('expected an OipRequestError, but nothing was thrown');
}

function jsonError(model: ModelInfo, request: unknown): string {
  return errorOf(() => decodeJson(model, request)).message;
}

/** A response split by hand: its JSON header and each binary output's bytes, by name. */
function splitResponse(encoded: EncodedBody): { json: any; sections: Record<string, Buffer> } {
  const headerLength = encoded.headerLength ?? encoded.body.length;
  const json = JSON.parse(encoded.body.subarray(0, headerLength).toString('utf8'));
  const sections: Record<string, Buffer> = {};
  let at = headerLength;
  for (const output of json.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    sections[output.name] = encoded.body.subarray(at, at + size);
    at += size;
  }
  expect(at).toBe(encoded.body.length);
  return { json, sections };
}

/** A request carrying every input of the all-element-types model, [2, 2] each. */
function allTypesRequest(): any {
  return {
    inputs: ORT_ELEMENT_TYPES.map((t) => ({
      name: `in_${t}`,
      shape: [2, 2],
      datatype: DATATYPES[t],
      data: VALUES[t],
    })),
  };
}

async function run(
  model: ModelInfo,
  inputs: Record<string, TensorData>,
): Promise<Record<string, TensorData>> {
  const session = await ort.InferenceSession.create(model.path);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, tensor] of Object.entries(inputs)) feeds[name] = toOrtTensor(tensor);
    const results = await session.run(feeds);
    const outputs: Record<string, TensorData> = {};
    for (const [name, tensor] of Object.entries(results)) outputs[name] = fromOrtTensor(tensor);
    return outputs;
  } finally {
    await session.release();
  }
}

// ---------------------------------------------------------------------------------------------

describe('datatypes', () => {
  it('names every feedable element type by its protocol datatype, and back', () => {
    for (const type of ORT_ELEMENT_TYPES) {
      expect(oipDatatype(type)).toBe(DATATYPES[type]);
      expect(elementTypeForOip(DATATYPES[type])).toBe(type);
    }
    expect(oipDatatype('bfloat16')).toBe('BF16');
    expect(oipDatatype('complex64')).toBe('COMPLEX64');
    expect(oipDatatype('float8e4m3fn')).toBe('FLOAT8E4M3FN');
  });

  it('feeds no datatype onnxruntime-node cannot, and reads datatypes case-sensitively', () => {
    for (const datatype of ['BF16', 'fp32', 'FLOAT', 'STRING', 'COMPLEX64', '']) {
      expect(elementTypeForOip(datatype)).toBeUndefined();
    }
  });

  it('knows the byte size of each fixed-size type', () => {
    for (const type of ORT_ELEMENT_TYPES) {
      if (type === 'string') continue;
      const typed = DATA[type] as Exclude<TensorData['data'], string[]>;
      expect(OIP_ELEMENT_BYTES[type]).toBe(typed.BYTES_PER_ELEMENT);
    }
  });

  it('swaps the byte order of each element in place for a big-endian host', () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    swapByteOrder(bytes, 4);
    expect([...bytes]).toEqual([4, 3, 2, 1, 8, 7, 6, 5]);
    swapByteOrder(bytes, 2);
    expect([...bytes]).toEqual([3, 4, 1, 2, 7, 8, 5, 6]);
    swapByteOrder(bytes, 8);
    expect([...bytes]).toEqual([6, 5, 8, 7, 2, 1, 4, 3]);
    swapByteOrder(bytes, 1);
    expect([...bytes]).toEqual([6, 5, 8, 7, 2, 1, 4, 3]);
    expect(() => swapByteOrder(new Uint8Array(6), 4)).toThrow('cannot swap 6 bytes in elements of 4 bytes');
  });
});

describe('metadata', () => {
  it('reports the server with the binary tensor data extension', () => {
    expect(OIP_EXTENSIONS).toContain('binary_tensor_data');
    expect(serverMetadata('1.2.3')).toEqual({
      name: 'modelfab',
      version: '1.2.3',
      extensions: ['binary_tensor_data'],
    });
  });

  it('reports a model with protocol datatypes and symbolic dimensions as -1', () => {
    expect(modelMetadata(multiIo, 'multi', '7')).toEqual({
      name: 'multi',
      versions: ['7'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'features', datatype: 'FP32', shape: [-1, 4] },
        { name: 'tokens', datatype: 'FP32', shape: [-1, -1, 8] },
        { name: 'k', datatype: 'INT64', shape: [] },
        { name: 'mask', datatype: 'BOOL', shape: [-1] },
      ],
      outputs: [
        { name: 'scaled', datatype: 'FP32', shape: [-1, 4] },
        { name: 'pooled', datatype: 'FP32', shape: [-1, 8] },
        { name: 'k_out', datatype: 'INT64', shape: [] },
        { name: 'not_mask', datatype: 'BOOL', shape: [-1] },
      ],
    });
  });

  it('reports unnamed dimensions as -1, every datatype, BF16, and leaves out non-tensor values', () => {
    const unnamed = inspectModel(fixtures['unnamed-dims'].path);
    for (const value of modelMetadata(unnamed, 'u', '1').inputs) expect(value.shape).toContain(-1);
    expect(modelMetadata(dtypes, 'd', '1').inputs.map((i) => i.datatype)).toEqual(
      ORT_ELEMENT_TYPES.map((t) => DATATYPES[t]),
    );
    expect(modelMetadata(bfloat16, 'b', '1').inputs).toEqual([
      { name: 'x', datatype: 'BF16', shape: [-1, 3] },
    ]);
    const seq = modelMetadata(sequence, 's', '1');
    expect(sequence.inputs.some((i) => !i.isTensor)).toBe(true);
    expect(seq.inputs.map((i) => i.name)).toEqual(
      sequence.inputs.filter((i) => i.isTensor).map((i) => i.name),
    );
  });
});

describe('decoding JSON requests', () => {
  it('decodes every datatype onnxruntime can feed into the typed array it expects', () => {
    const decoded = decodeJson(dtypes, allTypesRequest());
    for (const type of ORT_ELEMENT_TYPES) {
      expect(decoded.inputs[`in_${type}`]).toEqual({ type, dims: [2, 2], data: DATA[type] });
    }
    expect(decoded.outputs).toEqual(ORT_ELEMENT_TYPES.map((t) => ({ name: `out_${t}`, binary: false })));
    expect(decoded.parameters).toEqual({});
    expect(decoded.id).toBeUndefined();
    expect('id' in decoded).toBe(false);
  });

  it('takes nested data that follows the shape, the same as flat data', () => {
    const request = allTypesRequest();
    for (const input of request.inputs) input.data = [input.data.slice(0, 2), input.data.slice(2)];
    const nested = decodeJson(dtypes, request);
    const flat = decodeJson(dtypes, allTypesRequest());
    expect(nested.inputs).toEqual(flat.inputs);
    const deep = decodeJson(multiIo, {
      inputs: [
        { name: 'features', shape: [1, 4], datatype: 'FP32', data: [[1, 2, 3, 4]] },
        { name: 'tokens', shape: [1, 2, 8], datatype: 'FP32', data: [[Array(8).fill(1), Array(8).fill(2)]] },
        { name: 'k', shape: [], datatype: 'INT64', data: [3] },
        { name: 'mask', shape: [1], datatype: 'BOOL', data: [true] },
      ],
    });
    expect(deep.inputs.tokens.data).toEqual(new Float32Array([...Array(8).fill(1), ...Array(8).fill(2)]));
    expect(deep.inputs.k).toEqual({ type: 'int64', dims: [], data: new BigInt64Array([3n]) });
  });

  it('takes empty tensors flat or nested', () => {
    const flat = decodeJson(classifier, {
      inputs: [{ name: 'x', shape: [0, 4], datatype: 'FP32', data: [] }],
    });
    expect(flat.inputs.x).toEqual({ type: 'float32', dims: [0, 4], data: new Float32Array(0) });
    const rows = decodeJson(classifier, {
      inputs: [{ name: 'x', shape: [2, 0], datatype: 'FP32', data: [[], []] }],
    });
    expect(rows.inputs.x).toEqual({ type: 'float32', dims: [2, 0], data: new Float32Array(0) });
  });

  it('takes "NaN", "Infinity" and "-Infinity" for floats, as responses write them', () => {
    const decoded = decodeJson(classifier, {
      inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: ['NaN', 'Infinity', '-Infinity', 1] }],
    });
    expect([...(decoded.inputs.x.data as Float32Array)]).toEqual([NaN, Infinity, -Infinity, 1]);
    const half = decodeJson(dtypes, {
      inputs: allTypesRequest().inputs.map((i: any) =>
        i.datatype === 'FP16' ? { ...i, data: ['NaN', 'Infinity', '-Infinity', 0] } : i,
      ),
    });
    expect([...(half.inputs.in_float16.data as Uint16Array)]).toEqual([0x7e00, 0x7c00, 0xfc00, 0]);
  });

  it('echoes the id and keeps the request parameters', () => {
    const decoded = decodeJson(classifier, {
      id: 'req-42',
      parameters: { priority: 2, tag: 'a' },
      inputs: [
        { name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4], parameters: { note: 'ignored' } },
      ],
    });
    expect(decoded.id).toBe('req-42');
    expect(decoded.parameters).toEqual({ priority: 2, tag: 'a' });
  });

  it('decodes an Iris evaluation row', () => {
    const line = fs.readFileSync(path.join(IRIS_DIR, 'eval.jsonl'), 'utf8').split('\n')[0];
    const row = (JSON.parse(line) as { inputs: { input: number[] } }).inputs.input;
    const decoded = decodeJson(iris, {
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [row] }],
    });
    expect(decoded.inputs.input).toEqual({ type: 'float32', dims: [1, 4], data: new Float32Array(row) });
    expect(decoded.outputs).toEqual([
      { name: 'probabilities', binary: false },
      { name: 'label', binary: false },
    ]);
  });

  it('takes a model without inputs', () => {
    expect(decodeJson(noInputs, { inputs: [] })).toEqual({
      inputs: {},
      outputs: [{ name: 'value', binary: false }],
      parameters: {},
    });
  });
});

describe('output selection', () => {
  const x = { name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] };

  it('returns every model output, in model order, when the request names none', () => {
    expect(decodeJson(classifier, { inputs: [x] }).outputs).toEqual([
      { name: 'probabilities', binary: false },
      { name: 'label', binary: false },
    ]);
  });

  it('returns the requested outputs in the request order', () => {
    expect(decodeJson(classifier, { inputs: [x], outputs: [{ name: 'label' }] }).outputs).toEqual([
      { name: 'label', binary: false },
    ]);
    expect(
      decodeJson(classifier, {
        inputs: [x],
        outputs: [{ name: 'label' }, { name: 'probabilities', parameters: { binary_data: true } }],
      }).outputs,
    ).toEqual([
      { name: 'label', binary: false },
      { name: 'probabilities', binary: true },
    ]);
  });

  it('makes every output binary with binary_data_output, unless an output says otherwise', () => {
    const all = decodeJson(classifier, { inputs: [x], parameters: { binary_data_output: true } });
    expect(all.outputs).toEqual([
      { name: 'probabilities', binary: true },
      { name: 'label', binary: true },
    ]);
    const some = decodeJson(classifier, {
      inputs: [x],
      parameters: { binary_data_output: true },
      outputs: [{ name: 'probabilities' }, { name: 'label', parameters: { binary_data: false } }],
    });
    expect(some.outputs).toEqual([
      { name: 'probabilities', binary: true },
      { name: 'label', binary: false },
    ]);
    const none = decodeJson(classifier, { inputs: [x], parameters: { binary_data_output: false } });
    expect(none.outputs.every((o) => !o.binary)).toBe(true);
  });
});

describe('decoding binary requests', () => {
  it("decodes the Triton doc's example: a binary UINT32 input next to a JSON BOOL one", () => {
    const input0 = new Uint8Array(16);
    new DataView(input0.buffer).setUint32(0, 1, true);
    new DataView(input0.buffer).setUint32(4, 2, true);
    new DataView(input0.buffer).setUint32(8, 3, true);
    new DataView(input0.buffer).setUint32(12, 0xdeadbeef, true);
    const { body, headerLength } = binaryBody(
      {
        inputs: [
          { name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } },
          { name: 'input1', shape: [3], datatype: 'BOOL', data: [true, false, true] },
        ],
        outputs: [{ name: 'output0', parameters: { binary_data: true } }, { name: 'output1' }],
      },
      [input0],
    );
    const decoded = decodeInferRequest(body, { model: triton, headerLength });
    expect(decoded.inputs).toEqual({
      input0: { type: 'uint32', dims: [2, 2], data: new Uint32Array([1, 2, 3, 0xdeadbeef]) },
      input1: { type: 'bool', dims: [3], data: new Uint8Array([1, 0, 1]) },
    });
    expect(decoded.outputs).toEqual([
      { name: 'output0', binary: true },
      { name: 'output1', binary: false },
    ]);
  });

  it('decodes every datatype from binary data at an unaligned offset, equal to its JSON decoding', () => {
    for (const pad of [0, 1, 3]) {
      const header = {
        inputs: ORT_ELEMENT_TYPES.map((t) => ({
          name: `in_${t}`,
          shape: [2, 2],
          datatype: DATATYPES[t],
          parameters: { binary_data_size: leBytes(t, DATA[t]).length },
        })),
      };
      const { body, headerLength } = binaryBody(
        header,
        ORT_ELEMENT_TYPES.map((t) => leBytes(t, DATA[t])),
        pad,
      );
      const decoded = decodeInferRequest(body, { model: dtypes, headerLength });
      expect(decoded.inputs).toEqual(decodeJson(dtypes, allTypesRequest()).inputs);
      // Each tensor has its own aligned copy, not a view of the body.
      for (const tensor of Object.values(decoded.inputs)) {
        if (!Array.isArray(tensor.data)) expect(tensor.data.buffer).not.toBe(body.buffer);
      }
    }
  });

  it('takes a header with no binary data, and a JSON-only body without the header', () => {
    const request = { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };
    const body = jsonBody(request);
    expect(decodeInferRequest(body, { model: classifier, headerLength: body.length }).inputs).toEqual(
      decodeJson(classifier, request).inputs,
    );
  });

  it('copies a large tensor once, exactly', () => {
    const values = new Float32Array(1 << 18).map((_, i) => i * 0.5);
    const section = new Uint8Array(values.buffer);
    const { body, headerLength } = binaryBody(
      {
        inputs: [
          {
            name: 'x',
            shape: [1 << 16, 4],
            datatype: 'FP32',
            parameters: { binary_data_size: section.length },
          },
        ],
      },
      [section],
      1,
    );
    const decoded = decodeInferRequest(body, { model: classifier, headerLength });
    const data = decoded.inputs.x.data as Float32Array;
    expect(data).toBeInstanceOf(Float32Array);
    expect(data.byteOffset).toBe(0);
    expect(data.buffer.byteLength).toBe(section.length);
    expect(Buffer.compare(Buffer.from(data.buffer), Buffer.from(section))).toBe(0);
  });
});

describe('encoding responses', () => {
  const probabilities: TensorData = {
    type: 'float32',
    dims: [1, 3],
    data: new Float32Array([0.25, 0.5, 0.25]),
  };
  const label: TensorData = { type: 'int64', dims: [1], data: new BigInt64Array([1n]) };
  const outputs = { probabilities, label };

  it('encodes JSON with the model name, version, id, parameters and flat data', () => {
    const encoded = encodeInferResponse({
      modelName: 'iris',
      modelVersion: '3',
      id: 'req-1',
      parameters: { queue_ms: 1 },
      outputs,
      requested: [
        { name: 'probabilities', binary: false },
        { name: 'label', binary: false },
      ],
    });
    expect(encoded.contentType).toBe('application/json');
    expect(encoded.headerLength).toBeUndefined();
    expect('headerLength' in encoded).toBe(false);
    expect(encoded.body.toString('utf8')).toBe(
      '{"model_name":"iris","model_version":"3","id":"req-1","parameters":{"queue_ms":1},' +
        '"outputs":[{"name":"probabilities","datatype":"FP32","shape":[1,3],"data":[0.25,0.5,0.25]},' +
        '{"name":"label","datatype":"INT64","shape":[1],"data":[1]}]}',
    );
  });

  it('leaves out what is not given, and returns only the requested outputs in their order', () => {
    const encoded = encodeInferResponse({
      modelName: 'iris',
      outputs,
      requested: [{ name: 'label', binary: false }],
    });
    expect(JSON.parse(encoded.body.toString('utf8'))).toEqual({
      model_name: 'iris',
      outputs: [{ name: 'label', datatype: 'INT64', shape: [1], data: [1] }],
    });
  });

  it('puts binary outputs after the JSON header, in output order, with their sizes', () => {
    const encoded = encodeInferResponse({
      modelName: 'iris',
      outputs,
      requested: [
        { name: 'label', binary: true },
        { name: 'probabilities', binary: false },
      ],
    });
    expect(encoded.contentType).toBe('application/octet-stream');
    const { json, sections } = splitResponse(encoded);
    expect(encoded.headerLength).toBe(Buffer.byteLength(JSON.stringify(json)));
    expect(json.outputs).toEqual([
      { name: 'label', datatype: 'INT64', shape: [1], parameters: { binary_data_size: 8 } },
      { name: 'probabilities', datatype: 'FP32', shape: [1, 3], data: [0.25, 0.5, 0.25] },
    ]);
    expect([...sections.label]).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('writes NaN and ±Infinity as strings in JSON, and as IEEE bits in binary', () => {
    const floats: Record<string, TensorData> = {
      f32: { type: 'float32', dims: [4], data: new Float32Array([NaN, Infinity, -Infinity, -0.5]) },
      f64: { type: 'float64', dims: [2], data: new Float64Array([-Infinity, 1e-310]) },
      f16: { type: 'float16', dims: [3], data: new Uint16Array([0x7e00, 0x7c00, 0x3555]) },
    };
    const requested = Object.keys(floats).map((name) => ({ name, binary: false }));
    const { json } = splitResponse(encodeInferResponse({ modelName: 'm', outputs: floats, requested }));
    expect(json.outputs.map((o: any) => o.data)).toEqual([
      ['NaN', 'Infinity', '-Infinity', -0.5],
      ['-Infinity', 1e-310],
      ['NaN', 'Infinity', 0.333251953125],
    ]);
    const binary = splitResponse(
      encodeInferResponse({
        modelName: 'm',
        outputs: floats,
        requested: requested.map((r) => ({ ...r, binary: true })),
      }),
    );
    expect(new Float32Array(new Uint8Array(binary.sections.f32).buffer)).toEqual(floats.f32.data);
    expect([...binary.sections.f16]).toEqual([0x00, 0x7e, 0x00, 0x7c, 0x55, 0x35]);
  });

  it('writes int64 and uint64 beyond 2^53 as decimal strings, safe ones as numbers', () => {
    const ints: Record<string, TensorData> = {
      i: {
        type: 'int64',
        dims: [4],
        data: new BigInt64Array([
          9007199254740991n,
          9007199254740992n,
          -9007199254740991n,
          -9007199254740992n,
        ]),
      },
      u: { type: 'uint64', dims: [2], data: new BigUint64Array([18446744073709551615n, 0n]) },
    };
    const { json } = splitResponse(
      encodeInferResponse({
        modelName: 'm',
        outputs: ints,
        requested: [
          { name: 'i', binary: false },
          { name: 'u', binary: false },
        ],
      }),
    );
    expect(json.outputs[0].data).toEqual([
      9007199254740991,
      '9007199254740992',
      -9007199254740991,
      '-9007199254740992',
    ]);
    expect(json.outputs[1].data).toEqual(['18446744073709551615', 0]);
  });

  it('encodes BYTES as 4-byte lengths and UTF-8, BOOL as one byte, and empty binary tensors', () => {
    const tensors: Record<string, TensorData> = {
      s: { type: 'string', dims: [3], data: ['ab', '', 'ü'] },
      b: { type: 'bool', dims: [3], data: new Uint8Array([1, 0, 1]) },
      e: { type: 'float32', dims: [0, 3], data: new Float32Array(0) },
    };
    const encoded = encodeInferResponse({
      modelName: 'm',
      outputs: tensors,
      requested: ['s', 'b', 'e'].map((name) => ({ name, binary: true })),
    });
    const { json, sections } = splitResponse(encoded);
    expect(json.outputs.map((o: any) => o.parameters.binary_data_size)).toEqual([4 + 2 + 4 + 4 + 2, 3, 0]);
    expect([...sections.s]).toEqual([2, 0, 0, 0, 97, 98, 0, 0, 0, 0, 2, 0, 0, 0, 0xc3, 0xbc]);
    expect([...sections.b]).toEqual([1, 0, 1]);
    const bools = splitResponse(
      encodeInferResponse({ modelName: 'm', outputs: tensors, requested: [{ name: 'b', binary: false }] }),
    );
    expect(bools.json.outputs[0].data).toEqual([true, false, true]);
  });

  it('answers JSON when no output is requested', () => {
    const encoded = encodeInferResponse({ modelName: 'm', outputs, requested: [] });
    expect(encoded).toEqual({
      body: Buffer.from('{"model_name":"m","outputs":[]}'),
      contentType: 'application/json',
    });
  });

  it('refuses a requested output the results lack, or a type onnxruntime-node cannot return (server bugs)', () => {
    expect(() =>
      encodeInferResponse({ modelName: 'm', outputs, requested: [{ name: 'logits', binary: false }] }),
    ).toThrow(
      new RangeError(
        'output "logits" was requested but is not among the model\'s results ("probabilities", "label")',
      ),
    );
    const odd = { z: { type: 'bfloat16', dims: [1], data: new Uint16Array(1) } as TensorData };
    expect(() =>
      encodeInferResponse({ modelName: 'm', outputs: odd, requested: [{ name: 'z', binary: true }] }),
    ).toThrow(new RangeError('output "z" is bfloat16 [1], which onnxruntime-node cannot return'));
  });
});

describe('round trips through onnxruntime', () => {
  it('runs every datatype: JSON in, JSON out', async () => {
    const decoded = decodeJson(dtypes, { id: 'all', ...allTypesRequest() });
    const results = await run(dtypes, decoded.inputs);
    const encoded = encodeInferResponse({
      modelName: 'dtypes',
      id: decoded.id,
      outputs: results,
      requested: decoded.outputs,
    });
    expect(encoded.contentType).toBe('application/json');
    const { json } = splitResponse(encoded);
    expect(json.id).toBe('all');
    expect(json.outputs).toEqual(
      ORT_ELEMENT_TYPES.map((t) => ({
        name: `out_${t}`,
        datatype: DATATYPES[t],
        shape: [2, 2],
        data: JSON_DATA[t],
      })),
    );
  });

  it('runs every datatype: binary in, binary out, byte for byte', async () => {
    const header = {
      parameters: { binary_data_output: true },
      inputs: ORT_ELEMENT_TYPES.map((t) => ({
        name: `in_${t}`,
        shape: [2, 2],
        datatype: DATATYPES[t],
        parameters: { binary_data_size: leBytes(t, DATA[t]).length },
      })),
    };
    const { body, headerLength } = binaryBody(
      header,
      ORT_ELEMENT_TYPES.map((t) => leBytes(t, DATA[t])),
      1,
    );
    const decoded = decodeInferRequest(body, { model: dtypes, headerLength });
    const results = await run(dtypes, decoded.inputs);
    const encoded = encodeInferResponse({
      modelName: 'dtypes',
      outputs: results,
      requested: decoded.outputs,
    });
    expect(encoded.contentType).toBe('application/octet-stream');
    const { json, sections } = splitResponse(encoded);
    for (const [i, t] of ORT_ELEMENT_TYPES.entries()) {
      expect(json.outputs[i]).toEqual({
        name: `out_${t}`,
        datatype: DATATYPES[t],
        shape: [2, 2],
        parameters: { binary_data_size: leBytes(t, DATA[t]).length },
      });
      expect(new Uint8Array(sections[`out_${t}`])).toEqual(leBytes(t, DATA[t]));
    }
  });

  it("answers the Triton doc's example: binary output0, JSON output1", async () => {
    const input0 = leBytes('uint32', new Uint32Array([10, 20, 30, 40]));
    const { body, headerLength } = binaryBody(
      {
        inputs: [
          { name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } },
          { name: 'input1', shape: [3], datatype: 'BOOL', data: [true, false, true] },
        ],
        outputs: [{ name: 'output0', parameters: { binary_data: true } }, { name: 'output1' }],
      },
      [input0],
    );
    const decoded = decodeInferRequest(body, { model: triton, headerLength });
    const results = await run(triton, decoded.inputs);
    const { json, sections } = splitResponse(
      encodeInferResponse({ modelName: 'mymodel', outputs: results, requested: decoded.outputs }),
    );
    expect(json).toEqual({
      model_name: 'mymodel',
      outputs: [
        { name: 'output0', datatype: 'UINT32', shape: [2, 2], parameters: { binary_data_size: 16 } },
        { name: 'output1', datatype: 'BOOL', shape: [3], data: [false, true, false] },
      ],
    });
    expect(new Uint8Array(sections.output0)).toEqual(input0);
  });

  it('decodes what the encoder produced, as JSON and as binary', () => {
    const tensors = decodeJson(dtypes, allTypesRequest()).inputs;
    const outputs: Record<string, TensorData> = {};
    for (const t of ORT_ELEMENT_TYPES) outputs[`in_${t}`] = tensors[`in_${t}`];
    outputs.in_float32 = { type: 'float32', dims: [2, 2], data: new Float32Array([NaN, -Infinity, 0.1, 3]) };
    outputs.in_float64 = { type: 'float64', dims: [2, 2], data: new Float64Array([Infinity, NaN, -0.1, 3]) };
    for (const binary of [false, true]) {
      const requested: RequestedOutput[] = ORT_ELEMENT_TYPES.map((t) => ({ name: `in_${t}`, binary }));
      const encoded = encodeInferResponse({ modelName: 'echo', outputs, requested });
      const headerLength = encoded.headerLength ?? encoded.body.length;
      const response = JSON.parse(encoded.body.subarray(0, headerLength).toString('utf8'));
      // The response's outputs become a request's inputs; the binary sections stay as they are.
      const header = Buffer.from(JSON.stringify({ inputs: response.outputs }), 'utf8');
      const body = Buffer.concat([header, encoded.body.subarray(headerLength)]);
      const decoded = decodeInferRequest(body, {
        model: dtypes,
        headerLength: binary ? header.length : undefined,
      });
      expect(decoded.inputs).toEqual(outputs);
    }
  });

  it('round-trips an Iris request through the model', async () => {
    const rows = fs
      .readFileSync(path.join(IRIS_DIR, 'eval.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(0, 3)
      .map((l) => (JSON.parse(l) as { inputs: { input: number[] } }).inputs.input);
    const decoded = decodeJson(iris, {
      id: 'iris-3',
      inputs: [{ name: 'input', shape: [3, 4], datatype: 'FP32', data: rows }],
      outputs: [{ name: 'label' }],
    });
    const results = await run(iris, decoded.inputs);
    const { json } = splitResponse(
      encodeInferResponse({
        modelName: 'iris',
        modelVersion: '1',
        id: decoded.id,
        outputs: results,
        requested: decoded.outputs,
      }),
    );
    expect(json.model_name).toBe('iris');
    expect(json.model_version).toBe('1');
    expect(json.id).toBe('iris-3');
    expect(json.outputs).toHaveLength(1);
    expect(json.outputs[0]).toMatchObject({ name: 'label', datatype: 'INT64', shape: [3] });
    expect(json.outputs[0].data).toEqual([...(results.label.data as BigInt64Array)].map(Number));
  });
});

describe('bad requests', () => {
  const x = { name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] };

  it('refuses a body that is not JSON, saying where, without echoing tensor data', () => {
    const message = errorOf(() =>
      decodeInferRequest(Buffer.from('{"inputs": [\n  {"name": "x",, }]}'), { model: classifier }),
    ).message;
    expect(message).toMatch(/^the request body is not valid json: /);
    expect(message).toMatch(/; send a json object \{ "inputs": \[\.\.\.\] \}$/);
    const end = errorOf(() =>
      decodeInferRequest(Buffer.from('{"inputs": [1, 2'), { model: classifier }),
    ).message;
    expect(end).toMatch(/^the request body is not valid json: .*\(line 1, column \d+\); send/);
    const big = `{"inputs":[{"name":"x","shape":[1,100000],"datatype":"FP32","data":[${Array(100000).fill('1.25').join(',')},]}]}`;
    const long = errorOf(() => decodeInferRequest(Buffer.from(big), { model: classifier })).message;
    expect(long.length).toBeLessThan(500);
    expect(errorOf(() => decodeInferRequest(Buffer.alloc(0), { model: classifier })).message).toBe(
      'the request body is not valid json: unexpected end of JSON input; send a json object { "inputs": [...] }',
    );
  });

  it('says where the header ends when a binary request header is not JSON', () => {
    const body = Buffer.from('{"inputs": []}xxxx');
    expect(errorOf(() => decodeInferRequest(body, { model: noInputs, headerLength: 10 })).message).toMatch(
      /^the request's json header \(the first 10 bytes, per Inference-Header-Content-Length\) is not valid json: /,
    );
  });

  it('refuses a body that is not an object', () => {
    expect(jsonError(classifier, [x])).toBe(
      'the request must be a json object { "inputs": [...] }, received [{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]',
    );
    expect(jsonError(classifier, null)).toBe(
      'the request must be a json object { "inputs": [...] }, received null',
    );
    expect(jsonError(classifier, 'x')).toBe(
      'the request must be a json object { "inputs": [...] }, received "x"',
    );
  });

  it('refuses missing or malformed inputs', () => {
    expect(jsonError(classifier, {})).toBe(
      'the request needs "inputs", an array of { "name", "shape", "datatype", "data" } objects, received undefined; the model\'s inputs are "x"',
    );
    expect(jsonError(classifier, { inputs: { x } })).toMatch(
      /^the request needs "inputs", an array .*, received \{"x":/,
    );
    expect(jsonError(classifier, { inputs: [7] })).toBe(
      '"inputs"[0] must be an object with a string "name", received 7; the model\'s inputs are "x"',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, name: 3 }] })).toMatch(
      /^"inputs"\[0\] must be an object with a string "name"/,
    );
  });

  it('refuses an input the model does not have, listing the inputs it has', () => {
    expect(jsonError(multiIo, { inputs: [{ ...x, name: 'feature' }] })).toBe(
      'unknown input "feature"; the model\'s inputs are "features", "tokens", "k", "mask"',
    );
    expect(jsonError(noInputs, { inputs: [x] })).toBe('unknown input "x"; the model has no inputs');
  });

  it('refuses an input sent twice, and a model input left out', () => {
    expect(jsonError(classifier, { inputs: [x, x] })).toBe(
      'input "x" appears twice in "inputs"; send each input once',
    );
    expect(jsonError(classifier, { inputs: [] })).toBe('missing input "x"; the model\'s inputs are "x"');
    expect(
      jsonError(multiIo, {
        inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }],
      }),
    ).toBe('missing inputs "tokens", "k", "mask"; the model\'s inputs are "features", "tokens", "k", "mask"');
  });

  it("refuses a datatype other than the model input's", () => {
    expect(jsonError(classifier, { inputs: [{ ...x, datatype: 'FP64' }] })).toBe(
      'input "x" has datatype "FP64"; the model expects FP32 (float32)',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, datatype: 'fp32' }] })).toBe(
      'input "x" has datatype "fp32", which is not a datatype onnxruntime-node can feed; the model expects FP32 (float32)',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, datatype: undefined }] })).toBe(
      'input "x" has datatype undefined, which is not a datatype onnxruntime-node can feed; the model expects FP32 (float32)',
    );
    expect(jsonError(bfloat16, { inputs: [{ ...x, datatype: 'BF16' }] })).toBe(
      'input "x" is BF16 (bfloat16), which onnxruntime-node cannot feed',
    );
  });

  it('refuses an input that is not a tensor', () => {
    const items = sequence.inputs.find((i) => !i.isTensor)!;
    expect(
      jsonError(sequence, { inputs: [{ name: items.name, shape: [2], datatype: 'FP32', data: [1, 2] }] }),
    ).toBe(`input "${items.name}" is a sequence, which the protocol cannot send as a tensor`);
  });

  it('refuses a bad shape', () => {
    expect(jsonError(classifier, { inputs: [{ ...x, shape: undefined }] })).toBe(
      'input "x" needs "shape", an array of non-negative integers; received undefined',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, shape: [1, -4] }] })).toBe(
      'input "x" has shape [1,-4]: dimension 1 is -4, but every dimension must be a non-negative integer',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, shape: [1, 1.5] }] })).toBe(
      'input "x" has shape [1,1.5]: dimension 1 is 1.5, but every dimension must be a non-negative integer',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, shape: ['1', 4] }] })).toBe(
      'input "x" has shape ["1",4]: dimension 0 is "1", but every dimension must be a non-negative integer',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, shape: [2 ** 30, 2 ** 30] }] })).toBe(
      'input "x" has shape [1073741824, 1073741824], whose element count is too large',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, shape: [2 ** 30, 2 ** 30, 2 ** 30] }] })).toBe(
      'input "x" has shape [1073741824,1073741824,1073741824] (rank 3); the model expects rank 2: [N, 4]',
    );
    // Checked before "data" is walked: 5,000 nested levels are never visited.
    const deep = { ...x, shape: new Array<number>(5000).fill(1), data: [1] };
    expect(jsonError(classifier, { inputs: [deep] })).toMatch(
      /^input "x" has shape \[1,1,1,.*\(rank 5000\); the model expects rank 2: \[N, 4\]$/,
    );
    // A shape the json could never fill is refused before anything is allocated for it.
    expect(jsonError(classifier, { inputs: [{ ...x, shape: [2 ** 20, 4], data: [[1, 2, 3, 4]] }] })).toMatch(
      /^input "x" has shape \[1048576, 4\], which needs 4194304 values, more than its \d+-byte json can hold; send a shape that matches "data"$/,
    );
  });

  it('refuses data that does not fit the shape', () => {
    expect(jsonError(classifier, { inputs: [{ ...x, data: [1, 2, 3] }] })).toBe(
      'input "x" has 3 values in "data", but shape [1, 4] needs 4',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, shape: [2, 2], data: [[1, 2, 3], [4]] }] })).toBe(
      'input "x": "data"[0] has 3 entries, but dimension 1 of shape [2, 2] is 2; nested data must follow the shape',
    );
    expect(
      jsonError(classifier, {
        inputs: [
          {
            ...x,
            shape: [2, 2],
            data: [
              [1, 2],
              [3, 4],
              [5, 6],
            ],
          },
        ],
      }),
    ).toBe(
      'input "x": "data" has 3 entries, but dimension 0 of shape [2, 2] is 2; nested data must follow the shape',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, shape: [2, 2], data: [[1, 2], 3] }] })).toBe(
      'input "x": "data"[1] is 3, but at depth 1 of shape [2, 2] it must be an array; nested data must follow the shape',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, shape: [1, 2], data: [[1, [2]]] }] })).toBe(
      'input "x": "data"[0][1] is [2], but at depth 2 of shape [1, 2] it must be a value; nested data must follow the shape',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, shape: [4], data: [[1, 2, 3, 4]] }] })).toBe(
      'input "x" has shape [4] (rank 1); the model expects rank 2: [N, 4]',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, data: undefined }] })).toBe(
      'input "x" needs "data", an array of its values (flat or nested), or parameters.binary_data_size with the binary data after the json header; received undefined',
    );
  });

  it('refuses elements of the wrong kind, naming the input, element and datatype', () => {
    expect(jsonError(classifier, { inputs: [{ ...x, data: [1, 2, '3', 4] }] })).toBe(
      'input "x": element 2 of FP32 data must be a number (or "NaN", "Infinity", "-Infinity"), received "3"',
    );
    const all = allTypesRequest();
    const withValue = (type: string, value: unknown): any => ({
      inputs: all.inputs.map((i: any) =>
        i.name === `in_${type}` ? { ...i, data: [value, ...i.data.slice(1)] } : i,
      ),
    });
    expect(jsonError(dtypes, withValue('int8', 128))).toBe(
      'input "in_int8": element 0 of an int8 (INT8) tensor must be an integer from -128 to 127, received 128',
    );
    expect(jsonError(dtypes, withValue('int64', 2 ** 60))).toBe(
      'input "in_int64": element 0 of an int64 (INT64) tensor is 1152921504606847000, beyond 2^53, where json numbers lose precision; send it as a string',
    );
    expect(jsonError(dtypes, withValue('string', 5))).toBe(
      'input "in_string": element 0 of a string (BYTES) tensor must be a string, received 5',
    );
    expect(jsonError(dtypes, withValue('bool', 'true'))).toBe(
      'input "in_bool": element 0 of a bool (BOOL) tensor must be true, false, 1 or 0, received "true"',
    );
    const long = jsonError(dtypes, withValue('int32', 'x'.repeat(10000)));
    expect(long.length).toBeLessThan(400);
  });

  it('refuses a bad id or bad parameters', () => {
    expect(jsonError(classifier, { id: 7, inputs: [x] })).toBe('"id" must be a string, received 7');
    expect(jsonError(classifier, { parameters: [1], inputs: [x] })).toBe(
      'the request "parameters" must be an object, received [1]',
    );
    expect(jsonError(classifier, { parameters: { binary_data_output: 'yes' }, inputs: [x] })).toBe(
      'the request\'s parameters.binary_data_output must be true or false, received "yes"',
    );
    expect(jsonError(classifier, { inputs: [{ ...x, parameters: 'p' }] })).toBe(
      'input "x" "parameters" must be an object, received "p"',
    );
  });

  it('refuses bad outputs', () => {
    expect(jsonError(classifier, { inputs: [x], outputs: { name: 'label' } })).toBe(
      '"outputs" must be an array of { "name": ... } objects (or left out for every output), received {"name":"label"}',
    );
    expect(jsonError(classifier, { inputs: [x], outputs: ['label'] })).toBe(
      '"outputs"[0] must be an object with a string "name", received "label"; the model\'s outputs are "probabilities", "label"',
    );
    expect(jsonError(classifier, { inputs: [x], outputs: [{ name: 'logits' }] })).toBe(
      'unknown output "logits" in "outputs"; the model\'s outputs are "probabilities", "label"',
    );
    expect(jsonError(classifier, { inputs: [x], outputs: [{ name: 'label' }, { name: 'label' }] })).toBe(
      'output "label" is requested twice in "outputs"; list it once',
    );
    expect(
      jsonError(classifier, { inputs: [x], outputs: [{ name: 'label', parameters: { binary_data: 1 } }] }),
    ).toBe('output "label" parameters.binary_data must be true or false, received 1');
    expect(jsonError(classifier, { inputs: [x], outputs: [{ name: 'label', parameters: 4 }] })).toBe(
      'output "label" "parameters" must be an object, received 4',
    );
    expect(
      jsonError(classifier, {
        inputs: [x],
        outputs: [{ name: 'probabilities', parameters: { classification: 2 } }],
      }),
    ).toBe(
      'output "probabilities" asks for parameters.classification, which this server does not support; request the raw output and rank it on the client',
    );
  });
});

describe('bad binary requests', () => {
  const header = (size: number, extra: object = {}): object => ({
    inputs: [
      { name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: size }, ...extra },
    ],
  });
  const sixteen = new Uint8Array(16);

  function binaryError(model: ModelInfo, h: unknown, sections: Uint8Array[], pad = 0): string {
    const { body, headerLength } = binaryBody(h, sections, pad);
    return errorOf(() => decodeInferRequest(body, { model, headerLength })).message;
  }

  it('refuses a header length that does not fit the body', () => {
    const body = jsonBody(header(16));
    for (const headerLength of [-1, 1.5, NaN, body.length + 1]) {
      expect(errorOf(() => decodeInferRequest(body, { model: classifier, headerLength })).message).toBe(
        `Inference-Header-Content-Length is ${String(headerLength)}, but it must be the byte length of the json header, an integer from 0 to the body's ${body.length} bytes`,
      );
    }
  });

  it('refuses a body shorter or longer than the binary sizes say', () => {
    const short = binaryBody(header(16), [new Uint8Array(12)]);
    expect(
      errorOf(() => decodeInferRequest(short.body, { model: classifier, headerLength: short.headerLength }))
        .message,
    ).toBe(
      `the body has 12 bytes after its ${short.headerLength}-byte json header (Inference-Header-Content-Length), but the inputs' binary_data_size add up to 16 ("x": 16)`,
    );
    const long = binaryBody(header(16), [new Uint8Array(17)]);
    expect(
      errorOf(() => decodeInferRequest(long.body, { model: classifier, headerLength: long.headerLength }))
        .message,
    ).toBe(
      `the body has 17 bytes after its ${long.headerLength}-byte json header (Inference-Header-Content-Length), but the inputs' binary_data_size add up to 16 ("x": 16)`,
    );
    const stray = binaryBody(
      { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] },
      [new Uint8Array(3)],
    );
    expect(
      errorOf(() => decodeInferRequest(stray.body, { model: classifier, headerLength: stray.headerLength }))
        .message,
    ).toBe(
      `the body has 3 bytes after its ${stray.headerLength}-byte json header (Inference-Header-Content-Length), but no input has parameters.binary_data_size`,
    );
  });

  it('refuses a binary_data_size that is not the byte size of the shape', () => {
    expect(binaryError(classifier, header(12), [new Uint8Array(12)])).toBe(
      'input "x" has parameters.binary_data_size 12, but FP32 [1, 4] takes 4 × 4 = 16 bytes',
    );
    expect(binaryError(classifier, header(-1), [])).toBe(
      'input "x" parameters.binary_data_size must be a non-negative integer (bytes), received -1',
    );
    expect(binaryError(classifier, header('16' as never), [sixteen])).toBe(
      'input "x" parameters.binary_data_size must be a non-negative integer (bytes), received "16"',
    );
  });

  it('refuses binary data without the header, or next to JSON data', () => {
    expect(jsonError(classifier, header(16))).toBe(
      'input "x" has parameters.binary_data_size, but the request has no Inference-Header-Content-Length header to say where the json ends and the binary data begins',
    );
    expect(binaryError(classifier, header(16, { data: [1, 2, 3, 4] }), [sixteen])).toBe(
      'input "x" has both "data" and parameters.binary_data_size; send its values one way only',
    );
  });

  it('refuses BOOL bytes other than 0 and 1', () => {
    const request = {
      inputs: [
        { name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } },
        { name: 'input1', shape: [3], datatype: 'BOOL', parameters: { binary_data_size: 3 } },
      ],
    };
    expect(binaryError(triton, request, [sixteen, new Uint8Array([1, 0, 2])])).toBe(
      'input "input1": byte 2 of its BOOL binary data is 2, but a BOOL element is one byte, 1 for true or 0 for false',
    );
  });

  it('refuses BYTES data that does not add up, or is not UTF-8', () => {
    const strings = (size: number): object => ({
      inputs: allTypesRequest().inputs.map((i: any) =>
        i.name === 'in_string' ? { ...i, data: undefined, parameters: { binary_data_size: size } } : i,
      ),
    });
    const element = (bytes: number[]): Uint8Array => new Uint8Array([bytes.length, 0, 0, 0, ...bytes]);
    const good = [element([97]), element([98]), element([]), element([99, 100])];
    const sizeOf = (parts: Uint8Array[]): number => parts.reduce((n, p) => n + p.length, 0);
    const ok = binaryBody(strings(sizeOf(good)), good);
    expect(
      decodeInferRequest(ok.body, { model: dtypes, headerLength: ok.headerLength }).inputs.in_string.data,
    ).toEqual(['a', 'b', '', 'cd']);
    expect(binaryError(dtypes, strings(12), [new Uint8Array(12)])).toBe(
      'input "in_string" has parameters.binary_data_size 12, too small for 4 BYTES elements of shape [2, 2] (each takes a 4-byte length and its bytes)',
    );
    const overrun = [element([97]), element([98]), element([]), new Uint8Array([9, 0, 0, 0, 1, 2])];
    expect(binaryError(dtypes, strings(sizeOf(overrun)), overrun)).toBe(
      'input "in_string": BYTES element 3 says it has 9 bytes, but only 2 of its binary data (20 bytes) are left',
    );
    const trailing = [...good, new Uint8Array([0, 0])];
    expect(binaryError(dtypes, strings(sizeOf(trailing)), trailing)).toBe(
      'input "in_string" has parameters.binary_data_size 22, but its 4 BYTES elements take 20 bytes',
    );
    const cut = [element([97]), element([98]), element([99, 100, 101, 102]), new Uint8Array([1, 0])];
    expect(binaryError(dtypes, strings(sizeOf(cut)), cut)).toBe(
      'input "in_string": its binary data (20 bytes) ends before the length of BYTES element 3 of 4',
    );
    const invalid = [element([97]), element([0xff, 0xfe]), element([]), element([])];
    expect(binaryError(dtypes, strings(sizeOf(invalid)), invalid)).toBe(
      'input "in_string": BYTES element 1 is not valid utf-8; onnxruntime-node string tensors hold text, so send text encoded as utf-8',
    );
  });
});

// Keep the element type list in step with the builder's: a new feedable type needs a datatype here.
it('covers every element type the model builder knows', () => {
  expect(Object.keys(ELEMENT_TYPES).sort()).toEqual(Object.keys(DATATYPES).sort());
  expect(ORT_ELEMENT_TYPES.map((t: ElementType) => oipDatatype(t))).toEqual(
    ORT_ELEMENT_TYPES.map((t) => DATATYPES[t]),
  );
});
