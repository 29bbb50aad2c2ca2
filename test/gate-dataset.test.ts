import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DatasetError,
  parseJsonTensor,
  parseJsonl,
  readInputDataset,
  readJsonl,
  readLabelledDataset,
  readParityDataset,
} from '../lib/gate/dataset';

const IRIS = path.resolve(__dirname, '..', 'examples', 'iris', 'model');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-dataset-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

let counter = 0;
/** Writes text to a fresh file and returns its path. */
function file(text: string): string {
  const p = path.join(dir, `d${counter++}.jsonl`);
  fs.writeFileSync(p, text);
  return p;
}

/** The DatasetError a call throws. */
function errorOf(fn: () => unknown): DatasetError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DatasetError);
    return err as DatasetError;
  }
  throw new Error('expected a DatasetError');
}

describe('the iris example datasets', () => {
  it('eval.jsonl parses as a labelled dataset of class indices', () => {
    const rows = readLabelledDataset(path.join(IRIS, 'eval.jsonl'), { label: 'class' });
    expect(rows).toHaveLength(45);
    expect(rows[0]).toEqual({
      line: 1,
      inputs: { input: { values: [5, 3.4, 1.5, 0.2], dims: [4] } },
      label: 0,
    });
    expect(rows.at(-1)!.line).toBe(45);
    expect(new Set(rows.map((r) => r.label))).toEqual(new Set([0, 1, 2]));
    for (const row of rows) expect(row.inputs.input.dims).toEqual([4]);
  });

  it('expected.jsonl parses as a parity dataset, a scalar output included', () => {
    const rows = readParityDataset(path.join(IRIS, 'expected.jsonl'));
    expect(rows).toHaveLength(45);
    expect(rows[0].inputs.input).toEqual({ values: [5, 3.4, 1.5, 0.2], dims: [4] });
    expect(rows[0].outputs.probabilities.dims).toEqual([3]);
    expect(rows[0].outputs.probabilities.values[0]).toBe(0.9928234623035241);
    expect(rows[0].outputs.label).toEqual({ values: [0], dims: [] });
  });

  it('either file serves as benchmark inputs', () => {
    const rows = readInputDataset(path.join(IRIS, 'eval.jsonl'));
    expect(rows).toHaveLength(45);
    expect(Object.keys(rows[0].inputs)).toEqual(['input']);
  });
});

describe('readJsonl', () => {
  it('numbers lines from 1, skipping blank lines but counting them', () => {
    const p = file('{"a":1}\n\n   \n{"a":2}\r\n{"a":3}\n');
    expect(readJsonl(p)).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 4, value: { a: 2 } },
      { line: 5, value: { a: 3 } },
    ]);
  });

  it('accepts a byte order mark', () => {
    expect(parseJsonl('\uFEFF{"a":1}\n', 'x.jsonl')).toEqual([{ line: 1, value: { a: 1 } }]);
  });

  it('reports invalid json with file, line and the parser message', () => {
    const p = file('{"a":1}\n\n{"a":\n');
    const err = errorOf(() => readJsonl(p));
    expect(err.message).toMatch(new RegExp(`^${escape(p)}:3: invalid json: .+`));
    expect(err.file).toBe(p);
    expect(err.line).toBe(3);
    expect(err.detail).toMatch(/unexpected end|JSON/i);
  });

  it('reports a missing file, a directory and an empty dataset', () => {
    const missing = path.join(dir, 'nope.jsonl');
    expect(errorOf(() => readJsonl(missing)).message).toBe(
      `${missing}: dataset file not found; check the path`,
    );
    expect(errorOf(() => readJsonl(dir)).message).toMatch(/is a directory/);
    expect(errorOf(() => readJsonl(file(''))).message).toMatch(/: dataset is empty/);
    const blanks = errorOf(() => readJsonl(file('\n  \n\n')));
    expect(blanks.line).toBeUndefined();
    expect(blanks.message).toMatch(/dataset is empty/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('parseJsonTensor', () => {
  it.each([
    ['a scalar', 3.5, { values: [3.5], dims: [] }],
    ['a vector', [1, 2, 3], { values: [1, 2, 3], dims: [3] }],
    [
      'a matrix, row-major',
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { values: [1, 2, 3, 4, 5, 6], dims: [2, 3] },
    ],
    [
      'rank 3',
      [
        [[1], [2]],
        [[3], [4]],
      ],
      { values: [1, 2, 3, 4], dims: [2, 2, 1] },
    ],
    ['an empty vector', [], { values: [], dims: [0] }],
    ['empty rows', [[], []], { values: [], dims: [2, 0] }],
    ['booleans', [true, false], { values: [true, false], dims: [2] }],
    ['strings', [['a'], ['b']], { values: ['a', 'b'], dims: [2, 1] }],
  ])('parses %s', (_name, value, tensor) => {
    expect(parseJsonTensor(value, 'inputs.x')).toEqual(tensor);
  });

  it.each([
    ['ragged rows', [[1, 2], [3]], /ragged nested array: inputs.x\[1\] has 1 elements, expected 2/],
    ['an array among scalars', [1, [2]], /ragged nested array: inputs.x\[1\] is an array/],
    ['a scalar among arrays', [[1], 2], /ragged nested array: inputs.x\[1\] is 2, expected an array of 1/],
    ['an empty row among full ones', [[], [1]], /inputs.x\[1\] has 1 elements, expected 0/],
    ['null', [1, null], /inputs.x\[1\] must be a number, boolean or string .*received null/],
    ['an object', { a: 1 }, /inputs.x must be a number, boolean or string .*received \{"a":1\}/],
    ['mixed kinds', [1, 'a'], /inputs.x\[1\] is a string but earlier elements are numbers/],
  ])('rejects %s', (_name, value, message) => {
    expect(() => parseJsonTensor(value, 'inputs.x')).toThrow(message);
  });
});

describe('row errors name file and line', () => {
  it.each([
    ['a line that is not an object', '[1,2]', /:1: each line must be a json object .*received \[1,2\]/],
    ['a number line', '42', /:1: each line must be a json object .*received 42/],
    ['missing inputs', '{"label":1}', /:1: missing "inputs"/],
    [
      'inputs not an object',
      '{"inputs":[1,2],"label":1}',
      /:1: "inputs" must be an object .*received \[1,2\]/,
    ],
    ['empty inputs', '{"inputs":{},"label":1}', /:1: "inputs" is empty/],
    ['a ragged input', '{"inputs":{"x":[[1,2],[3]]},"label":1}', /:1: ragged nested array: inputs.x\[1\]/],
    ['an input of objects', '{"inputs":{"x":[{"v":1}]},"label":1}', /:1: inputs.x\[0\] must be a number/],
    ['a null input', '{"inputs":{"x":null},"label":1}', /:1: inputs.x must be a number.*received null/],
    ['missing label', '{"inputs":{"x":[1]}}', /:1: missing "label"/],
    ['a string label', '{"inputs":{"x":[1]},"label":"cat"}', /:1: "label" must be .*received "cat"/],
    ['a nested label', '{"inputs":{"x":[1]},"label":[[1]]}', /:1: "label" must be .*received \[\[1\]\]/],
    ['an empty label list', '{"inputs":{"x":[1]},"label":[]}', /:1: "label" must be/],
  ])('labelled: %s', (_name, line, message) => {
    const p = file(line);
    const err = errorOf(() => readLabelledDataset(p));
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`${p}:1: `)).toBe(true);
  });

  it('reports the line of the bad row, not the first', () => {
    const p = file('{"inputs":{"x":[1]},"label":0}\n\n{"inputs":{"x":[1]},"label":true}\n');
    expect(errorOf(() => readLabelledDataset(p)).message).toMatch(/:3: "label" must be .*received true/);
  });

  it('requires class indices when asked for them, and numbers when asked for values', () => {
    const fractional = file('{"inputs":{"x":[1]},"label":1.5}');
    expect(readLabelledDataset(fractional)[0].label).toBe(1.5);
    expect(errorOf(() => readLabelledDataset(fractional, { label: 'class' })).message).toMatch(
      /"label" must be a class index \(an integer >= 0\), received 1.5/,
    );
    const negative = file('{"inputs":{"x":[1]},"label":-1}');
    expect(() => readLabelledDataset(negative, { label: 'class' })).toThrow(/received -1/);
    const list = file('{"inputs":{"x":[1]},"label":[0.5,1.5]}');
    expect(readLabelledDataset(list, { label: 'value' })[0].label).toEqual([0.5, 1.5]);
    expect(() => readLabelledDataset(list, { label: 'class' })).toThrow(/received \[0.5,1.5\]/);
  });

  it('parity: missing or malformed outputs', () => {
    const missing = file('{"inputs":{"x":[1]}}');
    expect(errorOf(() => readParityDataset(missing)).message).toMatch(/:1: missing "outputs"/);
    const bad = file('{"inputs":{"x":[1]},"outputs":{"y":[1,[2]]}}');
    expect(errorOf(() => readParityDataset(bad)).message).toMatch(/:1: ragged nested array: outputs.y\[1\]/);
    const notObject = file('{"inputs":{"x":[1]},"outputs":3}');
    expect(errorOf(() => readParityDataset(notObject)).message).toMatch(/"outputs" must be an object/);
  });

  it('inputs: extra keys are ignored, bad inputs are not', () => {
    expect(readInputDataset(file('{"inputs":{"x":[[1,2]]},"note":"hi"}'))).toEqual([
      { line: 1, inputs: { x: { values: [1, 2], dims: [1, 2] } } },
    ]);
    expect(() => readInputDataset(file('{"input":{"x":[1]}}'))).toThrow(/:1: missing "inputs"/);
  });
});
