// Over ~400 lines on purpose: one class, the path of a request (validate, run inline or queue, batch, dispatch, split, settle), whose steps share the queue and the in-flight count.
/**
 * The executor: onnxruntime sessions in worker threads behind a bounded queue and a dynamic
 * batcher. The gate benchmarks exactly this object and the server wraps it in HTTP, so the gate's
 * numbers are the pods' numbers. The main thread only validates, queues, batches and dispatches;
 * `session.run()` blocks a worker, not the main thread, except for a model measured to run in a
 * few tens of µs, less than a hand-off to a worker costs: with `inline: 'auto'`, its small
 * requests run on the main thread (inline-choice.ts).
 *
 * This file holds the requests' path: validation, the queue, batching, splitting results and
 * settling each request. The workers themselves are worker-pool.ts, the options
 * executor-options.ts, and the main thread's polling for replies reply-spin.ts.
 */
import { show } from '../core';
import { type ModelInfo } from '../model';
import { type BatchPolicy, BatchQueue, type QueueItem } from './batch-queue';
import {
  ExecutorClosedError,
  InferenceError,
  InferenceTimeoutError,
  ModelLoadError,
  QueueFullError,
  WorkerCrashError,
} from './errors';
import {
  type ExecutorOptions,
  type InferOptions,
  type ResolvedExecutorOptions,
  resolveExecutorOptions,
} from './executor-options';
import {
  type ExecutionChoice,
  INLINE_LIMIT_MS,
  INLINE_MAX_ELEMENTS_FACTOR,
  chooseExecution,
  inlineCandidateRefusal,
  medianOf,
} from './inline-choice';
import { InlineRunError, InlineSession } from './inline-session';
import { declaredShapeInputs } from './random-inputs';
import { ReplySpin } from './reply-spin';
import { type TensorData, concatAlongDim0, formatDims, splitAlongDim0 } from './tensor';
import { validateInputs } from './validate-inputs';
import { type JobReply, type WorkerExit, WorkerPool } from './worker-pool';

/** The result of one request. */
export interface InferResult {
  /** Every model output, with this request's rows only. */
  readonly outputs: Record<string, TensorData>;
  /** From queueing to dispatch to a worker, ms. */
  readonly queueMs: number;
  /** `session.run` time of the batch, measured inside the worker, ms. */
  readonly inferMs: number;
  /** Rows of the batch the request ran in (1 when the model cannot be batched). */
  readonly batchRows: number;
}

/** What the executor is doing now. */
export interface ExecutorStats {
  /** Requests waiting for a worker. */
  readonly queued: number;
  /** Requests in batches that workers are running. */
  readonly inFlight: number;
  /** Live workers. */
  readonly workers: number;
  /** Workers running a batch. */
  readonly busyWorkers: number;
}

interface Request extends QueueItem {
  readonly inputs: Readonly<Record<string, TensorData>>;
  readonly transfer: boolean;
  solo: boolean;
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
  readonly resolve: (result: InferResult) => void;
  readonly reject: (error: Error) => void;
}

/** The requests a worker runs together, as one job of the pool. */
interface Batch {
  readonly requests: readonly Request[];
  readonly rows: number;
  readonly dispatchedAt: number;
  /** What was sent, to describe in error messages. */
  readonly inputs: Readonly<Record<string, TensorData>>;
}

function describeFeeds(inputs: Readonly<Record<string, TensorData>>): string {
  return Object.entries(inputs)
    .map(([name, t]) => `${JSON.stringify(name)} (${t.type} ${formatDims(t.dims)})`)
    .join(', ');
}

/** Runs measured (after unmeasured warm-up runs) to choose between inline and workers. */
const INLINE_MEASURE = { warmUps: 5, runs: 21 } as const;
/** A warm run this many times over INLINE_LIMIT_MS settles it: workers, nothing more measured. */
const INLINE_FAR_OVER = 10;
/** Input shapes remembered as having run in a worker, which may then run inline. */
const MAX_KNOWN_SHAPES = 256;
/** The seed of the measurement's random inputs. */
const MEASURE_SEED = 1;

/** The key of a request's input shapes: every input's dims. */
function shapeKeyOf(model: ModelInfo, inputs: Readonly<Record<string, TensorData>>): string {
  let key = '';
  for (const signature of model.inputs) key += `${inputs[signature.name].dims.join(',')};`;
  return key;
}

function elementsOf(inputs: Readonly<Record<string, TensorData>>): number {
  let elements = 0;
  for (const name in inputs) elements += inputs[name].data.length;
  return elements;
}

/** The key under which requests may be stacked: every input's dims after dim 0. */
function batchKeyOf(model: ModelInfo, inputs: Readonly<Record<string, TensorData>>): string {
  let key = '';
  for (const signature of model.inputs) key += `${inputs[signature.name].dims.slice(1).join('x')};`;
  return key;
}

/**
 * Runs a model in worker threads: validates each request on the calling thread, queues it
 * (bounded), batches compatible requests along dim 0 when enabled, and hands batches to free
 * workers. Create with {@link Executor.create}; always {@link Executor.close} it.
 */
export class Executor {
  /** The model's signature, as validated against. */
  readonly model: ModelInfo;
  /** Session create time of the slowest worker, measured inside the worker, ms. */
  readonly loadMs: number;
  /** The polling budget in effect, ms: `spinMs`, or 0 when there is no CPU to spare for it. */
  readonly spinMs: number;
  /** How requests run (inline or in workers) and why, with the times measured to decide. */
  get execution(): ExecutionChoice {
    return this.choice;
  }

  private readonly queue: BatchQueue<Request>;
  private readonly batching: boolean;
  private readonly pool: WorkerPool<Batch>;
  private readonly replySpin: ReplySpin;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private inFlight = 0;
  private choice: ExecutionChoice = { mode: 'workers', reason: 'inline execution is off' };
  /** The main-thread session when requests run inline. */
  private inline: InlineSession | undefined;
  /** Inline runs under way. */
  private inlineInFlight = 0;
  /** The most input elements a request may have to run inline. */
  private inlineMaxElements = 0;
  /** Input shapes that have run (in a worker, or measured), so that may run inline. */
  private readonly knownShapes = new Set<string>();
  private closing: Promise<void> | undefined;
  private failure: Error | undefined;
  /** Resolvers of `drain()` calls waiting for the queue and the workers to empty. */
  private drainWaiters: Array<() => void> = [];

  private constructor(
    model: ModelInfo,
    pool: WorkerPool<Batch>,
    private readonly maxQueueSize: number,
    policy: BatchPolicy | undefined,
    private readonly onBatch: ((rows: number, inferMs: number) => void) | undefined,
    spinMs: number,
  ) {
    this.spinMs = spinMs;
    this.model = model;
    this.replySpin = new ReplySpin(spinMs, () => this.inFlight > 0 && this.closing === undefined);
    this.loadMs = pool.loadMs;
    this.batching = policy !== undefined;
    this.queue = new BatchQueue(policy);
    this.pool = pool;
    pool.listen({
      onReply: (batch, reply) => this.onReply(batch, reply),
      onExit: (exit) => this.onExit(exit),
    });
  }

  /**
   * Starts the workers, each loading the model into its own session with `sessionOptionsFor`,
   * and resolves when all are ready.
   * @throws RangeError for invalid options
   * @throws ModelLoadError when onnxruntime cannot load the model (its message included) or a
   *   worker cannot start
   */
  static async create(options: ExecutorOptions): Promise<Executor> {
    const resolved = resolveExecutorOptions(options);
    const { modelPath, model } = resolved;
    const pool = await WorkerPool.start<Batch>({
      modelPath,
      workers: resolved.workers,
      intraOpThreads: resolved.intraOpThreads,
      executionProvider: resolved.executionProvider,
      spinMs: resolved.spinMs,
      resourceLimits: options.resourceLimits,
    });
    const expected = model.inputs.map((i) => i.name);
    const loaded = pool.inputNames;
    if (expected.join('\0') !== loaded.join('\0')) {
      await pool.terminate();
      throw new ModelLoadError(
        modelPath,
        `the model info does not match ${modelPath}: it lists inputs ${show(expected)}, onnxruntime loaded ${show(loaded)}; inspect this file again`,
      );
    }
    const executor = new Executor(
      model,
      pool,
      resolved.maxQueueSize,
      resolved.batching,
      options.onBatch,
      resolved.spinMs,
    );
    if (resolved.inline !== 'never') {
      try {
        await executor.considerInline(resolved);
      } catch (error) {
        await executor.close();
        throw error;
      }
    }
    return executor;
  }

  /**
   * Measures the model's run on this thread and a worker hand-off, and runs small requests
   * inline from now on when that is the cheaper (see inline-choice.ts).
   * @throws what the worker path throws for a reason other than the inputs (a crashed worker)
   */
  private async considerInline(resolved: ResolvedExecutorOptions): Promise<void> {
    const refusal = inlineCandidateRefusal(resolved.inline, this.model);
    if (refusal !== undefined) {
      this.choice = { mode: 'workers', reason: refusal };
      return;
    }
    const measured = declaredShapeInputs(this.model, MEASURE_SEED);
    if ('reason' in measured) {
      this.choice = { mode: 'workers', reason: `no inputs to measure a run with: ${measured.reason}` };
      return;
    }
    const { inputs } = measured;
    // In a worker first: the measured shape runs in a worker before it ever runs on this thread
    // (where a native abort would take the process), and a model far slower than inline allows is
    // settled without a second session.
    const handOffs: number[] = [];
    if (resolved.inline !== 'always') {
      try {
        for (let i = 0; i < INLINE_MEASURE.warmUps + INLINE_MEASURE.runs; i++) {
          const started = performance.now();
          const result = await this.infer(inputs);
          // The first run after the warm-up (a cold first run is slow for any model).
          if (i === INLINE_MEASURE.warmUps && result.inferMs > INLINE_LIMIT_MS * INLINE_FAR_OVER) {
            this.choice = {
              mode: 'workers',
              reason: `a run takes ${(result.inferMs * 1000).toFixed(1)} µs in a worker, far more than the ${INLINE_LIMIT_MS * 1000} µs the main thread may be blocked for`,
            };
            return;
          }
          if (i >= INLINE_MEASURE.warmUps) handOffs.push(performance.now() - started - result.inferMs);
        }
      } catch (error) {
        if (error instanceof InferenceError) {
          this.choice = { mode: 'workers', reason: `a measured run failed: ${error.message}` };
          return;
        }
        throw error;
      }
    }
    let session: InlineSession;
    let inlineMs: number;
    try {
      session = await InlineSession.create(
        resolved.modelPath,
        resolved.intraOpThreads,
        resolved.executionProvider,
      );
    } catch (error) {
      this.choice = { mode: 'workers', reason: `no session on the main thread: ${(error as Error).message}` };
      return;
    }
    try {
      const runs = resolved.inline === 'always' ? 1 : INLINE_MEASURE.runs;
      inlineMs = medianOf(await session.measure(inputs, INLINE_MEASURE.warmUps, runs));
    } catch (error) {
      await session.release();
      this.choice = { mode: 'workers', reason: `a measured run failed: ${(error as Error).message}` };
      return;
    }
    if (resolved.inline === 'always') {
      this.useInline(session, inputs, { mode: 'inline', reason: 'inline execution is always on', inlineMs });
      return;
    }
    this.choice = chooseExecution({ inlineMs, handOffMs: medianOf(handOffs) });
    if (this.choice.mode !== 'inline') {
      await session.release();
      return;
    }
    this.useInline(session, inputs, this.choice);
  }

  private useInline(
    session: InlineSession,
    measured: Readonly<Record<string, TensorData>>,
    choice: ExecutionChoice,
  ): void {
    this.choice = choice;
    this.inline = session;
    this.inlineMaxElements = elementsOf(measured) * INLINE_MAX_ELEMENTS_FACTOR;
    this.knownShapes.add(shapeKeyOf(this.model, measured));
  }

  /**
   * Runs one request: validates it here, queues it, and resolves with its own outputs once a
   * worker has run its batch.
   * @throws InputValidationError when the inputs do not fit the model (nothing is queued)
   * @throws QueueFullError when `maxQueueSize` requests already wait
   * @throws InferenceTimeoutError when `timeoutMs` passes first
   * @throws InferenceError when onnxruntime fails to run it
   * @throws WorkerCrashError when the worker running it dies
   * @throws ExecutorClosedError after `close()`
   */
  infer(inputs: Readonly<Record<string, TensorData>>, options: InferOptions = {}): Promise<InferResult> {
    if (this.closing) return Promise.reject(new ExecutorClosedError('the executor is closed'));
    if (this.failure) return Promise.reject(this.failure);
    let rows: number | undefined;
    try {
      rows = validateInputs(this.model, inputs).rows;
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) {
      return Promise.reject(
        new RangeError(`timeoutMs must be a positive number, received ${show(timeoutMs)}`),
      );
    }
    if (this.inline !== undefined && this.runsInline(inputs)) return this.runInline(inputs, rows, timeoutMs);
    if (this.queue.size >= this.maxQueueSize) return Promise.reject(new QueueFullError(this.maxQueueSize));
    return new Promise<InferResult>((resolve, reject) => {
      const request: Request = {
        inputs,
        rows,
        batchKey: this.batching && rows !== undefined ? batchKeyOf(this.model, inputs) : undefined,
        enqueuedAt: performance.now(),
        transfer: options.transferInputs === true,
        solo: false,
        settled: false,
        timer: undefined,
        resolve,
        reject,
      };
      if (timeoutMs !== undefined) {
        request.timer = setTimeout(() => this.onTimeout(request, timeoutMs), timeoutMs);
      }
      this.queue.push(request);
      this.pump();
    });
  }

  /**
   * Whether a request runs inline: the executor is idle (nothing waits, nothing runs, inline or in
   * a worker), its inputs are no larger than the measured run's times
   * {@link INLINE_MAX_ELEMENTS_FACTOR}, and their shapes have run before (in a worker, where a
   * run that kills the thread cannot kill the process). Only an idle executor: under load the
   * requests queue for the workers, so the bounded queue refuses what cannot be served (429) and
   * the main thread stays free for health probes and metrics, as without inline execution.
   */
  private runsInline(inputs: Readonly<Record<string, TensorData>>): boolean {
    if (this.queue.size > 0 || this.inFlight + this.inlineInFlight > 0) return false;
    if (elementsOf(inputs) > this.inlineMaxElements) return false;
    return this.knownShapes.has(shapeKeyOf(this.model, inputs));
  }

  /**
   * Runs a request on this thread. onnxruntime's failures are InferenceErrors as in a worker; a
   * timeout is checked when the run is back (it cannot be cut, and takes µs).
   */
  private async runInline(
    inputs: Readonly<Record<string, TensorData>>,
    rows: number | undefined,
    timeoutMs: number | undefined,
  ): Promise<InferResult> {
    const session = this.inline!;
    const enqueuedAt = performance.now();
    this.inlineInFlight++;
    try {
      let run: Awaited<ReturnType<InlineSession['run']>>;
      try {
        run = await session.run(inputs);
      } catch (error) {
        if (this.closing)
          throw new ExecutorClosedError('the executor was closed before the request completed');
        if (!(error instanceof InlineRunError)) throw error;
        const message = (error as Error).message;
        throw new InferenceError(
          `onnxruntime failed to run the model on inputs ${describeFeeds(inputs)}: ${message}`,
          message,
        );
      }
      if (this.closing) throw new ExecutorClosedError('the executor was closed before the request completed');
      if (timeoutMs !== undefined && performance.now() - enqueuedAt > timeoutMs) {
        throw new InferenceTimeoutError(timeoutMs, 'running');
      }
      const batchRows = rows ?? 1;
      this.safeOnBatch(batchRows, run.inferMs);
      return { outputs: run.outputs, queueMs: 0, inferMs: run.inferMs, batchRows };
    } finally {
      this.inlineInFlight--;
      this.checkDrained();
    }
  }

  /** Queue and worker counts, for metrics and health. */
  stats(): ExecutorStats {
    return {
      queued: this.queue.size,
      inFlight: this.inFlight + this.inlineInFlight,
      workers: this.pool.size,
      busyWorkers: this.pool.busy,
    };
  }

  /**
   * Resolves once no request is queued and no batch is running (at once when idle): every
   * request accepted so far has been answered, and no worker still runs a batch whose requests
   * timed out. It does not stop intake: stop sending requests first (a server's shutdown), or it
   * waits for those too. Also resolves when the executor is closed or its last worker has died.
   */
  drain(): Promise<void> {
    if (this.isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private isDrained(): boolean {
    return (
      (this.queue.size === 0 && this.inFlight === 0 && this.inlineInFlight === 0) ||
      this.closing !== undefined ||
      this.pool.size === 0
    );
  }

  /** Resolves the `drain()` calls once the executor is idle. */
  private checkDrained(): void {
    if (this.drainWaiters.length > 0 && this.isDrained()) this.releaseDrainWaiters();
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Stops the executor: queued and running requests reject with ExecutorClosedError, each worker
   * releases its session and exits (or is terminated after a grace period). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.clearWake();
    const error = new ExecutorClosedError('the executor was closed before the request completed');
    for (const request of this.queue.drain()) this.settle(request, error);
    for (const batch of this.pool.runningJobs()) {
      for (const request of batch.requests) this.settle(request, error);
    }
    this.releaseDrainWaiters();
    await Promise.all([this.pool.close(), this.inline?.release()]);
    this.inFlight = 0;
  }

  /** Dispatches ready batches to free workers until one runs out. */
  private pump(): void {
    while (this.pool.hasIdle && this.queue.size > 0) {
      const next = this.queue.take(performance.now());
      if (next === undefined) return;
      if ('waitMs' in next) {
        this.wakeIn(next.waitMs);
        return;
      }
      this.dispatch(next.items, next.rows);
    }
  }

  private wakeIn(ms: number): void {
    const at = performance.now() + ms;
    if (this.wakeTimer !== undefined && this.wakeAt <= at) return;
    this.clearWake();
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      this.pump();
    }, ms);
  }

  private clearWake(): void {
    if (this.wakeTimer !== undefined) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAt = Infinity;
  }

  /** Sends a batch to an idle worker: one request's inputs as they are, or several stacked along dim 0. */
  private dispatch(requests: Request[], rows: number): void {
    let inputs: Readonly<Record<string, TensorData>>;
    let handOver: boolean;
    if (requests.length === 1) {
      inputs = requests[0].inputs;
      handOver = requests[0].transfer;
    } else {
      const stacked: Record<string, TensorData> = {};
      for (const signature of this.model.inputs) {
        stacked[signature.name] = concatAlongDim0(requests.map((r) => r.inputs[signature.name]));
      }
      inputs = stacked;
      handOver = true;
    }
    const batch: Batch = { requests, rows, dispatchedAt: performance.now(), inputs };
    this.inFlight += requests.length;
    this.pool.run(batch, inputs, handOver);
    this.replySpin.dispatched();
  }

  private onReply(batch: Batch, reply: JobReply): void {
    this.inFlight -= batch.requests.length;
    if (reply.kind === 'result') {
      if (this.inline !== undefined && batch.requests.length === 1) this.rememberShape(batch.inputs);
      this.replySpin.replied(reply.inferMs);
      this.safeOnBatch(batch.rows, reply.inferMs);
      this.complete(batch, reply.outputs, reply.inferMs);
    } else {
      this.replySpin.replied(undefined);
      this.fail(batch, reply.message);
    }
    this.pump();
    this.checkDrained();
  }

  /** A shape that ran in a worker may run inline from now on. */
  private rememberShape(inputs: Readonly<Record<string, TensorData>>): void {
    if (this.knownShapes.size < MAX_KNOWN_SHAPES) this.knownShapes.add(shapeKeyOf(this.model, inputs));
  }

  private safeOnBatch(rows: number, inferMs: number): void {
    if (!this.onBatch) return;
    try {
      this.onBatch(rows, inferMs);
    } catch (error) {
      console.error(`modelfab runtime: the onBatch hook threw: ${(error as Error).message}`);
    }
  }

  private complete(batch: Batch, outputs: Record<string, TensorData>, inferMs: number): void {
    const { requests, rows } = batch;
    if (requests.length === 1) {
      this.resolveRequest(requests[0], batch, outputs, inferMs);
      return;
    }
    const parts: Record<string, TensorData[]> = {};
    for (const [name, tensor] of Object.entries(outputs)) {
      if (tensor.dims[0] !== rows) {
        // dim 0 of this output is not the batch after all: never stack requests again.
        this.queue.disableBatching();
        console.error(
          `modelfab runtime: output ${JSON.stringify(name)} has shape ${formatDims(tensor.dims)} for a batch of ${rows} rows, so its dim 0 is not the batch; batching is off and these requests run again one by one`,
        );
        this.retryAlone(requests);
        return;
      }
      parts[name] = splitAlongDim0(
        tensor,
        requests.map((r) => r.rows!),
      );
    }
    requests.forEach((request, i) => {
      const own: Record<string, TensorData> = {};
      for (const name of Object.keys(parts)) own[name] = parts[name][i]!;
      this.resolveRequest(request, batch, own, inferMs);
    });
  }

  private resolveRequest(
    request: Request,
    batch: Batch,
    outputs: Record<string, TensorData>,
    inferMs: number,
  ): void {
    if (request.settled) return;
    request.settled = true;
    if (request.timer) clearTimeout(request.timer);
    request.resolve({
      outputs,
      queueMs: batch.dispatchedAt - request.enqueuedAt,
      inferMs,
      batchRows: batch.rows,
    });
  }

  private fail(batch: Batch, runtimeMessage: string): void {
    const live = batch.requests.filter((r) => !r.settled);
    if (live.length > 1) {
      // One bad request must not fail its neighbours: run each on its own to find out.
      this.retryAlone(live);
      return;
    }
    const error = new InferenceError(
      `onnxruntime failed to run the model on inputs ${describeFeeds(batch.inputs)}: ${runtimeMessage}`,
      runtimeMessage,
    );
    for (const request of live) this.settle(request, error);
  }

  private retryAlone(requests: readonly Request[]): void {
    const live = requests.filter((r) => !r.settled);
    for (const request of live) request.solo = true;
    this.queue.pushFront(live);
  }

  private settle(request: Request, error: Error): void {
    if (request.settled) return;
    request.settled = true;
    if (request.timer) clearTimeout(request.timer);
    request.reject(error);
  }

  private onTimeout(request: Request, timeoutMs: number): void {
    if (request.settled) return;
    const queued = this.queue.remove(request);
    request.timer = undefined;
    this.settle(request, new InferenceTimeoutError(timeoutMs, queued ? 'queued' : 'running'));
    this.checkDrained();
  }

  private onExit(exit: WorkerExit<Batch>): void {
    const { index, code, job: batch } = exit;
    const cause = exit.error ? `: ${exit.error.message}` : '';
    if (batch) {
      this.inFlight -= batch.requests.length;
      const error = new WorkerCrashError(
        `inference worker ${index} exited unexpectedly with code ${code}${cause} while running inputs ${describeFeeds(batch.inputs)}`,
      );
      for (const request of batch.requests) this.settle(request, error);
    }
    if (this.pool.size === 0) {
      this.clearWake();
      this.failure = new WorkerCrashError(
        `every inference worker has exited (the last, worker ${index}, with code ${code}${cause}); create a new executor`,
      );
      for (const request of this.queue.drain()) this.settle(request, this.failure);
      this.checkDrained();
      return;
    }
    this.pump();
    this.checkDrained();
  }
}
