/**
 * The executor's inline execution: the choice between inline and workers as a pure function of
 * measured times, the same outputs inline as in a worker on Iris, requests that still go to a
 * worker (too large, an unseen shape), timeouts and close, and a fault of an inline run answered
 * 500 by the server, which serves on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { inspectModel } from '../lib/model';
import {
  Executor,
  ExecutorClosedError,
  QueueFullError,
  INLINE_LIMIT_MS,
  INLINE_MAX_MODEL_BYTES,
  type TensorData,
  chooseExecution,
  inlineCandidateRefusal,
  medianOf,
  randomInputs,
  resolveInputShapes,
} from '../lib/runtime';
import { type InferenceServer } from '../lib/server';
import { startLocalServer } from './support/local-server';
import { writeModel } from './support/runtime-fixtures';
import { InlineSession } from '../lib/runtime/inline-session';

const IRIS = path.join(__dirname, '..', 'examples', 'iris', 'model', 'iris.onnx');
const model = inspectModel(IRIS);
const executors: Executor[] = [];
const servers: InferenceServer[] = [];
/** The class every session's run comes from, to stub one run of it. */
const sessionClass = ort.InferenceSession as unknown as { prototype: ort.InferenceSession };

async function open(
  inline: 'auto' | 'never' | 'always',
  extra: { batching?: boolean; maxQueueSize?: number } = {},
): Promise<Executor> {
  const executor = await Executor.create({
    modelPath: IRIS,
    model,
    inline,
    ...(extra.batching ? { batching: { maxBatchSize: 8, maxQueueDelayMs: 1 } } : {}),
    ...(extra.maxQueueSize !== undefined ? { maxQueueSize: extra.maxQueueSize } : {}),
  });
  executors.push(executor);
  return executor;
}

function irisInputs(rows: number, seed = rows): Record<string, TensorData> {
  return randomInputs(model, resolveInputShapes(model, {}, rows), seed);
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(executors.map((e) => e.close()));
});

describe('chooseExecution', () => {
  it('runs inline when a run is cheaper than a hand-off and within the limit', () => {
    expect(chooseExecution({ inlineMs: 0.01, handOffMs: 0.05 })).toEqual({
      mode: 'inline',
      reason: 'a run takes 10.0 µs, less than a worker hand-off (50.0 µs)',
      inlineMs: 0.01,
      handOffMs: 0.05,
    });
  });

  it('uses workers when a run costs a hand-off or more', () => {
    const choice = chooseExecution({ inlineMs: 0.03, handOffMs: 0.02 });
    expect(choice.mode).toBe('workers');
    expect(choice.reason).toBe('a run takes 30.0 µs, no less than a worker hand-off (20.0 µs)');
    expect(chooseExecution({ inlineMs: 0.02, handOffMs: 0.02 }).mode).toBe('workers');
  });

  it('uses workers past the limit however slow a hand-off, and for a non-number', () => {
    const choice = chooseExecution({ inlineMs: INLINE_LIMIT_MS * 2, handOffMs: 10 });
    expect(choice.mode).toBe('workers');
    expect(choice.reason).toBe(
      'a run takes 100.0 µs, more than the 50.0 µs the main thread may be blocked for',
    );
    expect(chooseExecution({ inlineMs: INLINE_LIMIT_MS, handOffMs: 10 }).mode).toBe('inline');
    expect(chooseExecution({ inlineMs: NaN, handOffMs: 10 }).mode).toBe('workers');
  });

  it('does not try a large model, nor any with never', () => {
    expect(inlineCandidateRefusal('auto', model)).toBeUndefined();
    expect(
      inlineCandidateRefusal('always', { ...model, sizeBytes: INLINE_MAX_MODEL_BYTES + 1 }),
    ).toBeUndefined();
    expect(inlineCandidateRefusal('never', model)).toBe('inline execution is off');
    expect(inlineCandidateRefusal('auto', { ...model, sizeBytes: INLINE_MAX_MODEL_BYTES + 1 })).toBe(
      `the model file is ${INLINE_MAX_MODEL_BYTES + 1} bytes, more than the ${INLINE_MAX_MODEL_BYTES} of a model fast enough to run inline`,
    );
    expect(medianOf([3, 1, 2])).toBe(2);
    expect(medianOf([4, 1, 2, 3])).toBe(2.5);
  });
});

describe('Executor inline', () => {
  it('answers Iris inline exactly as a worker does', async () => {
    const inline = await open('always');
    const workers = await open('never');
    expect(inline.execution).toMatchObject({ mode: 'inline', reason: 'inline execution is always on' });
    expect(workers.execution).toEqual({ mode: 'workers', reason: 'inline execution is off' });
    for (const rows of [1, 5]) {
      const inputs = irisInputs(rows);
      const expected = (await workers.infer(inputs)).outputs;
      // A [5, 4] request is a shape not seen yet: its first run is in the worker, the next inline.
      for (let run = 0; run < (rows === 1 ? 1 : 2); run++) {
        const result = await inline.infer(inputs);
        expect(result.outputs).toEqual(expected);
        expect(result.batchRows).toBe(rows);
      }
      expect((await inline.infer(inputs)).queueMs).toBe(0); // inline: no queue
    }
    expect(inline.stats()).toEqual({ queued: 0, inFlight: 0, workers: 1, busyWorkers: 0 });
  });

  it('sends a request of an unseen shape to a worker once, then runs it inline', async () => {
    const executor = await open('always');
    const inputs = irisInputs(3, 7);
    // The first run of a [3, 4] request goes to the worker: it is in flight there, not inline.
    const first = executor.infer(inputs);
    expect(executor.stats().busyWorkers).toBe(1);
    const firstOutputs = (await first).outputs;
    const second = executor.infer(inputs);
    expect(executor.stats().busyWorkers).toBe(0);
    expect(executor.stats().inFlight).toBe(1);
    expect((await second).outputs).toEqual(firstOutputs);
  });

  it('sends a request far larger than the measured one to a worker', async () => {
    const executor = await open('always');
    const big = irisInputs(64, 3);
    for (let i = 0; i < 2; i++) {
      const pending = executor.infer(big);
      expect(executor.stats().busyWorkers).toBe(1);
      await pending;
    }
  });

  it('with batching, runs inline only while nothing else is in flight', async () => {
    const executor = await open('always', { batching: true });
    const inputs = irisInputs(1);
    const results = await Promise.all([
      executor.infer(inputs),
      executor.infer(inputs),
      executor.infer(inputs),
    ]);
    // The first ran inline; the two that came meanwhile were batched in the worker.
    expect(results.map((r) => r.batchRows)).toEqual([1, 2, 2]);
    expect(results[1].outputs.label.data).toEqual(results[0].outputs.label.data);
  });

  it('without batching too, runs inline only while idle: under load requests queue, and the queue bound holds', async () => {
    const executor = await open('always', { maxQueueSize: 1 });
    const inputs = irisInputs(1);
    const first = executor.infer(inputs); // inline: the executor was idle
    const second = executor.infer(inputs); // one is in flight: to the worker
    expect(executor.stats().busyWorkers).toBe(1);
    const third = executor.infer(inputs); // queued behind it
    // The queue holds one: a fourth is refused, as it would be without inline execution.
    await expect(executor.infer(inputs)).rejects.toBeInstanceOf(QueueFullError);
    await Promise.all([first, second, third]);
  });

  it('rejects an inline request pending at close with ExecutorClosedError, and keeps drain honest', async () => {
    const executor = await open('always');
    const pending = executor.infer(irisInputs(1));
    expect(executor.stats().inFlight).toBe(1);
    const rejected = expect(pending).rejects.toBeInstanceOf(ExecutorClosedError);
    const drained = executor.drain();
    await executor.close();
    await drained;
    await rejected;
  });

  it('settles a model far slower than inline allows in a worker, without a session on the main thread', async () => {
    // Sqrt over 4 M floats: a tiny file, about a millisecond a run.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-inline-slow-'));
    try {
      const modelPath = writeModel(dir, 'slow', {
        graphName: 'slow',
        inputs: [{ name: 'x', type: 'float32', shape: [1, 4_000_000] }],
        outputs: [{ name: 'y', type: 'float32', shape: [1, 4_000_000] }],
        nodes: [{ op: 'Sqrt', inputs: ['x'], outputs: ['y'] }],
      });
      const created = vi.spyOn(InlineSession, 'create');
      try {
        const executor = await Executor.create({ modelPath, model: inspectModel(modelPath), inline: 'auto' });
        executors.push(executor);
        expect(executor.execution.mode).toBe('workers');
        expect(executor.execution.reason).toMatch(
          /^a run takes [\d.]+ µs in a worker, far more than the 50 µs/,
        );
        expect(created).not.toHaveBeenCalled();
      } finally {
        created.mockRestore();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('measures and decides with auto, and says why', async () => {
    const executor = await open('auto');
    const choice = executor.execution;
    if (choice.inlineMs === undefined) {
      // A machine so loaded that a warm Iris run took over 0.5 ms settles on workers at once.
      expect(choice).toEqual({
        mode: 'workers',
        reason: expect.stringMatching(/ µs in a worker, far more than /),
      });
    } else {
      // Both times were measured, and the choice and its reason are the pure decision's for them.
      expect(choice.inlineMs).toBeGreaterThan(0);
      expect(choice.handOffMs).toBeGreaterThan(0);
      expect(choice).toEqual(chooseExecution({ inlineMs: choice.inlineMs, handOffMs: choice.handOffMs! }));
    }
    const inputs = irisInputs(1);
    expect((await executor.infer(inputs)).outputs.label.dims).toEqual([1]);
  });
});

describe('the server with inline execution', () => {
  it('answers 500 when an inline run fails in its own code, and serves on', async () => {
    const lines: string[] = [];
    const server = await startLocalServer({ modelPath: IRIS, inline: 'always' }, lines);
    servers.push(server);
    const body = JSON.stringify({
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
    });
    const infer = () =>
      fetch(`${server.url}/v2/models/iris/infer`, {
        method: 'POST',
        body,
        headers: { 'Content-Type': 'application/json' },
      });
    // onnxruntime answers, but with nothing: reading its outputs fails in modelfab's code.
    const spy = vi.spyOn(sessionClass.prototype, 'run').mockResolvedValueOnce({});
    try {
      const failed = await infer();
      expect(failed.status).toBe(500);
      await failed.arrayBuffer();
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
    const served = await infer();
    expect(served.status).toBe(200);
    expect(
      ((await served.json()) as { outputs: Array<{ name: string }> }).outputs.map((o) => o.name),
    ).toEqual(['probabilities', 'label']);
    const ready = JSON.parse(lines.find((l) => l.includes('"event":"ready"'))!) as { execution: unknown };
    expect(ready.execution).toMatchObject({ mode: 'inline' });
    const errorLine = lines.find((l) => l.includes('"status":500'));
    expect(errorLine).toBeDefined();
  });

  it('answers an onnxruntime failure inline as a worker does: 400', async () => {
    const server = await startLocalServer({ modelPath: IRIS, inline: 'always' }, []);
    servers.push(server);
    const spy = vi
      .spyOn(sessionClass.prototype, 'run')
      .mockRejectedValueOnce(new Error('Non-zero status code returned while running Foo node'));
    try {
      const answer = await fetch(`${server.url}/v2/models/iris/infer`, {
        method: 'POST',
        body: JSON.stringify({
          inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
        }),
      });
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as { error: string }).error).toBe(
        'onnxruntime failed to run the model on inputs "input" (float32 [1, 4]): Non-zero status code returned while running Foo node',
      );
    } finally {
      spy.mockRestore();
    }
  });
});
