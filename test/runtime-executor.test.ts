/**
 * lib/runtime Executor with real onnxruntime sessions in real worker threads: results equal a
 * direct session.run, dynamic batching (coalescing, each request its own rows, no mixing of
 * shapes, falling back when a batch fails or cannot be split), the bounded queue, timeouts,
 * run-time failures, close, a crashing worker, and a main thread that stays responsive.
 */
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelInfo, inspectModel } from '../lib/model';
import {
  Executor,
  ExecutorClosedError,
  InferenceError,
  InferenceTimeoutError,
  InputValidationError,
  ModelLoadError,
  QueueFullError,
  type TensorData,
  WorkerCrashError,
  randomInputs,
  resolveInputShapes,
  sessionOptionsFor,
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
  identityModel,
  matMulModel,
  reshapeModel,
  rowsModel,
  slowModel,
  unknownOpModel,
  writeModel,
} from './support/runtime-fixtures';

const IRIS = `${__dirname}/../examples/iris/model/iris.onnx`;

let dir: string;
let fixtures: Record<FixtureName, WrittenFixture>;
let paths: Record<'rows' | 'reshape' | 'matmul' | 'slow' | 'unknownOp' | 'strings', string>;
const executors: Executor[] = [];

/** An executor closed after all tests. */
async function open(options: Parameters<typeof Executor.create>[0]): Promise<Executor> {
  const executor = await Executor.create(options);
  executors.push(executor);
  return executor;
}

beforeAll(() => {
  dir = makeTempDir('modelfab-runtime-executor-');
  fixtures = writeFixtureModels(dir);
  paths = {
    rows: writeModel(dir, 'rows', rowsModel()),
    reshape: writeModel(dir, 'reshape', reshapeModel()),
    matmul: writeModel(dir, 'matmul', matMulModel()),
    slow: writeModel(dir, 'slow', slowModel(100)),
    unknownOp: writeModel(dir, 'unknown-op', unknownOpModel()),
    strings: writeModel(dir, 'strings', {
      ...identityModel('string'),
      inputs: [{ name: 'x', type: 'string', shape: ['n'] }],
      outputs: [{ name: 'y', type: 'string', shape: ['n'] }],
    }),
  };
});

afterAll(async () => {
  await Promise.all(executors.map((e) => e.close()));
  removeDir(dir);
});

/** Runs the same inputs through a plain in-process session. */
async function direct(
  modelPath: string,
  inputs: Record<string, TensorData>,
): Promise<Record<string, TensorData>> {
  const session = await ort.InferenceSession.create(modelPath, sessionOptionsFor({ intraOpThreads: 1 }));
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = toOrtTensor(t);
    const out = await session.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, fromOrtTensor(t)]));
  } finally {
    await session.release();
  }
}

/** A request for the rows model whose rows carry `ids` and a recognisable mean. */
function rowsRequest(ids: readonly number[], seq = 2): Record<string, TensorData> {
  const n = ids.length;
  const tokens = new Float32Array(n * seq * 2);
  // Every token of row r is [id, -id], so its mean over seq is [id, -id].
  ids.forEach((id, r) => {
    for (let s = 0; s < seq; s++) tokens.set([id, -id], (r * seq + s) * 2);
  });
  const idData = BigInt64Array.from(ids.flatMap((id) => [BigInt(id), BigInt(id * 10), BigInt(id * 100)]));
  return {
    tokens: { type: 'float32', dims: [n, seq, 2], data: tokens },
    ids: { type: 'int64', dims: [n, 3], data: idData },
  };
}

function expectOwnRows(outputs: Record<string, TensorData>, ids: readonly number[]): void {
  expect(outputs.pooled.dims).toEqual([ids.length, 2]);
  expect(Array.from(outputs.pooled.data as Float32Array)).toEqual(ids.flatMap((id) => [id, -id]));
  expect(Array.from(outputs.ids_out.data as BigInt64Array)).toEqual(
    ids.flatMap((id) => [BigInt(id), BigInt(id * 10), BigInt(id * 100)]),
  );
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject');
}

describe('Executor results', () => {
  it('equal a direct session.run on Iris, batch 1 and batch 5', async () => {
    const model = inspectModel(IRIS);
    const executor = await open({ modelPath: IRIS, model });
    expect(executor.loadMs).toBeGreaterThan(0);
    expect(executor.stats()).toEqual({ queued: 0, inFlight: 0, workers: 1, busyWorkers: 0 });
    for (const batch of [1, 5]) {
      const inputs = randomInputs(model, resolveInputShapes(model, {}, batch), batch);
      const result = await executor.infer(inputs);
      expect(result.outputs).toEqual(await direct(IRIS, inputs));
      expect(result.batchRows).toBe(batch);
      expect(result.inferMs).toBeGreaterThan(0);
      expect(result.queueMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('equal a direct session.run on a model with several inputs and types', async () => {
    const path = fixtures['multi-io'].path;
    const model = inspectModel(path);
    const executor = await open({ modelPath: path, workers: 2 });
    const inputs = randomInputs(model, resolveInputShapes(model, { tokens: [3, 5, 8] }, 3), 11);
    const expected = await direct(path, inputs);
    const results = await Promise.all([
      executor.infer(inputs),
      executor.infer(inputs),
      executor.infer(inputs),
    ]);
    for (const r of results) expect(r.outputs).toEqual(expected);
    expect(executor.stats().workers).toBe(2);
    // The caller's buffers are copied, not detached …
    expect((inputs.features.data as Float32Array).length).toBe(12);
    // … unless handed over.
    const handed = randomInputs(model, resolveInputShapes(model, { tokens: [3, 5, 8] }, 3), 11);
    expect((await executor.infer(handed, { transferInputs: true })).outputs).toEqual(expected);
    expect((handed.features.data as Float32Array).length).toBe(0);
  });

  it('rejects invalid inputs before queueing them', async () => {
    const executor = await open({ modelPath: IRIS });
    const error = await rejection(
      executor.infer({ input: { type: 'float32', dims: [1, 5], data: new Float32Array(5) } }),
    );
    expect(error).toBeInstanceOf(InputValidationError);
    expect(error.message).toBe(
      'input "input" has shape [1, 5]; dimension 1 must be 4 (the model expects [batch, 4])',
    );
    expect(executor.stats()).toMatchObject({ queued: 0, inFlight: 0 });
  });
});

describe('Executor batching', () => {
  it('coalesces concurrent requests and gives each exactly its own rows', async () => {
    const batches: Array<[number, number]> = [];
    const executor = await open({
      modelPath: paths.rows,
      batching: { maxBatchSize: 8, maxQueueDelayMs: 50 },
      onBatch: (rows, inferMs) => batches.push([rows, inferMs]),
    });
    const requests = [[1], [2, 3], [4], [5, 6, 7], [8]]; // 8 rows in all
    const results = await Promise.all(requests.map((ids) => executor.infer(rowsRequest(ids))));
    results.forEach((r, i) => {
      expect(r.batchRows).toBe(8);
      expectOwnRows(r.outputs, requests[i]);
    });
    expect(batches).toHaveLength(1);
    expect(batches[0][0]).toBe(8);
  });

  it('does not stack requests whose other dims differ', async () => {
    const executor = await open({
      modelPath: paths.rows,
      batching: { maxBatchSize: 16, maxQueueDelayMs: 20 },
    });
    const seqs = [2, 3, 2, 3, 2, 3];
    const results = await Promise.all(seqs.map((seq, i) => executor.infer(rowsRequest([i + 1], seq))));
    results.forEach((r, i) => {
      expect(r.batchRows).toBe(3); // the three requests with the same seq
      expectOwnRows(r.outputs, [i + 1]);
    });
  });

  it('runs requests alone without batching', async () => {
    const executor = await open({ modelPath: paths.rows });
    const results = await Promise.all([1, 2, 3].map((id) => executor.infer(rowsRequest([id, id]))));
    results.forEach((r, i) => {
      expect(r.batchRows).toBe(2);
      expectOwnRows(r.outputs, [i + 1, i + 1]);
    });
  });

  it('retries a failed batch one request at a time, so only the bad request fails', async () => {
    // Reshape to [-1, 3] works for 3 rows (12 values) and fails for 1 row (4) and 4 rows (16).
    const executor = await open({
      modelPath: paths.reshape,
      batching: { maxBatchSize: 8, maxQueueDelayMs: 50 },
    });
    const x = (rows: number): Record<string, TensorData> => ({
      x: { type: 'float32', dims: [rows, 4], data: Float32Array.from({ length: rows * 4 }, (_, i) => i) },
    });
    const [bad, good] = await Promise.allSettled([executor.infer(x(1)), executor.infer(x(3))]);
    expect(bad.status).toBe('rejected');
    const error = (bad as PromiseRejectedResult).reason as InferenceError;
    expect(error).toBeInstanceOf(InferenceError);
    expect(error.message).toMatch(
      /^onnxruntime failed to run the model on inputs "x" \(float32 \[1, 4\]\): .+/,
    );
    expect(good.status).toBe('fulfilled');
    const result = (good as PromiseFulfilledResult<Awaited<ReturnType<Executor['infer']>>>).value;
    expect(result.outputs.y.dims).toEqual([4, 3]);
    expect(result.batchRows).toBe(3);
  });

  it('stops batching when an output’s dim 0 turns out not to be the batch', async () => {
    const executor = await open({
      modelPath: paths.reshape,
      batching: { maxBatchSize: 8, maxQueueDelayMs: 50 },
    });
    const x = (start: number): Record<string, TensorData> => ({
      x: { type: 'float32', dims: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => start + i) },
    });
    // Stacked, 6 rows give y [8, 3]: not splittable into 3 + 3 rows. Each then runs alone.
    const results = await Promise.all([executor.infer(x(0)), executor.infer(x(100))]);
    results.forEach((r, k) => {
      expect(r.batchRows).toBe(3);
      expect(r.outputs.y.dims).toEqual([4, 3]);
      expect(Array.from(r.outputs.y.data as Float32Array)).toEqual(
        Array.from({ length: 12 }, (_, i) => k * 100 + i),
      );
    });
    const later = await Promise.all([executor.infer(x(0)), executor.infer(x(0))]);
    expect(later.map((r) => r.batchRows)).toEqual([3, 3]);
  });
});

describe('Executor limits and failures', () => {
  let slow: Executor;
  let slowModelInfo: ModelInfo;
  const slowInput = (rows = 32): Record<string, TensorData> => ({
    x: { type: 'float32', dims: [rows, 512], data: new Float32Array(rows * 512).fill(0.5) },
  });

  beforeAll(async () => {
    slowModelInfo = inspectModel(paths.slow);
    slow = await open({ modelPath: paths.slow, model: slowModelInfo, maxQueueSize: 2 });
  });

  it('rejects a request with QueueFullError when maxQueueSize requests wait', async () => {
    const running = slow.infer(slowInput());
    const queued = [slow.infer(slowInput()), slow.infer(slowInput())];
    expect(slow.stats()).toEqual({ queued: 2, inFlight: 1, workers: 1, busyWorkers: 1 });
    const error = await rejection(slow.infer(slowInput()));
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error.message).toBe(
      'the inference queue is full (2 requests waiting); retry later or add capacity',
    );
    await Promise.all([running, ...queued]);
    expect(slow.stats()).toEqual({ queued: 0, inFlight: 0, workers: 1, busyWorkers: 0 });
  });

  // The running batch (512 rows through 100 MatMuls, a few hundred ms) must outlast any stall of
  // this VM: after a stall longer than the batch, the worker's reply can be handled before the
  // expired timer, and the request would (rightly) complete instead of timing out.
  it('times out a queued request (dropping it) and a running one', async () => {
    const running = slow.infer(slowInput(512), { timeoutMs: 1 });
    const queued = slow.infer(slowInput(), { timeoutMs: 3 });
    const runningError = await rejection(running);
    expect(runningError).toBeInstanceOf(InferenceTimeoutError);
    expect(runningError.message).toBe(
      'inference timed out after 1 ms while running; its result will be discarded',
    );
    const queuedError = await rejection(queued);
    expect(queuedError).toBeInstanceOf(InferenceTimeoutError);
    expect(queuedError.message).toBe(
      'inference timed out after 3 ms while queued; it was dropped from the queue',
    );
    expect(slow.stats().queued).toBe(0);
    // The executor goes on serving.
    expect((await slow.infer(slowInput(1))).outputs.y.dims).toEqual([1, 512]);
    await expect(slow.infer(slowInput(1), { timeoutMs: -1 })).rejects.toThrow(
      'timeoutMs must be a positive number, received -1',
    );
  });

  it('drains: resolves once every queued and running request is answered, timed-out ones included', async () => {
    await slow.drain(); // idle: at once
    const answered: string[] = [];
    const track = (p: Promise<unknown>, name: string) =>
      p.then(
        () => answered.push(name),
        () => answered.push(`${name} failed`),
      );
    const requests = [
      track(slow.infer(slowInput(512), { timeoutMs: 1 }), 'timed out while running'),
      track(slow.infer(slowInput()), 'queued'),
    ];
    await slow.drain();
    expect(answered).toEqual(['timed out while running failed', 'queued']);
    // The batch of the timed-out request ran to its end: no worker is busy.
    expect(slow.stats()).toEqual({ queued: 0, inFlight: 0, workers: 1, busyWorkers: 0 });
    await Promise.all(requests);
  });

  it('rejects a run-time failure with InferenceError naming the inputs, types and shapes', async () => {
    const executor = await open({ modelPath: paths.matmul });
    const error = await rejection(
      executor.infer({
        a: { type: 'float32', dims: [2, 3], data: new Float32Array(6) },
        b: { type: 'float32', dims: [4, 2], data: new Float32Array(8) },
      }),
    );
    expect(error).toBeInstanceOf(InferenceError);
    expect(error.message).toMatch(
      /^onnxruntime failed to run the model on inputs "a" \(float32 \[2, 3\]\), "b" \(float32 \[4, 2\]\): .*MatMul.*/,
    );
    expect((error as InferenceError).runtimeMessage).not.toBe('');
    expect(executor.stats()).toMatchObject({ inFlight: 0, busyWorkers: 0 });
  });

  it('keeps the main thread responsive while inference is saturated', async () => {
    const executor = await open({ modelPath: paths.slow, model: slowModelInfo });
    const gaps: number[] = [];
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      gaps.push(now - last);
      last = now;
    }, 5);
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 6 }, () => executor.infer(slowInput(128))));
    const elapsed = performance.now() - started;
    clearInterval(timer);
    const slowest = Math.max(...results.map((r) => r.inferMs));
    // Each run blocks its worker far longer than the timer period, yet the timer kept its pace.
    expect(slowest).toBeGreaterThan(20);
    expect(Math.max(...gaps)).toBeLessThan(slowest);
    expect(gaps.length).toBeGreaterThan((elapsed / 5) * 0.5);
  });

  it('rejects pending requests on close, and every request after', async () => {
    const executor = await Executor.create({ modelPath: paths.slow, model: slowModelInfo });
    const pending = [executor.infer(slowInput()), executor.infer(slowInput()), executor.infer(slowInput())];
    expect(executor.stats().queued).toBe(2);
    const drained = executor.drain();
    const closing = executor.close();
    await drained; // close answers every request, so a drain waiting on them ends
    for (const p of pending) {
      const error = await rejection(p);
      expect(error).toBeInstanceOf(ExecutorClosedError);
      expect(error.message).toBe('the executor was closed before the request completed');
    }
    await closing;
    expect(executor.stats().workers).toBe(0);
    await expect(executor.infer(slowInput())).rejects.toThrow(
      new ExecutorClosedError('the executor is closed'),
    );
    await executor.close();
  });

  it('rejects the requests of a worker that crashes, and goes on with the others', async () => {
    // A worker with a small heap dies deserializing a large string tensor.
    const executor = await open({
      modelPath: paths.strings,
      workers: 2,
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
    });
    const big = Array.from({ length: 400_000 }, (_, i) => String(i).padEnd(64, 'x'));
    const error = await rejection(executor.infer({ x: { type: 'string', dims: [big.length], data: big } }));
    expect(error).toBeInstanceOf(WorkerCrashError);
    expect(error.message).toMatch(
      /^inference worker \d exited unexpectedly with code 1: .*memory.* while running inputs "x" \(string \[400000\]\)$/,
    );
    expect(executor.stats().workers).toBe(1);
    const ok = await executor.infer({ x: { type: 'string', dims: [2], data: ['a', 'b'] } });
    expect(ok.outputs.y.data).toEqual(['a', 'b']);
  });
});

describe('Executor.create', () => {
  it('fails with ModelLoadError carrying onnxruntime’s message', async () => {
    const error = await rejection(Executor.create({ modelPath: paths.unknownOp }));
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toMatch(/^onnxruntime could not load .*unknown-op\.onnx: .*NoSuchOperator/);
  });

  it('refuses model info of another file', async () => {
    const error = await rejection(Executor.create({ modelPath: paths.rows, model: inspectModel(IRIS) }));
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toMatch(
      /^the model info does not match .*rows\.onnx: it lists inputs \["input"\], onnxruntime loaded \["tokens","ids"\]; inspect this file again$/,
    );
  });

  it.each([
    [{ workers: 0 }, 'workers must be an integer of at least 1, received 0'],
    [{ intraOpThreads: 1.5 }, 'intraOpThreads must be an integer of at least 1, received 1.5'],
    [{ maxQueueSize: 0 }, 'maxQueueSize must be an integer of at least 1, received 0'],
    [{ spinMs: -1 }, 'spinMs must be a non-negative number of milliseconds, received -1'],
    [
      { batching: { maxBatchSize: 4, maxQueueDelayMs: Number.NaN } },
      'batching.maxQueueDelayMs must be a non-negative number of milliseconds, received NaN',
    ],
  ])('rejects options %j', async (options, message) => {
    await expect(Executor.create({ modelPath: IRIS, ...options })).rejects.toThrow(new RangeError(message));
  });
});
