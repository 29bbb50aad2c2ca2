/**
 * The gate's correctness phase on real onnxruntime, in this process: accuracy on a labelled
 * dataset and parity with expected outputs, run through the executor the server uses. Nothing
 * here is timed (test/gate-run.test.ts runs the same phase inside the benchmark worker).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureAccuracy, measureParity } from '../lib/gate/measure-correctness';
import { inspectModel, type ModelInfo } from '../lib/model';
import { Executor } from '../lib/runtime';
import * as fx from './support/gate-fixtures';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-gate-correctness-'));
const EVAL = path.join(fx.IRIS_DIR, 'eval.jsonl');
const EXPECTED = path.join(fx.IRIS_DIR, 'expected.jsonl');
const PARITY = { dataset: EXPECTED, atol: 1e-5, rtol: 1e-4 };

/** An executor on a model file, closed after the file's tests. */
const open: Executor[] = [];
async function executorFor(modelPath: string): Promise<{ executor: Executor; model: ModelInfo }> {
  const model = inspectModel(modelPath);
  const executor = await Executor.create({ modelPath, model });
  open.push(executor);
  return { executor, model };
}

let iris: { executor: Executor; model: ModelInfo };
beforeAll(async () => {
  iris = await executorFor(path.join(fx.IRIS_DIR, 'iris.onnx'));
});
afterAll(async () => {
  await Promise.all(open.map((e) => e.close()));
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('measureAccuracy', () => {
  it('scores the first float output of every row of the eval set', async () => {
    const accuracy = await measureAccuracy(iris.executor, iris.model, {
      dataset: EVAL,
      metric: 'top1',
      k: 1,
    });
    expect(accuracy).toMatchObject({ metric: 'top1', output: 'probabilities', samples: 45, dataset: EVAL });
    expect(accuracy.value).toBeGreaterThanOrEqual(0.9);
  });

  it('drops far below the bar when the labels are shuffled', async () => {
    const dataset = fx.shuffledLabelsDataset(scratch);
    const accuracy = await measureAccuracy(iris.executor, iris.model, { dataset, metric: 'top1', k: 1 });
    expect(accuracy.samples).toBe(45);
    expect(accuracy.value).toBeLessThan(0.5);
  });
});

describe('measureParity', () => {
  it('finds no mismatch on the model the expected outputs came from', async () => {
    const parity = await measureParity(iris.executor, iris.model, PARITY);
    expect(parity).toMatchObject({ mismatches: 0, samples: 45 });
  });

  it('catches a perturbed model, naming the worst element', async () => {
    const perturbed = await executorFor(fx.perturbedIrisModel(scratch));
    const parity = await measureParity(perturbed.executor, perturbed.model, PARITY);
    expect(parity.mismatches).toBeGreaterThan(0);
    expect(parity.worst).toMatchObject({ output: expect.any(String) });
  });
});
