/**
 * ONNX models and broken files for the tests, written into a temporary directory. Models come from
 * the deterministic builder (tools/onnx/model-builder.ts); what the builder cannot express
 * (unnamed dims, sequence inputs, sparse initializers, extra opset domains) is patched in with
 * onnx-proto. Everything is deterministic: the same call writes the same bytes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onnx } from 'onnx-proto';
import {
  ELEMENT_TYPES,
  type ElementTypeName,
  type ModelSpec,
  encodeModel,
} from '../../tools/onnx/model-builder';

/** A fixture model: its bytes and what a test can check against a hand computation. */
export interface FixtureModel {
  readonly bytes: Uint8Array;
  /** Elements of all initializers, counted by hand. */
  readonly parameterCount: number;
  /** Nodes in the graph. */
  readonly nodeCount: number;
}

/** Rewrites a model through onnx-proto, for what the builder cannot express. */
function patchModel(bytes: Uint8Array, patch: (model: onnx.ModelProto) => void): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  patch(model);
  return onnx.ModelProto.encode(model).finish();
}

function graphOf(model: onnx.ModelProto): onnx.IGraphProto {
  if (!model.graph) throw new Error('fixture model has no graph');
  return model.graph;
}

function valueNamed(values: onnx.IValueInfoProto[] | null | undefined, name: string): onnx.IValueInfoProto {
  const value = values?.find((v) => v.name === name);
  if (!value) throw new Error(`fixture model has no value ${name}`);
  return value;
}

function fromSpec(spec: ModelSpec, parameterCount: number): FixtureModel {
  return { bytes: encodeModel(spec), parameterCount, nodeCount: spec.nodes.length };
}

/**
 * Several inputs of several kinds: float32 [batch, 4], float32 [batch, seq, 8], an int64 scalar
 * and a bool [batch]; a bool and an int64 output; and an extra `ai.onnx.ml` opset import.
 */
function multiIo(): FixtureModel {
  const spec: ModelSpec = {
    graphName: 'multi-io',
    inputs: [
      { name: 'features', type: 'float32', shape: ['batch', 4] },
      { name: 'tokens', type: 'float32', shape: ['batch', 'seq', 8] },
      { name: 'k', type: 'int64', shape: [] },
      { name: 'mask', type: 'bool', shape: ['batch'] },
    ],
    outputs: [
      { name: 'scaled', type: 'float32', shape: ['batch', 4] },
      { name: 'pooled', type: 'float32', shape: ['batch', 8] },
      { name: 'k_out', type: 'int64', shape: [] },
      { name: 'not_mask', type: 'bool', shape: ['batch'] },
    ],
    initializers: [{ name: 'scale', type: 'float32', dims: [4], values: [1, 2, 3, 4] }],
    nodes: [
      { op: 'Mul', inputs: ['features', 'scale'], outputs: ['scaled'] },
      {
        op: 'ReduceMean',
        inputs: ['tokens'],
        outputs: ['pooled'],
        attributes: { axes: { ints: [1] }, keepdims: { int: 0 } },
      },
      { op: 'Identity', inputs: ['k'], outputs: ['k_out'] },
      { op: 'Not', inputs: ['mask'], outputs: ['not_mask'] },
    ],
  };
  const bytes = patchModel(encodeModel(spec), (m) => {
    m.opsetImport.push(onnx.OperatorSetIdProto.create({ domain: 'ai.onnx.ml', version: 3 }));
  });
  return { bytes, parameterCount: 4, nodeCount: 4 };
}

/** A batchable classifier like Iris: x [N, 4] → probabilities [N, 3] and an int64 label [N]. */
function batchableClassifier(): FixtureModel {
  return fromSpec(
    {
      graphName: 'classifier',
      producerName: 'fixture-producer',
      producerVersion: '2.1',
      inputs: [{ name: 'x', type: 'float32', shape: ['N', 4] }],
      outputs: [
        { name: 'probabilities', type: 'float32', shape: ['N', 3] },
        { name: 'label', type: 'int64', shape: ['N'] },
      ],
      initializers: [
        { name: 'W', type: 'float32', dims: [4, 3], values: Array.from({ length: 12 }, (_, i) => i / 10) },
        { name: 'b', type: 'float32', dims: [3], values: [0.1, 0.2, 0.3] },
      ],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W'], outputs: ['h'] },
        { op: 'Add', inputs: ['h', 'b'], outputs: ['logits'] },
        { op: 'Softmax', inputs: ['logits'], outputs: ['probabilities'], attributes: { axis: { int: 1 } } },
        {
          op: 'ArgMax',
          inputs: ['logits'],
          outputs: ['label'],
          attributes: { axis: { int: 1 }, keepdims: { int: 0 } },
        },
      ],
    },
    12 + 3,
  );
}

/** Every dimension fixed: a convolution over [1, 3, 8, 8] with a [4, 3, 3, 3] kernel. */
function fixedShape(): FixtureModel {
  return fromSpec(
    {
      graphName: 'fixed',
      inputs: [{ name: 'image', type: 'float32', shape: [1, 3, 8, 8] }],
      outputs: [{ name: 'features', type: 'float32', shape: [1, 4, 6, 6] }],
      initializers: [
        { name: 'kernel', type: 'float32', dims: [4, 3, 3, 3], values: new Float32Array(108).fill(0.5) },
        { name: 'bias', type: 'float32', dims: [4], values: [0, 1, 2, 3] },
      ],
      nodes: [{ op: 'Conv', inputs: ['image', 'kernel', 'bias'], outputs: ['features'] }],
    },
    4 * 3 * 3 * 3 + 4,
  );
}

/** IR 3 style: the initializer `offset` is also listed as a graph input; only `x` is a model input. */
function ir3ConstantInput(): FixtureModel {
  return fromSpec(
    {
      graphName: 'ir3',
      irVersion: 3,
      opset: 9,
      inputs: [
        { name: 'x', type: 'float32', shape: ['N', 2] },
        { name: 'offset', type: 'float32', shape: [2] },
      ],
      outputs: [{ name: 'y', type: 'float32', shape: ['N', 2] }],
      initializers: [{ name: 'offset', type: 'float32', dims: [2], values: [1, -1] }],
      nodes: [{ op: 'Add', inputs: ['x', 'offset'], outputs: ['y'] }],
    },
    2,
  );
}

/**
 * Dimensions without a size or a name (input `x` dim 0 has neither; output `y` dim 0 has a
 * negative size) and a value whose rank is not declared (`z`).
 */
function unnamedDims(): FixtureModel {
  const spec: ModelSpec = {
    graphName: 'unnamed-dims',
    inputs: [
      { name: 'x', type: 'float32', shape: ['placeholder', 4] },
      { name: 'z', type: 'int32' },
    ],
    outputs: [
      { name: 'y', type: 'float32', shape: ['placeholder', 4] },
      { name: 'z_out', type: 'int32' },
    ],
    nodes: [
      { op: 'Identity', inputs: ['x'], outputs: ['y'] },
      { op: 'Identity', inputs: ['z'], outputs: ['z_out'] },
    ],
  };
  const bytes = patchModel(encodeModel(spec), (m) => {
    const g = graphOf(m);
    const xDims = valueNamed(g.input, 'x').type!.tensorType!.shape!.dim!;
    xDims[0] = onnx.TensorShapeProto.Dimension.create({});
    const yDims = valueNamed(g.output, 'y').type!.tensorType!.shape!.dim!;
    yDims[0] = onnx.TensorShapeProto.Dimension.create({ dimValue: -1 });
  });
  return { bytes, parameterCount: 0, nodeCount: 2 };
}

/** A non-tensor input: `items` is a sequence of float32 [2] tensors. */
function sequenceInput(): FixtureModel {
  const spec: ModelSpec = {
    graphName: 'sequence',
    inputs: [{ name: 'items', type: 'float32', shape: [2] }],
    outputs: [{ name: 'first', type: 'float32', shape: [2] }],
    initializers: [{ name: 'index', type: 'int64', dims: [], values: [0] }],
    nodes: [{ op: 'SequenceAt', inputs: ['items', 'index'], outputs: ['first'] }],
  };
  const bytes = patchModel(encodeModel(spec), (m) => {
    const items = valueNamed(graphOf(m).input, 'items');
    items.type = onnx.TypeProto.create({
      sequenceType: {
        elemType: {
          tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 2 }] } },
        },
      },
    });
  });
  return { bytes, parameterCount: 1, nodeCount: 1 };
}

/** A sparse initializer (dense [3, 4], 2 stored values) next to a dense one ([4]). */
function sparseInitializer(): FixtureModel {
  const spec: ModelSpec = {
    graphName: 'sparse',
    inputs: [{ name: 'x', type: 'float32', shape: [3, 4] }],
    outputs: [{ name: 'y', type: 'float32', shape: [3, 4] }],
    initializers: [{ name: 'scale', type: 'float32', dims: [4], values: [1, 2, 3, 4] }],
    nodes: [
      { op: 'Add', inputs: ['x', 'delta'], outputs: ['shifted'] },
      { op: 'Mul', inputs: ['shifted', 'scale'], outputs: ['y'] },
    ],
  };
  const bytes = patchModel(encodeModel(spec), (m) => {
    graphOf(m).sparseInitializer = [
      onnx.SparseTensorProto.create({
        dims: [3, 4],
        values: { name: 'delta', dataType: onnx.TensorProto.DataType.FLOAT, dims: [2], floatData: [1, 2] },
        indices: {
          name: 'delta_indices',
          dataType: onnx.TensorProto.DataType.INT64,
          dims: [2],
          int64Data: [0, 5],
        },
      }),
    ];
  });
  return { bytes, parameterCount: 3 * 4 + 4, nodeCount: 2 };
}

/**
 * The element types onnxruntime-node can feed (the builder's list, in ONNX DataType code order),
 * each through an Identity: `in_<type>` → `out_<type>`.
 */
export const ORT_ELEMENT_TYPES = Object.keys(ELEMENT_TYPES) as ElementTypeName[];

function allElementTypes(): FixtureModel {
  return fromSpec(
    {
      graphName: 'dtypes',
      inputs: ORT_ELEMENT_TYPES.map((t) => ({ name: `in_${t}`, type: t, shape: ['n', 2] })),
      outputs: ORT_ELEMENT_TYPES.map((t) => ({ name: `out_${t}`, type: t, shape: ['n', 2] })),
      nodes: ORT_ELEMENT_TYPES.map((t) => ({ op: 'Identity', inputs: [`in_${t}`], outputs: [`out_${t}`] })),
    },
    0,
  );
}

/** No inputs at all: the output is a constant. */
function noInputs(): FixtureModel {
  return fromSpec(
    {
      graphName: 'constant',
      inputs: [],
      outputs: [{ name: 'value', type: 'int64', shape: [3] }],
      initializers: [{ name: 'c', type: 'int64', dims: [3], values: [1, 2, 3] }],
      nodes: [{ op: 'Identity', inputs: ['c'], outputs: ['value'] }],
    },
    3,
  );
}

/** The fixture models, by name. */
export const FIXTURE_MODELS = {
  'multi-io': multiIo,
  'batchable-classifier': batchableClassifier,
  'fixed-shape': fixedShape,
  'ir3-constant-input': ir3ConstantInput,
  'unnamed-dims': unnamedDims,
  'sequence-input': sequenceInput,
  'sparse-initializer': sparseInitializer,
  'all-element-types': allElementTypes,
  'no-inputs': noInputs,
} as const satisfies Record<string, () => FixtureModel>;

/** The name of a fixture model. */
export type FixtureName = keyof typeof FIXTURE_MODELS;

/** A fixture model written to disk. */
export interface WrittenFixture extends FixtureModel {
  readonly name: FixtureName;
  readonly path: string;
}

/** Makes a fresh temporary directory; the caller removes it with {@link removeDir}. */
export function makeTempDir(prefix = 'modelfab-fixtures-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Removes a directory made by {@link makeTempDir}. */
export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Writes every fixture model into `dir` as `<name>.onnx`. */
export function writeFixtureModels(dir: string): Record<FixtureName, WrittenFixture> {
  const entries = (Object.keys(FIXTURE_MODELS) as FixtureName[]).map((name) => {
    const model = FIXTURE_MODELS[name]();
    const file = path.join(dir, `${name}.onnx`);
    fs.writeFileSync(file, model.bytes);
    return [name, { ...model, name, path: file }] as const;
  });
  return Object.fromEntries(entries) as Record<FixtureName, WrittenFixture>;
}

/** A deterministic byte generator (mulberry32), so "random" files are the same on every run. */
export function seededBytes(seed: number, length: number): Uint8Array {
  let state = seed >>> 0;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff;
  }
  return out;
}

function writeFile(dir: string, name: string, bytes: Uint8Array | string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** Writes the first `keepBytes` bytes of a model, as an interrupted download leaves it. */
export function writeTruncatedModel(
  dir: string,
  model: Uint8Array,
  keepBytes: number,
  name = 'truncated.onnx',
): string {
  if (keepBytes <= 0 || keepBytes >= model.length) {
    throw new Error(`keepBytes ${keepBytes} must be between 1 and ${model.length - 1}`);
  }
  return writeFile(dir, name, model.subarray(0, keepBytes));
}

/** Writes a JSON document named like a model. */
export function writeJsonFile(dir: string, name = 'model.json.onnx'): string {
  return writeFile(dir, name, `${JSON.stringify({ model: 'iris', inputs: ['x'] }, null, 2)}\n`);
}

/** Writes plain text named like a model. */
export function writeTextFile(dir: string, name = 'notes.onnx'): string {
  return writeFile(dir, name, 'this is not a model\n');
}

/** Writes the first bytes of a PNG image. */
export function writePngFile(dir: string, name = 'image.onnx'): string {
  const header = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return writeFile(dir, name, Buffer.concat([header, seededBytes(7, 120)]));
}

/** Writes `length` seeded random bytes. */
export function writeRandomFile(dir: string, seed: number, length: number, name = 'random.onnx'): string {
  return writeFile(dir, name, seededBytes(seed, length));
}

/** Writes an empty file. */
export function writeEmptyFile(dir: string, name = 'empty.onnx'): string {
  return writeFile(dir, name, new Uint8Array(0));
}

/** Encodes a protobuf varint. */
export function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return out;
}

/** A length-delimited field: key, length, payload. */
export function lengthDelimited(fieldNumber: number, payload: Uint8Array | readonly number[]): Uint8Array {
  const bytes = Uint8Array.from(payload);
  return Uint8Array.from([...varint(fieldNumber * 8 + 2), ...varint(bytes.length), ...bytes]);
}

/** A varint field: key and value. */
export function varintField(fieldNumber: number, value: number | bigint): Uint8Array {
  return Uint8Array.from([...varint(fieldNumber * 8), ...varint(value)]);
}

/** `opset_import { domain: "" version: 13 }`. */
const DEFAULT_OPSET = lengthDelimited(8, varintField(2, 13));

/**
 * Writes a model that starts like an onnx model (ir_version, opset_import) but whose graph is
 * protobuf-like garbage: seeded random bytes framed as the graph field.
 */
export function writeCorruptModel(dir: string, seed = 1, name = 'corrupt.onnx'): string {
  return writeFile(
    dir,
    name,
    Buffer.concat([varintField(1, 8), lengthDelimited(7, seededBytes(seed, 256)), DEFAULT_OPSET]),
  );
}

/** Writes a model with an ir_version and an opset but no graph. */
export function writeModelWithoutGraph(dir: string, name = 'no-graph.onnx'): string {
  return writeFile(dir, name, Buffer.concat([varintField(1, 8), DEFAULT_OPSET]));
}

/** Rewrites a valid model's bytes with another ir_version (possibly invalid: 0, negative, too new). */
export function withIrVersion(model: Uint8Array, irVersion: number): Uint8Array {
  return patchModel(model, (m) => {
    m.irVersion = irVersion;
  });
}

/** Rewrites a valid model's bytes without any opset_import. */
export function withoutOpsets(model: Uint8Array): Uint8Array {
  return patchModel(model, (m) => {
    m.opsetImport = [];
  });
}

/** Rewrites a valid model's bytes, setting input `name`'s element type code (0 = undefined). */
export function withInputElementType(model: Uint8Array, name: string, code: number): Uint8Array {
  return patchModel(model, (m) => {
    valueNamed(graphOf(m).input, name).type!.tensorType!.elemType = code;
  });
}

/**
 * Writes a valid model of about `dataBytes` bytes without holding it in memory: input `x`
 * float32 [N, n] plus an initializer `w` float32 [n] of zeros (n = dataBytes / 4), y = x + w; or,
 * `reduced`, x float32 [N, 1] and y = x + sum(w) (a model large in memory with small requests).
 * The graph is assembled on the wire (fields may come in any order), so the initializer's data
 * is streamed to the file in chunks.
 * @returns the path and the initializer's element count
 */
export function writeLargeModel(
  dir: string,
  dataBytes: number,
  name = 'large.onnx',
  shape: 'elementwise' | 'reduced' = 'elementwise',
): { path: string; elements: number } {
  const elements = Math.floor(dataBytes / 4);
  const small = encodeModel(
    shape === 'elementwise'
      ? {
          graphName: 'large',
          inputs: [{ name: 'x', type: 'float32', shape: ['N', elements] }],
          outputs: [{ name: 'y', type: 'float32', shape: ['N', elements] }],
          nodes: [{ op: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
        }
      : {
          // Large in memory, small on the wire: y = x + sum(w), x float32 [N, 1].
          graphName: 'large-reduced',
          inputs: [{ name: 'x', type: 'float32', shape: ['N', 1] }],
          outputs: [{ name: 'y', type: 'float32', shape: ['N', 1] }],
          nodes: [
            { op: 'ReduceSum', inputs: ['w'], outputs: ['s'], attributes: { keepdims: { int: 0 } } },
            { op: 'Add', inputs: ['x', 's'], outputs: ['y'] },
          ],
        },
  );
  const model = onnx.ModelProto.decode(small);
  const graphBytes = onnx.GraphProto.encode(graphOf(model)).finish();
  model.graph = null;
  const header = onnx.ModelProto.encode(model).finish();
  // TensorProto { dims: [elements], data_type: FLOAT, name: 'w', raw_data: <zeros> }
  const tensorHead = Buffer.concat([
    varintField(1, elements),
    varintField(2, onnx.TensorProto.DataType.FLOAT),
    lengthDelimited(8, Buffer.from('w')),
    Uint8Array.from([...varint(9 * 8 + 2), ...varint(elements * 4)]),
  ]);
  const tensorLength = tensorHead.length + elements * 4;
  const initializerHead = Uint8Array.from([...varint(5 * 8 + 2), ...varint(tensorLength)]);
  const graphLength = graphBytes.length + initializerHead.length + tensorLength;
  const file = path.join(dir, name);
  const fd = fs.openSync(file, 'w');
  try {
    for (const part of [
      header,
      Uint8Array.from([...varint(7 * 8 + 2), ...varint(graphLength)]),
      graphBytes,
    ]) {
      fs.writeSync(fd, part);
    }
    fs.writeSync(fd, initializerHead);
    fs.writeSync(fd, tensorHead);
    const chunk = new Uint8Array(Math.min(elements * 4, 16 << 20));
    for (let left = elements * 4; left > 0; left -= chunk.length) {
      fs.writeSync(fd, chunk, 0, Math.min(chunk.length, left));
    }
  } finally {
    fs.closeSync(fd);
  }
  return { path: file, elements };
}
