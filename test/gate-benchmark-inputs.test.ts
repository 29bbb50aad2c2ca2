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
});
