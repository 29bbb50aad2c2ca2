// Over ~400 lines on purpose: one class, the path of a request (validate, queue, batch, dispatch, split, settle), whose steps share the queue and the in-flight count.
/**
 * The executor: onnxruntime sessions in worker threads behind a bounded queue and a dynamic
 * batcher. The gate benchmarks exactly this object and the server wraps it in HTTP, so the gate's
 * numbers are the pods' numbers. The main thread only validates, queues, batches and dispatches;
 * `session.run()` blocks a worker, never the main thread.
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
import { type ExecutorOptions, type InferOptions, resolveExecutorOptions } from './executor-options';
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

  private readonly queue: BatchQueue<Request>;
  private readonly batching: boolean;
  private readonly pool: WorkerPool<Batch>;
  private readonly replySpin: ReplySpin;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private inFlight = 0;
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
    return new Executor(
      model,
      pool,
      resolved.maxQueueSize,
      resolved.batching,
      options.onBatch,
      resolved.spinMs,
    );
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

  /** Queue and worker counts, for metrics and health. */
  stats(): ExecutorStats {
    return {
      queued: this.queue.size,
      inFlight: this.inFlight,
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
      (this.queue.size === 0 && this.inFlight === 0) || this.closing !== undefined || this.pool.size === 0
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
    await this.pool.close();
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
