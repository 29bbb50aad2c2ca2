/**
 * The dynamic batcher as a property (issue 5), with real onnxruntime sessions in real worker
 * threads: bursts of 1–40 concurrent requests of 1–5 rows with random data, under several batch
 * sizes, queue delays and worker counts, each settle once with exactly (bit for bit) the outputs
 * the same request gets when it runs alone, none lost and none run twice; invalid requests in a
 * burst reject without disturbing the others, and so do requests that time out while they wait;
 * the executor is idle afterwards.
 *
 * "Alone" is an executor without batching over the same model, so the check is batched ==
 * unbatched through onnxruntime itself, not through a second implementation of the model's math.
 * The fixture models compute every output row from its own input row only (MatMul + Add,
 * ReduceMean over a non-batch axis, Identity), with the same kernels and the same summation
 * order per row whatever the batch size, so exact equality is the right check (no tolerance).
 *
 * A failure prints fast-check's seed and its shrunk counterexample; `FC_SEED=<seed>` reruns the
 * properties from that seed.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BatchingOptions,
  Executor,
  type InferOptions,
  type InferResult,
  InferenceTimeoutError,
  InputValidationError,
  type TensorData,
} from '../lib/runtime';
import { makeTempDir, removeDir } from './support/fixture-models';
import { affineModel, rowsModel, writeModel } from './support/runtime-fixtures';

/** The executor set-ups under test: batching off, small and large batches, delays, workers. */
const CONFIGS: readonly { readonly workers: number; readonly batching: BatchingOptions }[] = [
  { workers: 1, batching: { maxBatchSize: 1, maxQueueDelayMs: 0 } },
  { workers: 1, batching: { maxBatchSize: 4, maxQueueDelayMs: 0 } },
  { workers: 2, batching: { maxBatchSize: 4, maxQueueDelayMs: 2 } },
  { workers: 2, batching: { maxBatchSize: 16, maxQueueDelayMs: 0 } },
  { workers: 1, batching: { maxBatchSize: 16, maxQueueDelayMs: 2 } },
];

/** How long a burst may take at most, ms. */
const BURST_DEADLINE_MS = 10_000;
/** How long the executor may sit idle while a request of the burst has not settled, ms. */
const IDLE_GRACE_MS = 100;

/**
 * fast-check's run settings: `numRuns` cases, from `FC_SEED` when it is set. Shrinking a failure
 * through real executors can be slow (a lost request costs {@link IDLE_GRACE_MS} per attempt), so
 * it stops after 20 s and reports the smallest counterexample so far with its seed, well before
 * the test's own 30 s timeout would hide both; a run cut short before `numRuns` fails as well.
 */
function runs(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env.FC_SEED;
  return {
    numRuns,
    plugins: [fc.interruptAfterTimeLimit(20_000, { failOnInterrupt: true })],
    ...(seed === undefined ? {} : { seed: Number(seed) }),
  };
}

/** An executor under test and what its onBatch hook counted. */
interface Subject {
  readonly name: string;
  readonly workers: number;
  readonly batching: BatchingOptions;
  readonly executor: Executor;
  /** Rows that onnxruntime ran, summed over batches (reset before each burst). */
  rowsRun: number;
  /** Results that shared their batch with another request, over all bursts. */
  coalesced: number;
}

/** `maxBatchSize 4, maxQueueDelayMs 2, 2 workers`, for test titles and messages. */
function nameOf(workers: number, batching: BatchingOptions): string {
  return `maxBatchSize ${batching.maxBatchSize}, maxQueueDelayMs ${batching.maxQueueDelayMs}, ${workers} worker${workers === 1 ? '' : 's'}`;
}

/** The CONFIGS as test cases: [name, index]. */
const CASES = CONFIGS.map(({ workers, batching }, index) => [nameOf(workers, batching), index] as const);

async function openSubject(modelPath: string, workers: number, batching: BatchingOptions): Promise<Subject> {
  const name = nameOf(workers, batching);
  let subject: Subject | undefined = undefined;
  const executor = await Executor.create({
    modelPath,
    workers,
    batching,
    onBatch: (rows) => {
      subject!.rowsRun += rows;
    },
  });
  subject = { name, workers, batching, executor, rowsRun: 0, coalesced: 0 };
  return subject;
}

/** One request of a burst and what it must come to. */
interface Request {
  readonly inputs: Record<string, TensorData>;
  /** Its rows (dim 0 of its inputs, for a valid request). */
  readonly rows: number;
  /** `valid`: resolves with the unbatched result; the others reject with their error. */
  readonly expect: 'valid' | 'invalid' | 'timeout';
  /** For an invalid request: the start of its InputValidationError message. */
  readonly message?: RegExp;
  /** Let the event loop turn before sending it, so it arrives while earlier batches run. */
  readonly yieldFirst: boolean;
  readonly options: InferOptions;
}

/**
 * float32 values: any (±0, ±Infinity, subnormals and the extremes included; NaN left out) or
 * moderate ones, whose sums round in the normal range.
 */
const float32 = fc.oneof(fc.float({ noNaN: true }), fc.float({ min: -100, max: 100, noNaN: true }));
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
/** Mostly sent at once; now and then after a turn of the event loop. */
const yieldFirst = fc.oneof(
  { arbitrary: fc.constant(false), weight: 4 },
  { arbitrary: fc.constant(true), weight: 1 },
);

/** 1–5 rows of `width` values each. */
function matrix<T>(value: fc.Arbitrary<T>, width: number): fc.Arbitrary<T[][]> {
  return fc.array(fc.array(value, { minLength: width, maxLength: width }), { minLength: 1, maxLength: 5 });
}

/** A request for the affine model: x [rows, 4]. */
const affineRequest: fc.Arbitrary<Request> = fc
  .record({ x: matrix(float32, 4), yieldFirst })
  .map(({ x, yieldFirst }) => ({
    inputs: { x: { type: 'float32', dims: [x.length, 4], data: Float32Array.from(x.flat()) } },
    rows: x.length,
    expect: 'valid',
    yieldFirst,
    options: {},
  }));

/** The inputs of the rows model: tokens float32 [rows, seq, 2] and ids int64 [rows, 3]. */
function rowsInputs(tokens: number[][], ids: bigint[][], seq: number): Record<string, TensorData> {
  return {
    tokens: { type: 'float32', dims: [tokens.length, seq, 2], data: Float32Array.from(tokens.flat()) },
    ids: { type: 'int64', dims: [ids.length, 3], data: BigInt64Array.from(ids.flat()) },
  };
}

/** 1–5 rows of the rows model with the given seq (requests of another seq are never stacked). */
function rowsData(
  seq: fc.Arbitrary<number>,
): fc.Arbitrary<{ seq: number; tokens: number[][]; ids: bigint[][] }> {
  return seq.chain((s) =>
    fc
      .array(
        fc.record({
          tokens: fc.array(float32, { minLength: s * 2, maxLength: s * 2 }),
          ids: fc.array(int64, { minLength: 3, maxLength: 3 }),
        }),
        { minLength: 1, maxLength: 5 },
      )
      .map((rows) => ({ seq: s, tokens: rows.map((r) => r.tokens), ids: rows.map((r) => r.ids) })),
  );
}

/** A valid request for the rows model, seq 1–3, sometimes with a deadline it easily meets. */
const rowsRequest: fc.Arbitrary<Request> = fc
  .record({
    data: rowsData(fc.integer({ min: 1, max: 3 })),
    yieldFirst,
    generousTimeout: fc.boolean(),
  })
  .map(({ data, yieldFirst, generousTimeout }) => ({
    inputs: rowsInputs(data.tokens, data.ids, data.seq),
    rows: data.tokens.length,
    expect: 'valid',
    yieldFirst,
    options: generousTimeout ? { timeoutMs: 60_000 } : {},
  }));

/** A request for the rows model that validation refuses, in one of four ways. */
const invalidRowsRequest: fc.Arbitrary<Request> = fc
  .record({
    data: rowsData(fc.integer({ min: 1, max: 3 })),
    flaw: fc.constantFrom('tokens-width', 'ids-width', 'rows-mismatch', 'tokens-rank'),
    yieldFirst,
  })
  .map(({ data, flaw, yieldFirst }): Request => {
    const { tokens, ids, seq } = data;
    const rows = tokens.length;
    const inputs = rowsInputs(tokens, ids, seq);
    let message: RegExp;
    switch (flaw) {
      case 'tokens-width': // [rows, seq, 3]: the same values read as rows of 3
        inputs.tokens = {
          type: 'float32',
          dims: [rows, seq, 3],
          data: Float32Array.from({ length: rows * seq * 3 }, (_, i) => i),
        };
        message = /^input "tokens" has shape \[\d, \d, 3\]; dimension 2 must be 2/;
        break;
      case 'ids-width':
        inputs.ids = { type: 'int64', dims: [rows, 4], data: new BigInt64Array(rows * 4) };
        message = /^input "ids" has shape \[\d, 4\]; dimension 1 must be 3/;
        break;
      case 'rows-mismatch':
        inputs.ids = { type: 'int64', dims: [rows + 1, 3], data: new BigInt64Array((rows + 1) * 3) };
        message =
          /^input "ids" has shape \[\d, 3\]: dimension 0 \("batch"\) is \d, but "batch" is \d in input "tokens"/;
        break;
      case 'tokens-rank':
        inputs.tokens = { ...inputs.tokens, dims: [rows, seq * 2] };
        message = /^input "tokens" has shape \[\d, \d\] \(rank 2\); the model expects rank 3/;
        break;
    }
    return { inputs, rows, expect: 'invalid', message, yieldFirst, options: {} };
  });

/** The outcome of `promise`, observed from now on (so a rejection is never unhandled). */
function settle<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value) => ({ status: 'fulfilled', value }),
    (reason: unknown) => ({ status: 'rejected', reason }),
  );
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The outcomes of a burst's requests, in order; fails, naming them, when some have not settled
 * though the executor has had nothing queued or running for {@link IDLE_GRACE_MS} (they are
 * lost), or at the latest after {@link BURST_DEADLINE_MS}.
 */
async function outcomes<T>(
  executor: Executor,
  pending: readonly Promise<PromiseSettledResult<T>>[],
): Promise<PromiseSettledResult<T>[]> {
  const done = pending.map(() => false);
  pending.forEach((outcome, i) => void outcome.then(() => (done[i] = true)));
  let watching = true;
  const watch = async (): Promise<never> => {
    const start = performance.now();
    let idleSince: number | undefined;
    while (watching) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      const now = performance.now();
      const { queued, inFlight } = executor.stats();
      idleSince = queued + inFlight === 0 ? (idleSince ?? now) : undefined;
      const open = done.flatMap((settled, i) => (settled ? [] : [i]));
      if (open.length === 0) break;
      if (idleSince !== undefined && now - idleSince >= IDLE_GRACE_MS) {
        throw new Error(
          `requests ${open.join(', ')} of ${pending.length} never settled, though the executor has been idle for ${IDLE_GRACE_MS} ms: lost`,
        );
      }
      if (now - start >= BURST_DEADLINE_MS) {
        throw new Error(
          `requests ${open.join(', ')} of ${pending.length} did not settle within ${BURST_DEADLINE_MS} ms`,
        );
      }
    }
    return new Promise<never>(() => undefined); // all settled: Promise.all answers
  };
  try {
    return await Promise.race([Promise.all(pending), watch()]);
  } finally {
    watching = false;
  }
}

/** Waits until the executor has nothing queued or running (a timed-out request may still run). */
async function idle(executor: Executor): Promise<void> {
  const until = performance.now() + BURST_DEADLINE_MS;
  while (executor.stats().queued + executor.stats().inFlight > 0 && performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** The data as comparable strings: float32 with its bit pattern, so -0 ≠ 0 and NaNs are exact. */
function bits(data: TensorData['data']): string[] {
  if (data instanceof Float32Array) {
    const words = new Uint32Array(data.buffer, data.byteOffset, data.length);
    return Array.from(data, (v, i) => `${v} (0x${words[i].toString(16)})`);
  }
  return Array.from(data as ArrayLike<unknown>, String);
}

function expectSameOutputs(
  actual: Record<string, TensorData>,
  expected: Record<string, TensorData>,
  rows: number,
  where: string,
): void {
  expect(Object.keys(actual).sort(), where).toEqual(Object.keys(expected).sort());
  for (const [name, want] of Object.entries(expected)) {
    const got = actual[name];
    expect(want.dims[0], `${where}, unbatched ${name}`).toBe(rows);
    expect(got.type, `${where}, ${name}`).toBe(want.type);
    expect(got.dims, `${where}, ${name}`).toEqual(want.dims);
    expect(got.data.constructor, `${where}, ${name}`).toBe(want.data.constructor);
    expect(bits(got.data), `${where}, ${name}`).toEqual(bits(want.data));
  }
}

/**
 * Sends a burst to `subject` (all at once, some after a turn of the event loop), then checks each
 * request against what it must come to: a valid one against the same inputs run alone on
 * `reference`; and that onnxruntime ran each row exactly once and the executor is idle again.
 */
async function checkBurst(subject: Subject, reference: Executor, burst: readonly Request[]): Promise<void> {
  await nextTurn(); // every burst starts in the same phase of the event loop
  subject.rowsRun = 0;
  const pending: Promise<PromiseSettledResult<InferResult>>[] = [];
  for (const request of burst) {
    if (request.yieldFirst) await nextTurn();
    // Observe the outcome at once: an invalid request rejects before the next one is sent.
    pending.push(settle(subject.executor.infer(request.inputs, request.options)));
  }
  const settled = await outcomes(subject.executor, pending);
  const expected = await Promise.all(
    burst.map((request) =>
      request.expect === 'valid' ? reference.infer(request.inputs) : Promise.resolve(undefined),
    ),
  );

  let rowsToRun = 0;
  settled.forEach((outcome, i) => {
    const request = burst[i];
    const where = `request ${i} of ${burst.length} (${request.expect}, ${request.rows} rows) on ${subject.name}`;
    if (request.expect === 'valid') {
      if (outcome.status === 'rejected') throw new Error(`${where} failed: ${String(outcome.reason)}`);
      const result = outcome.value;
      expectSameOutputs(result.outputs, expected[i]!.outputs, request.rows, where);
      rowsToRun += request.rows;
      // Its batch holds its own rows and stays within maxBatchSize, unless it is too big to share.
      expect(result.batchRows, where).toBeGreaterThanOrEqual(request.rows);
      expect(result.batchRows, where).toBeLessThanOrEqual(
        Math.max(subject.batching.maxBatchSize, request.rows),
      );
      if (result.batchRows > request.rows) subject.coalesced++;
      return;
    }
    if (outcome.status === 'fulfilled') throw new Error(`${where} resolved; it should have been rejected`);
    const error = outcome.reason as Error;
    if (request.expect === 'invalid') {
      expect(error, where).toBeInstanceOf(InputValidationError);
      expect(error.message, where).toMatch(request.message!);
    } else {
      expect(error, where).toBeInstanceOf(InferenceTimeoutError);
      expect((error as InferenceTimeoutError).timeoutMs, where).toBe(request.options.timeoutMs);
      // Almost always dropped from the queue; 'running' only after a long stall of this thread.
      if ((error as InferenceTimeoutError).stage === 'running') rowsToRun += request.rows;
    }
  });

  // A request that timed out while running is still in its worker: let it finish first.
  await idle(subject.executor);
  expect(subject.executor.stats(), subject.name).toEqual({
    queued: 0,
    inFlight: 0,
    workers: subject.workers,
    busyWorkers: 0,
  });
  // Every row ran exactly once: no request lost on the way, none run twice.
  expect(subject.rowsRun, `rows run on ${subject.name}`).toBe(rowsToRun);
}

/** 1–40 requests, lengths spread over the whole range (fast-check's default size stops near 10). */
const bursts = (request: fc.Arbitrary<Request>) =>
  fc.array(request, { minLength: 1, maxLength: 40, size: 'max' });

let dir: string;

beforeAll(() => {
  dir = makeTempDir('modelfab-runtime-batching-');
});

afterAll(() => {
  removeDir(dir);
});

describe('dynamic batching of an affine layer (x [n, 4] · W + b)', () => {
  let reference: Executor;
  const subjects: Subject[] = [];

  beforeAll(async () => {
    const modelPath = writeModel(dir, 'affine', affineModel());
    reference = await Executor.create({ modelPath });
    for (const { workers, batching } of CONFIGS)
      subjects.push(await openSubject(modelPath, workers, batching));
  });

  afterAll(async () => {
    await Promise.all([reference, ...subjects.map((s) => s.executor)].map((e) => e?.close()));
  });

  it('the unbatched reference computes x · W + b, each output row from its own input row', async () => {
    const w = affineModel().initializers![0].values;
    const b = affineModel().initializers![1].values;
    const x = [
      [1, 2, 3, 4],
      [-0.5, 0, 8, 1e3],
    ];
    const result = await reference.infer({
      x: { type: 'float32', dims: [2, 4], data: Float32Array.from(x.flat()) },
    });
    expect(result.outputs.y.dims).toEqual([2, 3]);
    const y = Array.from(result.outputs.y.data as Float32Array);
    x.forEach((row, r) => {
      for (let c = 0; c < 3; c++) {
        const want = row.reduce((sum, v, k) => sum + v * w[k * 3 + c], b[c]);
        expect(y[r * 3 + c]).toBeCloseTo(want, 2);
      }
    });
  });

  it.each(CASES)('returns every request exactly its unbatched result (%s)', async (_name, index) => {
    const subject = subjects[index];
    await fc.assert(
      fc.asyncProperty(bursts(affineRequest), (burst) => checkBurst(subject, reference, burst)),
      runs(150),
    );
    if (subject.batching.maxBatchSize > 1)
      expect(subject.coalesced, `coalesced on ${subject.name}`).toBeGreaterThan(0);
  });
});

describe('dynamic batching of a two-input, two-output model (float32 ReduceMean, int64 Identity)', () => {
  let modelPath: string;
  let reference: Executor;
  const subjects: Subject[] = [];

  beforeAll(async () => {
    modelPath = writeModel(dir, 'rows', rowsModel());
    reference = await Executor.create({ modelPath });
    for (const { workers, batching } of CONFIGS)
      subjects.push(await openSubject(modelPath, workers, batching));
  });

  afterAll(async () => {
    await Promise.all([reference, ...subjects.map((s) => s.executor)].map((e) => e?.close()));
  });

  it.each(CASES)(
    'returns every request exactly its unbatched result, stacking only equal seqs (%s)',
    async (_name, index) => {
      const subject = subjects[index];
      await fc.assert(
        fc.asyncProperty(bursts(rowsRequest), (burst) => checkBurst(subject, reference, burst)),
        runs(80),
      );
      if (subject.batching.maxBatchSize > 1) {
        expect(subject.coalesced, `coalesced on ${subject.name}`).toBeGreaterThan(0);
      }
    },
  );

  it('rejects invalid requests in a burst with InputValidationError and serves the others as if alone', async () => {
    const batching = subjects.filter((s) => s.batching.maxBatchSize > 1);
    const mixed = fc.oneof(
      { arbitrary: rowsRequest, weight: 3 },
      { arbitrary: invalidRowsRequest, weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...batching), bursts(mixed), (subject, burst) =>
        checkBurst(subject, reference, burst),
      ),
      runs(150),
    );
  });

  it('times out requests that wait too long and serves the others as if alone', async () => {
    // Each request that is to time out has a seq of its own (4 or 5), so nothing stacks with it
    // and its batch never fills (at most 5 rows < 16): it waits out the 25 ms queue delay, far
    // past its 1 ms timeout. Its timer has then expired before it can be dispatched, and a timers
    // phase of the event loop always runs between a dispatch and the handling of its reply, so it
    // rejects with InferenceTimeoutError every time: deterministic, not a race.
    const subject = await openSubject(modelPath, 1, { maxBatchSize: 16, maxQueueDelayMs: 25 });
    try {
      const timingOut = (seq: number): fc.Arbitrary<Request> =>
        rowsData(fc.constant(seq)).map((data) => ({
          inputs: rowsInputs(data.tokens, data.ids, data.seq),
          rows: data.tokens.length,
          expect: 'timeout',
          yieldFirst: false,
          options: { timeoutMs: 1 },
        }));
      const burst = fc
        .record({
          valid: fc.array(rowsRequest, { maxLength: 38, size: 'max' }),
          timingOut: fc.oneof(fc.tuple(timingOut(4)), fc.tuple(timingOut(4), timingOut(5))),
          at: fc.tuple(fc.nat(), fc.nat()),
        })
        .map(({ valid, timingOut, at }) => {
          const requests = [...valid];
          timingOut.forEach((request, k) => requests.splice(at[k] % (requests.length + 1), 0, request));
          return requests;
        });
      await fc.assert(
        fc.asyncProperty(burst, (requests) => checkBurst(subject, reference, requests)),
        runs(60),
      );
    } finally {
      await subject.executor.close();
    }
  });
});
