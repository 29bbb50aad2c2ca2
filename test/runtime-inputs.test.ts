/**
 * lib/runtime benchmark inputs: seeded random tensors (deterministic, in range, accepted by a
 * real onnxruntime session for every element type) and the shape resolution of symbolic dims,
 * with each error message.
 */
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelInfo, inspectModel } from '../lib/model';
import {
  InputShapesError,
  InputValidationError,
  numberFromHalfBits,
  randomInputs,
  resolveInputShapes,
  sessionOptionsFor,
  validateInputs,
} from '../lib/runtime';
import { fromOrtTensor, toOrtTensor } from '../lib/runtime/ort-tensor';
import {
  type FixtureName,
  type WrittenFixture,
  makeTempDir,
  removeDir,
  writeFixtureModels,
} from './support/fixture-models';
import {
  FEEDABLE_TYPES,
  identityModel,
  matMulModel,
  rowsModel,
  writeModel,
} from './support/runtime-fixtures';

let dir: string;
let fixtures: Record<FixtureName, WrittenFixture>;
let multiIo: ModelInfo;
let rows: ModelInfo;
let unnamed: ModelInfo;
let fixed: ModelInfo;
let matMul: ModelInfo;
/** image [batch, 3, h, w] and audio [batch, samples]: three dims no batch size gives. */
let unpinned: ModelInfo;

beforeAll(() => {
  dir = makeTempDir('modelfab-runtime-inputs-');
  fixtures = writeFixtureModels(dir);
  multiIo = inspectModel(fixtures['multi-io'].path);
  unnamed = inspectModel(fixtures['unnamed-dims'].path);
  fixed = inspectModel(fixtures['fixed-shape'].path);
  rows = inspectModel(writeModel(dir, 'rows', rowsModel()));
  matMul = inspectModel(writeModel(dir, 'matmul', matMulModel()));
  unpinned = inspectModel(
    writeModel(dir, 'unpinned', {
      graphName: 'unpinned',
      inputs: [
        { name: 'image', type: 'float32', shape: ['batch', 3, 'h', 'w'] },
        { name: 'audio', type: 'float32', shape: ['batch', 'samples'] },
      ],
      outputs: [
        { name: 'image_out', type: 'float32', shape: ['batch', 3, 'h', 'w'] },
        { name: 'audio_out', type: 'float32', shape: ['batch', 'samples'] },
      ],
      nodes: [
        { op: 'Identity', inputs: ['image'], outputs: ['image_out'] },
        { op: 'Identity', inputs: ['audio'], outputs: ['audio_out'] },
      ],
    }),
  );
});

afterAll(() => removeDir(dir));

function bytesOf(inputs: Record<string, { data: unknown }>): string {
  return JSON.stringify(inputs, (_, v: unknown) =>
    typeof v === 'bigint'
      ? `${v}n`
      : ArrayBuffer.isView(v)
        ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')
        : v,
  );
}

describe('randomInputs', () => {
  it('gives the same bytes for the same seed and other bytes for another', () => {
    const shapes = { features: [4, 4], tokens: [4, 3, 8], k: [], mask: [4] };
    const a = randomInputs(multiIo, shapes, 7);
    const b = randomInputs(multiIo, shapes, 7);
    const c = randomInputs(multiIo, shapes, 8);
    expect(bytesOf(a)).toBe(bytesOf(b));
    expect(bytesOf(a)).not.toBe(bytesOf(c));
    expect(validateInputs(multiIo, a)).toEqual({ rows: undefined });
  });

  it.each(FEEDABLE_TYPES)('makes %s data in range that a real session accepts', async (type) => {
    const path = writeModel(dir, `identity-${type}`, identityModel(type));
    const model = inspectModel(path);
    const inputs = randomInputs(model, resolveInputShapes(model, {}, 40), 3);
    const x = inputs.x;
    expect(x.type).toBe(type);
    expect(x.dims).toEqual([40, 3]);
    expect(validateInputs(model, inputs)).toEqual({ rows: 40 });
    const values: number[] = Array.from(x.data as ArrayLike<number | bigint | string>, (v) =>
      typeof v === 'string' ? v.length : type === 'float16' ? numberFromHalfBits(v as number) : Number(v),
    );
    if (type.startsWith('float')) {
      expect(Math.min(...values)).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...values)).toBeLessThan(1);
      expect(new Set(values).size).toBeGreaterThan(30);
    } else if (type === 'bool') {
      expect(new Set(values)).toEqual(new Set([0, 1]));
    } else if (type === 'string') {
      expect(Math.min(...values)).toBeGreaterThanOrEqual(1);
      expect(Math.max(...values)).toBeLessThanOrEqual(8);
    } else {
      expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...values)).toBeLessThanOrEqual(9);
    }
    const session = await ort.InferenceSession.create(path, sessionOptionsFor({ intraOpThreads: 1 }));
    try {
      const out = await session.run({ x: toOrtTensor(x) });
      expect(fromOrtTensor(out.y)).toEqual(x);
    } finally {
      await session.release();
    }
  });

  it('refuses an input without a shape, and models it cannot feed', () => {
    expect(() => randomInputs(rows, { tokens: [1, 1, 2] }, 1)).toThrow(
      new InputShapesError('no shape for input "ids"; resolve the shapes with resolveInputShapes first'),
    );
    const sequence = inspectModel(fixtures['sequence-input'].path);
    expect(() => randomInputs(sequence, { items: [2] }, 1)).toThrow(
      new InputValidationError('input "items" is a sequence, which onnxruntime-node cannot feed'),
    );
  });
});

describe('resolveInputShapes', () => {
  it('puts the batch in dim 0 and keeps fixed dims', () => {
    expect(resolveInputShapes(rows, { tokens: [1, 16, 2] }, 8)).toEqual({ tokens: [8, 16, 2], ids: [8, 3] });
    expect(resolveInputShapes(fixed, {})).toEqual({ image: [1, 3, 8, 8] });
  });

  it('takes a symbol given for one input for every input that names it', () => {
    // a [n, k1] × b [k2, 2]: a listed shape keeps its dim 0, even where it is symbolic.
    expect(resolveInputShapes(matMul, { a: [3, 5], b: [5, 2] })).toEqual({ a: [3, 5], b: [5, 2] });
    expect(() => resolveInputShapes(matMul, { b: [5, 2] })).toThrow(
      'input "a" has symbolic dimension 1 ("k1") with no value; set gate.inputShapes: { a: [1, <k1>] }',
    );
    expect(resolveInputShapes(multiIo, { tokens: [2, 12, 8] })).toEqual({
      features: [2, 4],
      tokens: [2, 12, 8],
      k: [],
      mask: [2],
    });
    expect(resolveInputShapes(multiIo, { tokens: [1, 12, 8] }, 3)).toEqual({
      features: [1, 4],
      tokens: [1, 12, 8],
      k: [],
      mask: [1],
    });
  });

  const errors: Array<[string, () => unknown, string]> = [
    [
      'every dim without a value, of every input, in one message',
      () => resolveInputShapes(unpinned, {}),
      'input "image" has symbolic dimension 2 ("h") and symbolic dimension 3 ("w") with no value; ' +
        'input "audio" has symbolic dimension 1 ("samples") with no value; ' +
        'set gate.inputShapes: { image: [1, 3, <h>, <w>], audio: [1, <samples>] }',
    ],
    [
      'a symbolic dim without a value',
      () => resolveInputShapes(rows, {}),
      'input "tokens" has symbolic dimension 1 ("seq") with no value; set gate.inputShapes: { tokens: [1, <seq>, 2] }',
    ],
    [
      'an unknown rank without a shape',
      () => resolveInputShapes(unnamed, {}),
      'input "z" has no declared rank; set gate.inputShapes: { z: [<dims>] }',
    ],
    [
      'a shape for an unknown input',
      () => resolveInputShapes(rows, { tokens: [1, 2, 2], image: [1, 3] }),
      'gate.inputShapes names input "image", which the model does not have; its inputs are "tokens", "ids"',
    ],
    [
      'a shape of the wrong rank',
      () => resolveInputShapes(rows, { tokens: [1, 2] }),
      'gate.inputShapes.tokens is [1, 2] (rank 2), but input "tokens" has rank 3: [batch, seq, 2]',
    ],
    [
      'a shape contradicting a fixed dim',
      () => resolveInputShapes(rows, { tokens: [1, 2, 3] }),
      'gate.inputShapes.tokens is [1, 2, 3], but dimension 2 of input "tokens" is fixed at 2 ([batch, seq, 2])',
    ],
    [
      'a shape that is not a list of sizes',
      () => resolveInputShapes(rows, { tokens: [1, -2, 2] }),
      'gate.inputShapes.tokens must be a list of non-negative integers, received [1,-2,2]',
    ],
    [
      'a batch that is not a positive integer',
      () => resolveInputShapes(rows, {}, 0),
      'the batch size must be a positive integer, received 0',
    ],
  ];

  it.each(errors)('rejects %s', (_, attempt, message) => {
    let caught: unknown;
    try {
      attempt();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InputShapesError);
    expect((caught as Error).message).toBe(message);
  });

  it('rejects one symbol given two values by two inputs', () => {
    expect(() => resolveInputShapes(multiIo, { tokens: [1, 3, 8], features: [1, 4] }, 1)).not.toThrow();
    const twoSeqs = { ...multiIo };
    expect(() =>
      resolveInputShapes(
        {
          ...twoSeqs,
          inputs: [
            { name: 'a', isTensor: true, elementType: 'float32', shape: ['batch', 'seq'], batchDim: true },
            { name: 'b', isTensor: true, elementType: 'float32', shape: ['batch', 'seq'], batchDim: true },
          ],
        },
        { a: [1, 3], b: [1, 4] },
      ),
    ).toThrow(
      new InputShapesError(
        'gate.inputShapes gives dimension "seq" the value 3 in a and 4 in b; a symbolic dimension has one value',
      ),
    );
  });

  it('names an unnamed dimension', () => {
    const model: ModelInfo = {
      ...rows,
      inputs: [{ name: 'x', isTensor: true, elementType: 'float32', shape: ['batch', ''], batchDim: true }],
    };
    expect(() => resolveInputShapes(model, {})).toThrow(
      new InputShapesError(
        'input "x" has an unnamed dimension 1 with no value; set gate.inputShapes: { x: [1, <?>] }',
      ),
    );
    expect(resolveInputShapes(model, { x: [9, 6] }, 2)).toEqual({ x: [2, 6] });
  });
});
