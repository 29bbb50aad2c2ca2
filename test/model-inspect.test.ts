/**
 * lib/model: inspectModel against what onnxruntime-node itself reports for the same files (names,
 * types, shapes), against an independent decoder (onnx-proto) and hand counts for the rest, and
 * every way a model file can be unusable, each with its own code and message.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_SUPPORTED_IR_VERSION,
  type ModelFileErrorCode,
  type ModelInfo,
  ModelFileError,
  type ValueSignature,
  inspectModel,
} from '../lib/model';
import { decodeModelProto } from '../lib/model/decode-model-proto';
import { ProtobufReader } from '../lib/model/protobuf-reader';
import * as fx from './support/fixture-models';

const ROOT = path.resolve(__dirname, '..');
const IRIS = path.join(ROOT, 'examples', 'iris', 'model', 'iris.onnx');

let dir: string;
let fixtures: Record<fx.FixtureName, fx.WrittenFixture>;

beforeAll(() => {
  dir = fx.makeTempDir('modelfab-model-inspect-');
  fixtures = fx.writeFixtureModels(dir);
});

afterAll(() => {
  fx.removeDir(dir);
});

/** A signature as onnxruntime-node reports it; ORT shows an undeclared rank as `[]`. */
function asOrtMetadata(v: ValueSignature): ort.InferenceSession.ValueMetadata {
  return v.isTensor
    ? { name: v.name, isTensor: true, type: v.elementType as ort.Tensor.Type, shape: v.shape ?? [] }
    : { name: v.name, isTensor: false };
}

/** Loads the model in onnxruntime-node and checks the IO signature inspectModel reports against it. */
async function expectSignatureMatchesOrt(file: string, info: ModelInfo): Promise<void> {
  const session = await ort.InferenceSession.create(file);
  try {
    expect(info.inputs.map((v) => v.name)).toEqual(session.inputNames);
    expect(info.outputs.map((v) => v.name)).toEqual(session.outputNames);
    expect(info.inputs.map(asOrtMetadata)).toEqual(session.inputMetadata);
    expect(info.outputs.map(asOrtMetadata)).toEqual(session.outputMetadata);
  } finally {
    await session.release();
  }
}

/** An int64 as onnx-proto decodes it (a Long, or a number) as a number. */
function num(value: unknown): number {
  if (typeof value === 'number') return value;
  const long = value as { toNumber?: () => number } | null | undefined;
  return long?.toNumber ? long.toNumber() : 0;
}

/** Checks the file facts and everything onnx-proto (protobufjs) decodes independently. */
function expectMatchesOnnxProto(file: string, info: ModelInfo): void {
  const bytes = fs.readFileSync(file);
  expect(info.path).toBe(path.resolve(file));
  expect(info.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  expect(info.sizeBytes).toBe(fs.statSync(file).size);

  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph as onnx.GraphProto;
  expect(info.irVersion).toBe(num(model.irVersion));
  expect(info.producerName).toBe(model.producerName);
  expect(info.producerVersion).toBe(model.producerVersion);
  expect(info.graphName).toBe(graph.name);
  expect(info.nodeCount).toBe(graph.node.length);
  expect(info.opsetImports).toEqual(
    model.opsetImport.map((o) => ({
      domain: o.domain === '' ? 'ai.onnx' : o.domain,
      version: num(o.version),
    })),
  );
  const elements = (dims: readonly unknown[] | null | undefined): number =>
    (dims ?? []).reduce<number>((n, d) => n * num(d), 1);
  const parameters =
    graph.initializer.reduce((n, t) => n + elements(t.dims), 0) +
    graph.sparseInitializer.reduce((n, t) => n + elements(t.dims), 0);
  expect(info.parameterCount).toBe(parameters);
}

describe('inspectModel on the fixture models', () => {
  const names = Object.keys(fx.FIXTURE_MODELS) as fx.FixtureName[];

  it.each(names)('%s: the signature is what onnxruntime-node reports', async (name) => {
    const fixture = fixtures[name];
    await expectSignatureMatchesOrt(fixture.path, inspectModel(fixture.path));
  });

  it.each(names)('%s: file facts and counts match onnx-proto and the hand counts', (name) => {
    const fixture = fixtures[name];
    const info = inspectModel(fixture.path);
    expectMatchesOnnxProto(fixture.path, info);
    expect(info.parameterCount).toBe(fixture.parameterCount);
    expect(info.nodeCount).toBe(fixture.nodeCount);
  });

  it('reports several inputs of several kinds, symbolic dims and extra opset domains', () => {
    const info = inspectModel(fixtures['multi-io'].path);
    expect(info.inputs).toEqual([
      { name: 'features', isTensor: true, elementType: 'float32', shape: ['batch', 4], batchDim: true },
      { name: 'tokens', isTensor: true, elementType: 'float32', shape: ['batch', 'seq', 8], batchDim: true },
      { name: 'k', isTensor: true, elementType: 'int64', shape: [], batchDim: false },
      { name: 'mask', isTensor: true, elementType: 'bool', shape: ['batch'], batchDim: true },
    ]);
    expect(info.outputs.map((o) => [o.name, o.isTensor && o.elementType])).toEqual([
      ['scaled', 'float32'],
      ['pooled', 'float32'],
      ['k_out', 'int64'],
      ['not_mask', 'bool'],
    ]);
    expect(info.opsetImports).toEqual([
      { domain: 'ai.onnx', version: 13 },
      { domain: 'ai.onnx.ml', version: 3 },
    ]);
    expect(info.batchable).toBe(false); // the int64 scalar has no batch dim
  });

  it('calls a model batchable when every input and output has a batch dim 0', () => {
    const info = inspectModel(fixtures['batchable-classifier'].path);
    expect(info.batchable).toBe(true);
    expect(info.outputs).toEqual([
      { name: 'probabilities', isTensor: true, elementType: 'float32', shape: ['N', 3], batchDim: true },
      { name: 'label', isTensor: true, elementType: 'int64', shape: ['N'], batchDim: true },
    ]);
    expect(info.producerName).toBe('fixture-producer');
    expect(info.producerVersion).toBe('2.1');
    expect(info.parameterCount).toBe(4 * 3 + 3);
  });

  it('is not batchable with fixed shapes or without inputs', () => {
    const fixed = inspectModel(fixtures['fixed-shape'].path);
    expect(fixed.inputs[0]).toEqual({
      name: 'image',
      isTensor: true,
      elementType: 'float32',
      shape: [1, 3, 8, 8],
      batchDim: false,
    });
    expect(fixed.batchable).toBe(false);
    expect(inspectModel(fixtures['no-inputs'].path)).toMatchObject({ inputs: [], batchable: false });
    expect(inspectModel(fixtures['all-element-types'].path).batchable).toBe(true);
  });

  it('leaves out graph inputs that are initializers (IR 3 constants), but counts their parameters', () => {
    const info = inspectModel(fixtures['ir3-constant-input'].path);
    expect(info.irVersion).toBe(3);
    expect(info.inputs.map((v) => v.name)).toEqual(['x']);
    expect(info.parameterCount).toBe(2);
    expect(info.batchable).toBe(true);
  });

  it('counts the weights of Constant nodes as parameters, as exporters that do not use initializers write them', () => {
    const { AttributeType, DataType } = {
      AttributeType: onnx.AttributeProto.AttributeType,
      DataType: onnx.TensorProto.DataType,
    };
    const attribute = (name: string, value: Record<string, unknown>) =>
      onnx.AttributeProto.create({ name, ...value });
    const constant = (output: string, attr: onnx.IAttributeProto, domain?: string) =>
      onnx.NodeProto.create({
        opType: 'Constant',
        output: [output],
        attribute: [attr],
        ...(domain ? { domain } : {}),
      });
    const weights = new Float32Array(12).fill(0.5);
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'constant-weights',
        input: [
          {
            name: 'x',
            type: {
              tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: 4 }] } },
            },
          },
        ],
        output: [
          {
            name: 'y',
            type: {
              tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }] } },
            },
          },
        ],
        node: [
          // 12: the MatMul's weights as a Constant tensor
          constant(
            'w',
            attribute('value', {
              type: AttributeType.TENSOR,
              t: { dims: [4, 3], dataType: DataType.FLOAT, rawData: new Uint8Array(weights.buffer) },
            }),
          ),
          // 3 as value_floats, 1 as value_int, 100 as a sparse value of dense dims [10, 10]
          constant('b', attribute('value_floats', { type: AttributeType.FLOATS, floats: [0.1, 0.2, 0.3] })),
          constant('k', attribute('value_int', { type: AttributeType.INT, i: 7 })),
          constant(
            's',
            attribute('sparse_value', {
              type: AttributeType.SPARSE_TENSOR,
              sparseTensor: {
                dims: [10, 10],
                values: { dims: [1], dataType: DataType.FLOAT, floatData: [1] },
                indices: { dims: [1], dataType: DataType.INT64, int64Data: [0] },
              },
            }),
          ),
          // A Constant of another domain is not ONNX's Constant: not counted.
          constant(
            'other',
            attribute('value', { type: AttributeType.TENSOR, t: { dims: [1000], dataType: DataType.FLOAT } }),
            'com.example',
          ),
          onnx.NodeProto.create({ opType: 'MatMul', input: ['x', 'w'], output: ['xw'] }),
          onnx.NodeProto.create({ opType: 'Add', input: ['xw', 'b'], output: ['y'] }),
        ],
        initializer: [{ name: 'unused', dims: [2], dataType: DataType.FLOAT, floatData: [1, 2] }],
      },
    });
    const file = path.join(dir, 'constant-weights.onnx');
    fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
    const info = inspectModel(file);
    expect(info.parameterCount).toBe(12 + 3 + 1 + 100 + 2);
    expect(info.nodeCount).toBe(7);
    expect(info.inputs.map((v) => v.name)).toEqual(['x']);
  });

  it("reports a dim without size or name (or with a negative size) as '' and an undeclared rank as undefined", () => {
    const info = inspectModel(fixtures['unnamed-dims'].path);
    expect(info.inputs).toEqual([
      { name: 'x', isTensor: true, elementType: 'float32', shape: ['', 4], batchDim: true },
      { name: 'z', isTensor: true, elementType: 'int32', shape: undefined, batchDim: false },
    ]);
    expect(info.outputs[0]).toMatchObject({ name: 'y', shape: ['', 4], batchDim: true });
    expect(info.batchable).toBe(false);
  });

  it('reports a sequence input as a non-tensor', () => {
    const info = inspectModel(fixtures['sequence-input'].path);
    expect(info.inputs).toEqual([{ name: 'items', isTensor: false, kind: 'sequence', batchDim: false }]);
    expect(info.batchable).toBe(false);
  });

  it('counts a sparse initializer by its dense element count', () => {
    const info = inspectModel(fixtures['sparse-initializer'].path);
    expect(info.parameterCount).toBe(3 * 4 + 4);
    expect(info.inputs.map((v) => v.name)).toEqual(['x']);
  });

  it('names every element type as onnxruntime-node does', () => {
    const info = inspectModel(fixtures['all-element-types'].path);
    expect(info.inputs.map((v) => v.isTensor && v.elementType)).toEqual([...fx.ORT_ELEMENT_TYPES]);
  });

  it('names the element types onnxruntime-node cannot feed after their onnx names', () => {
    const bytes = fx.withInputElementType(fixtures['batchable-classifier'].bytes, 'x', 16);
    const file = path.join(dir, 'bfloat16.onnx');
    fs.writeFileSync(file, bytes);
    expect(inspectModel(file).inputs[0]).toMatchObject({ isTensor: true, elementType: 'bfloat16' });
  });

  it("shows the default opset domain as 'ai.onnx' however the file spells it, and reads the other model fields", () => {
    const model = onnx.ModelProto.decode(fixtures['batchable-classifier'].bytes);
    model.opsetImport = [onnx.OperatorSetIdProto.create({ domain: 'ai.onnx', version: 17 })];
    model.domain = 'com.acme.vision';
    model.modelVersion = 7;
    model.docString = 'a classifier\nfor tests';
    const file = path.join(dir, 'fields.onnx');
    fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
    expect(inspectModel(file)).toMatchObject({
      opsetImports: [{ domain: 'ai.onnx', version: 17 }],
      domain: 'com.acme.vision',
      modelVersion: 7,
      docString: 'a classifier\nfor tests',
    });
  });

  it('resolves a relative path from the current directory and reports it absolute', () => {
    const file = fixtures['fixed-shape'].path;
    const info = inspectModel(path.relative(process.cwd(), file));
    expect(info.path).toBe(file);
    expect(path.isAbsolute(info.path)).toBe(true);
  });
});

describe('inspectModel on the Iris example model', () => {
  it('matches onnxruntime-node, onnx-proto and the file', async () => {
    const info = inspectModel(IRIS);
    expectMatchesOnnxProto(IRIS, info);
    await expectSignatureMatchesOrt(IRIS, info);
    expect(info.batchable).toBe(true);
  });
});

describe('inspectModel on a large model', () => {
  const DATA_BYTES = 256 << 20;
  let large: { path: string; elements: number };

  beforeAll(() => {
    large = fx.writeLargeModel(dir, DATA_BYTES);
  });

  afterAll(() => {
    fs.rmSync(large.path, { force: true });
  });

  it('inspects a 256 MiB model quickly and exactly', () => {
    const started = performance.now();
    const info = inspectModel(large.path);
    const seconds = (performance.now() - started) / 1000;
    expect(info.sizeBytes).toBe(fs.statSync(large.path).size);
    expect(info.sizeBytes).toBeGreaterThan(DATA_BYTES);
    expect(info.parameterCount).toBe(large.elements);
    expect(info.inputs[0]).toMatchObject({ name: 'x', shape: ['N', large.elements] });
    expect(seconds).toBeLessThan(20);
  });

  it('decodes it without copying the initializer data', () => {
    const bytes = fs.readFileSync(large.path);
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    const proto = decodeModelProto(bytes);
    const ms = performance.now() - started;
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(proto.graph?.initializers).toEqual([{ name: 'w', dims: [BigInt(large.elements)], sparse: false }]);
    expect(grown).toBeLessThan(1 << 20);
    expect(ms).toBeLessThan(1000); // the data is skipped, not scanned
  });
});

/** Runs inspectModel, expects a ModelFileError with `code` naming the file, and returns it. */
function expectFileError(file: string, code: ModelFileErrorCode): ModelFileError {
  let caught: unknown;
  try {
    inspectModel(file);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ModelFileError);
  const error = caught as ModelFileError;
  expect({ code: error.code, message: error.message }).toMatchObject({ code });
  expect(error.path).toBe(path.resolve(file));
  expect(error.message).toContain(path.resolve(file));
  expect(error.message).toMatch(/^[a-z]/);
  return error;
}

function writeBytes(name: string, bytes: Uint8Array): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

describe('inspectModel on files that are not usable models', () => {
  it('missing: names the resolved path and where relative paths resolve from', () => {
    const relative = path.relative(process.cwd(), path.join(dir, 'nope', 'model.onnx'));
    const error = expectFileError(relative, 'missing');
    expect(error.message).toContain('model file not found');
    expect(error.message).toContain(JSON.stringify(relative));
    expect(error.message).toContain(`relative paths resolve from the current directory, ${process.cwd()}`);
  });

  it('missing, given an absolute path: no relative-path hint', () => {
    const error = expectFileError(path.join(dir, 'absent.onnx'), 'missing');
    expect(error.message).not.toContain('relative paths');
  });

  it('a directory', () => {
    expect(expectFileError(dir, 'not-a-file').message).toContain('is a directory, not a file');
  });

  it('a device', () => {
    expect(expectFileError('/dev/null', 'not-a-file').message).toContain('not a regular file');
  });

  it('unreadable: a file the operating system refuses to read', () => {
    // /proc/self/mem is a regular file whose read at offset 0 fails with EIO (linux).
    const error = expectFileError('/proc/self/mem', 'unreadable');
    expect(error.message).toContain('cannot read model file /proc/self/mem');
    expect(error.message).toContain('EIO');
  });

  it('empty', () => {
    expect(expectFileError(fx.writeEmptyFile(dir), 'empty').message).toContain(
      'model file is empty (0 bytes)',
    );
  });

  it('truncated: says where the file ends and how long it should be', () => {
    const full = fixtures['batchable-classifier'].bytes;
    const file = fx.writeTruncatedModel(dir, full, 100);
    const error = expectFileError(file, 'truncated');
    expect(error.message).toContain('model file is truncated');
    expect(error.message).toContain('the graph field at byte offset');
    expect(error.message).toContain('the file ends at byte offset 100');
    const expected = Number(/expected at least (\d+) bytes, got 100\b/.exec(error.message)?.[1]);
    expect(expected).toBeGreaterThan(100);
    expect(expected).toBeLessThanOrEqual(full.length);
    expect(error.offset).toBe(100);
  });

  it('truncated anywhere inside a top-level field: always says truncated', () => {
    const full = fixtures['multi-io'].bytes;
    // The top-level fields' extents; a cut exactly between two fields leaves a shorter message.
    const fields: [number, number][] = [];
    const reader = new ProtobufReader(full);
    while (!reader.atEnd) {
      const tag = reader.readTag();
      reader.skipField(tag);
      fields.push([tag.offset, reader.offset]);
    }
    expect(fields.length).toBeGreaterThanOrEqual(4);
    for (const [start, end] of fields) {
      for (let keep = start + 1; keep < end; keep++) {
        const file = fx.writeTruncatedModel(dir, full, keep, 'cut.onnx');
        expect(() => inspectModel(file), `cut to ${keep} bytes`).toThrow(
          expect.objectContaining({ code: 'truncated', offset: keep }),
        );
      }
    }
  });

  it('corrupt: protobuf-like garbage where the graph should be', () => {
    const error = expectFileError(fx.writeCorruptModel(dir, 1), 'corrupt');
    expect(error.message).toContain('model file is corrupt');
    expect(error.message).toMatch(/at byte offset \d+ \(in graph/);
    expect(error.offset).toBeGreaterThan(0);
  });

  it.each([
    ['json', () => fx.writeJsonFile(dir), 'it looks like json'],
    ['text', () => fx.writeTextFile(dir), 'it looks like text'],
    ['png', () => fx.writePngFile(dir), 'it looks like a png image'],
    ['random bytes', () => fx.writeRandomFile(dir, 42, 4096), 'not a ModelProto field'],
  ])('not onnx: %s', (_kind, write, hint) => {
    const error = expectFileError(write(), 'not-onnx');
    expect(error.message).toContain('not an onnx model');
    expect(error.message).toContain(hint);
  });

  it('not onnx: another protobuf message (an onnx TensorProto)', () => {
    const tensor = onnx.TensorProto.encode({ dims: [2], dataType: 1, floatData: [1, 2], name: 't' }).finish();
    expect(expectFileError(writeBytes('tensor.pb', tensor), 'not-onnx').message).toContain(
      'not an onnx model',
    );
  });

  it('no graph', () => {
    const error = expectFileError(fx.writeModelWithoutGraph(dir), 'no-graph');
    expect(error.message).toContain('onnx model has no graph');
    expect(error.message).toContain('ir_version 8');
  });

  it.each([0, -1])('corrupt: ir_version %i', (ir) => {
    const file = writeBytes(`ir${ir}.onnx`, fx.withIrVersion(fixtures['batchable-classifier'].bytes, ir));
    expect(expectFileError(file, 'corrupt').message).toContain(
      `ir_version ${ir}, which is not a valid ir version`,
    );
  });

  it('unsupported: an ir_version newer than onnxruntime loads', async () => {
    const next = MAX_SUPPORTED_IR_VERSION + 1;
    const file = writeBytes('ir-next.onnx', fx.withIrVersion(fixtures['batchable-classifier'].bytes, next));
    const error = expectFileError(file, 'unsupported');
    expect(error.message).toContain(`onnx ir_version ${next} is newer than modelfab supports`);
    expect(error.message).toContain(`up to ${MAX_SUPPORTED_IR_VERSION}`);
    await expect(ort.InferenceSession.create(file)).rejects.toThrow(/IR version/);
  });

  it('the newest supported ir_version loads in onnxruntime and inspects', async () => {
    const file = writeBytes(
      'ir-max.onnx',
      fx.withIrVersion(fixtures['batchable-classifier'].bytes, MAX_SUPPORTED_IR_VERSION),
    );
    const info = inspectModel(file);
    expect(info.irVersion).toBe(MAX_SUPPORTED_IR_VERSION);
    await expectSignatureMatchesOrt(file, info);
  });

  it('corrupt: no opset_import', () => {
    const file = writeBytes('no-opset.onnx', fx.withoutOpsets(fixtures['batchable-classifier'].bytes));
    expect(expectFileError(file, 'corrupt').message).toContain('imports no operator set');
  });

  it('corrupt: a tensor input without an element type', () => {
    const file = writeBytes(
      'elem0.onnx',
      fx.withInputElementType(fixtures['batchable-classifier'].bytes, 'x', 0),
    );
    expect(expectFileError(file, 'corrupt').message).toContain(
      'input "x" is a tensor without an element type',
    );
  });

  it('unsupported: an element type code modelfab does not know', () => {
    const file = writeBytes(
      'elem99.onnx',
      fx.withInputElementType(fixtures['batchable-classifier'].bytes, 'x', 99),
    );
    expect(expectFileError(file, 'unsupported').message).toContain('element type code 99');
  });
});
