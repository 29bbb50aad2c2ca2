/**
 * lib/runtime validateInputs: what a request must look like for a model (real models, inspected
 * by lib/model), each way it can be wrong with its exact message, and the rows it reports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelInfo, inspectModel } from '../lib/model';
import { InputValidationError, type TensorData, validateInputs } from '../lib/runtime';
import { makeTempDir, removeDir, writeFixtureModels } from './support/fixture-models';
import { rowsModel, writeModel } from './support/runtime-fixtures';

let dir: string;
let multiIo: ModelInfo;
let rows: ModelInfo;
let unnamed: ModelInfo;
let sequence: ModelInfo;
let noInputs: ModelInfo;

beforeAll(() => {
  dir = makeTempDir('modelfab-runtime-validate-');
  const fixtures = writeFixtureModels(dir);
  multiIo = inspectModel(fixtures['multi-io'].path);
  unnamed = inspectModel(fixtures['unnamed-dims'].path);
  sequence = inspectModel(fixtures['sequence-input'].path);
  noInputs = inspectModel(fixtures['no-inputs'].path);
  rows = inspectModel(writeModel(dir, 'rows', rowsModel()));
});

afterAll(() => removeDir(dir));

const f32 = (dims: number[], length = dims.reduce((a, b) => a * b, 1)): TensorData => ({
  type: 'float32',
  dims,
  data: new Float32Array(length),
});
const i64 = (dims: number[]): TensorData => ({
  type: 'int64',
  dims,
  data: new BigInt64Array(dims.reduce((a, b) => a * b, 1)),
});
const bool = (dims: number[]): TensorData => ({
  type: 'bool',
  dims,
  data: new Uint8Array(dims.reduce((a, b) => a * b, 1)),
});

/** A valid request for multi-io with `batch` rows, with some inputs replaced. */
function multi(batch: number, replace: Record<string, unknown> = {}): Record<string, TensorData> {
  return {
    features: f32([batch, 4]),
    tokens: f32([batch, 5, 8]),
    k: i64([]),
    mask: bool([batch]),
    ...(replace as Record<string, TensorData>),
  };
}

describe('validateInputs', () => {
  it('accepts a valid request and reports its rows when the model is batchable', () => {
    expect(validateInputs(rows, { tokens: f32([3, 7, 2]), ids: i64([3, 3]) })).toEqual({ rows: 3 });
    // multi-io has a scalar input, so it cannot be batched.
    expect(validateInputs(multiIo, multi(2))).toEqual({ rows: undefined });
    expect(validateInputs(noInputs, {})).toEqual({ rows: undefined });
  });

  it('accepts any shape for an input of undeclared rank, and any size for an unnamed dim', () => {
    const z: TensorData = { type: 'int32', dims: [2, 2, 2], data: new Int32Array(8) };
    expect(validateInputs(unnamed, { x: f32([5, 4]), z })).toEqual({ rows: undefined });
  });

  const cases: Array<[string, () => [ModelInfo, Record<string, unknown>], string]> = [
    [
      'a missing input',
      () => [rows, { tokens: f32([1, 1, 2]) }],
      'missing input "ids" (int64 [batch, 3]); the model\'s inputs are "tokens", "ids"',
    ],
    [
      'an unknown input',
      () => [rows, { tokens: f32([1, 1, 2]), ids: i64([1, 3]), extra: f32([1]) }],
      'unknown input "extra"; the model\'s inputs are "tokens", "ids"',
    ],
    [
      'an input for a model without inputs',
      () => [noInputs, { x: f32([1]) }],
      'unknown input "x"; the model has no inputs',
    ],
    [
      'a wrong element type',
      () => [rows, { tokens: f32([1, 1, 2]), ids: { type: 'int32', dims: [1, 3], data: new Int32Array(3) } }],
      'input "ids" is "int32"; the model expects int64',
    ],
    [
      'data of the wrong class',
      () => [
        rows,
        { tokens: { type: 'float32', dims: [1, 1, 2], data: new Float64Array(2) }, ids: i64([1, 3]) },
      ],
      'input "tokens" data must be a Float32Array for float32, received Float64Array',
    ],
    [
      'numbers as data',
      () => [rows, { tokens: { type: 'float32', dims: [1, 1, 2], data: [1, 2] }, ids: i64([1, 3]) }],
      'input "tokens" data must be a Float32Array for float32, received Array',
    ],
    [
      'something that is not a tensor',
      () => [rows, { tokens: [1, 2], ids: i64([1, 3]) }],
      'input "tokens" must be a tensor { type, dims, data }, received [1,2]',
    ],
    [
      'a wrong rank',
      () => [rows, { tokens: f32([2, 2]), ids: i64([2, 3]) }],
      'input "tokens" has shape [2, 2] (rank 2); the model expects rank 3: [batch, seq, 2]',
    ],
    [
      'a fixed dim that does not match',
      () => [rows, { tokens: f32([1, 4, 3]), ids: i64([1, 3]) }],
      'input "tokens" has shape [1, 4, 3]; dimension 2 must be 2 (the model expects [batch, seq, 2])',
    ],
    [
      'a symbolic dim with two values across inputs',
      () => [multiIo, multi(2, { tokens: f32([3, 5, 8]) })],
      'input "tokens" has shape [3, 5, 8]: dimension 0 ("batch") is 3, but "batch" is 2 in input "features"',
    ],
    [
      'a symbolic dim with two values in the last input',
      () => [multiIo, multi(2, { mask: bool([4]) })],
      'input "mask" has shape [4]: dimension 0 ("batch") is 4, but "batch" is 2 in input "features"',
    ],
    [
      'negative dims',
      () => [rows, { tokens: f32([1, -1, 2], 0), ids: i64([1, 3]) }],
      'input "tokens" has invalid dims [1,-1,2]; every dimension must be a non-negative integer',
    ],
    [
      'too few values for the dims',
      () => [rows, { tokens: f32([2, 2, 2], 7), ids: i64([2, 3]) }],
      'input "tokens" has 7 values for shape [2, 2, 2], which needs 8',
    ],
    [
      'a scalar given as [1]',
      () => [multiIo, multi(1, { k: i64([1]) })],
      'input "k" has shape [1] (rank 1); the model expects rank 0: []',
    ],
    [
      'a sequence input',
      () => [sequence, { items: f32([2]) }],
      'input "items" is a sequence, which onnxruntime-node cannot feed',
    ],
    [
      'inputs that are not an object',
      () => [rows, null as unknown as Record<string, unknown>],
      'inputs must be an object of tensors by input name, received null',
    ],
  ];

  it.each(cases)('rejects %s', (_, make, message) => {
    const [model, inputs] = make();
    let caught: unknown;
    try {
      validateInputs(model, inputs as Record<string, TensorData>);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InputValidationError);
    expect((caught as Error).message).toBe(message);
  });
});
