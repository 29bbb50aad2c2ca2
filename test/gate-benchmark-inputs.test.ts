/**
 * The requests the gate benchmarks with, for models of every input kind: generated from the
 * model's signature (and gate.inputShapes), one row each, and accepted by real onnxruntime through
 * the executor the server uses. Nothing here is timed (test/gate-run.test.ts runs whole gates).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type GateSpec } from '../lib/core';
import { benchmarkInputs } from '../lib/gate/gate-inputs';
import { generatedInputsHint } from '../lib/gate/measure-model';
import { inspectModel } from '../lib/model';
import { Executor } from '../lib/runtime';
import * as fx from './support/gate-fixtures';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-gate-inputs-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function gate(inputShapes: GateSpec['inputShapes'] = {}): GateSpec {
  return { latencyBoundMs: 100, inputShapes, budgetSeconds: 1, maxBatchSize: 2, seed: 1 };
}

describe('benchmarkInputs', () => {
  it.each([
    ['several inputs', () => fx.twoInputModel(scratch), {}, { a: [1, 4], b: [1, 4] }],
    ['an int64 scalar input', () => fx.int64ScalarModel(scratch), {}, { x: [2, 3], steps: [] }],
    ['a bool input', () => fx.boolModel(scratch), {}, { mask: [1, 3] }],
    [
      'a symbolic dim pinned by inputShapes',
      () => fx.symbolicSeqModel(scratch),
      { tokens: [1, 16, 8] },
      { tokens: [1, 16, 8] },
    ],
  ])(
    'makes requests onnxruntime runs for a model with %s',
    async (_, model, inputShapes: GateSpec['inputShapes'], dims: Record<string, number[]>) => {
      const modelPath = model();
      const info = inspectModel(modelPath);
      const next = benchmarkInputs(info, gate(inputShapes));
      const inputs = next();
      expect(Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, t.dims]))).toEqual(dims);
      const executor = await Executor.create({ modelPath, model: info });
      try {
        const result = await executor.infer(next());
        expect(Object.keys(result.outputs).sort()).toEqual(info.outputs.map((o) => o.name).sort());
      } finally {
        await executor.close();
      }
    },
  );

  it('names the input, the dim and the prop to set when a symbolic dim has no value', () => {
    const info = inspectModel(fx.symbolicSeqModel(scratch));
    expect(() => benchmarkInputs(info, gate())).toThrow(/"tokens".*dimension 1.*"seq".*gate\.inputShapes/);
  });

  it('fixes an input with gate.inputValues, leaving the others as they were, so a model that needs a value runs', async () => {
    const modelPath = fx.shapeInputModel(scratch);
    const info = inspectModel(modelPath);
    const random = benchmarkInputs(info, gate())();
    const pinned = benchmarkInputs(info, { ...gate(), inputValues: { shape: 2 } })();
    expect(pinned.shape.data).toEqual(BigInt64Array.from([2n, 2n]));
    expect(pinned.x).toEqual(random.x);
    const executor = await Executor.create({ modelPath, model: info });
    try {
      const failure = await executor.infer(random).then(
        () => undefined,
        (error: unknown) => generatedInputsHint(error, info, gate()),
      );
      // Without the value the model fails, and the message says which inputs it had and what to set.
      expect(failure?.message).toMatch(
        /"shape" \(int64 \[2\]\).*cannot be reshaped.*; the gate fed generated inputs \(seeded random values\): if the model needs particular values, fix them with gate\.inputValues \(e\.g\. \{ shape: <value> \}\) or benchmark real requests with gate\.inputDataset$/s,
      );
      expect((await executor.infer(pinned)).outputs.y.dims).toEqual([2, 2]);
    } finally {
      await executor.close();
    }
  });

  it('refuses an inputValues entry for an input the model lacks, or a value its type cannot hold', () => {
    const info = inspectModel(fx.shapeInputModel(scratch));
    expect(() => benchmarkInputs(info, { ...gate(), inputValues: { shapes: 2 } })).toThrow(
      'gate.inputValues names input "shapes", which the model does not have; its inputs are "x", "shape"',
    );
    expect(() => benchmarkInputs(info, { ...gate(), inputValues: { shape: 2.5 } })).toThrow(
      /^gate\.inputValues gives input "shape" \(int64\) the value 2\.5, which it cannot take: each element must be an integer from -9223372036854775808 to 9223372036854775807/,
    );
    expect(() => benchmarkInputs(info, { ...gate(), inputValues: { x: 1e39 } })).toThrow(
      /^gate\.inputValues gives input "x" \(float32\) the value 1e\+39, which it cannot take: each element is 1e\+39, beyond the largest float32/,
    );
  });

  it('leaves a failure alone when the requests came from a dataset', () => {
    const info = inspectModel(fx.shapeInputModel(scratch));
    const error = new Error('onnxruntime failed');
    expect(generatedInputsHint(error, info, { ...gate(), inputDataset: '/data/requests.jsonl' })).toBe(error);
  });
});
