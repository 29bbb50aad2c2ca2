/**
 * The executor: onnxruntime sessions in worker threads behind a bounded queue and a dynamic
 * batcher. The gate benchmarks exactly this object and the server wraps it in HTTP, so the gate's
 * numbers are the pods' numbers. The main thread only validates, queues, batches and dispatches;
 * `session.run()` blocks a worker, never the main thread.
 */
import path from 'node:path';
import { MessageChannel, type MessagePort, type ResourceLimits, Worker } from 'node:worker_threads';
import { show } from '../core';
import { type ModelInfo, inspectModel } from '../model';
import { availableCpus } from './available-cpus';
import { type BatchPolicy, BatchQueue, type QueueItem } from './batch-queue';
import { SpinBudget } from './spin-budget';
import {
  ExecutorClosedError,
  InferenceError,
  InferenceTimeoutError,
  ModelLoadError,
  QueueFullError,
  WorkerCrashError,
} from './errors';
import { type TensorData, concatAlongDim0, formatDims, splitAlongDim0 } from './tensor';
import { validateInputs } from './validate-inputs';
import { type WorkerReply, type WorkerRequest, type WorkerSetup, ringDoorbell } from './worker-protocol';
import { type WorkerScript, resolveWorkerScript } from './worker-script';

/** Dynamic batching: stack requests along dim 0. */
export interface BatchingOptions {
  /** The most rows a batch may hold; 1 turns batching off. */
  readonly maxBatchSize: number;
  /** How long the oldest queued request may wait for its batch to fill, ms (0: never wait). */
  readonly maxQueueDelayMs: number;
}

/** How to build an {@link Executor}. */
export interface ExecutorOptions {
  /** The ONNX model file. */
  readonly modelPath: string;
  /** The model's signature, when already inspected. @default inspectModel(modelPath) */
  readonly model?: ModelInfo;
  /** Worker threads, each with its own session. @default 1 */
  readonly workers?: number;
  /** onnxruntime intra-op threads per session. @default 1 */
  readonly intraOpThreads?: number;
  /**
   * Dynamic batching along dim 0, used when `maxBatchSize` > 1 and the model is batchable.
   * @default no batching: every request runs alone
   */
  readonly batching?: BatchingOptions;
  /** Requests that may wait for a worker; one more is rejected with QueueFullError. @default 1024 */
  readonly maxQueueSize?: number;
  /** Called on the main thread after every batch that ran: its rows and its `session.run` time. */
  readonly onBatch?: (rows: number, inferMs: number) => void;
  /**
   * How long a thread polls instead of sleeping, ms, to save the thread wake-ups that otherwise
   * dominate the latency of a fast model (each costs tens of µs): an idle worker polls for its
   * next request this long; and while a batch runs whose expected time (the moving average of
   * recent runs) is under this, the main thread's event loop keeps turning without blocking
   * (timers and I/O are still served) until the reply arrives, at most this long. Polling is only
   * used when there is a CPU to spare for it (see `cpus`), and it switches itself off while it
   * does not pay (see SpinBudget). 0 never polls.
   * @default 0.5
   */
  readonly spinMs?: number;
  /**
   * The CPUs this process may use. Polling needs one to spare: it is used only when `cpus` is at
   * least workers × intraOpThreads + 1 (the main thread). Pass the container's CPU limit where
   * the process does not run inside it (the gate's benchmark) so it decides as the pod will.
   * @default availableCpus(): the cores this process may run on, capped by its cgroup CPU quota
   */
  readonly cpus?: number;
  /** V8 heap limits of each worker thread. @default Node's defaults */
  readonly resourceLimits?: ResourceLimits;
}

/** Options of one request. */
export interface InferOptions {
  /** Fail with InferenceTimeoutError when the result is not back within this many ms. @default no limit */
  readonly timeoutMs?: number;
  /**
   * Hand the inputs' ArrayBuffers to the worker instead of copying them when the request runs on
   * its own: they may be detached (unusable) afterwards. Only for buffers the caller owns whole
   * and will not read again (a request body decoded for this request).
   * @default false: large data is copied once, small data is cloned
   */
  readonly transferInputs?: boolean;
}

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

interface Batch {
  readonly id: number;
  readonly requests: readonly Request[];
  readonly rows: number;
  readonly dispatchedAt: number;
  /** What was posted, to describe in error messages. */
  readonly inputs: Readonly<Record<string, TensorData>>;
}

interface WorkerHandle {
  readonly index: number;
  readonly worker: Worker;
  readonly requests: MessagePort;
  readonly doorbell: Int32Array;
  readonly loadMs: number;
  readonly inputNames: readonly string[];
  batch: Batch | undefined;
  /** The worker's uncaught error, if any (its 'error' event). */
  error: Error | undefined;
  /** Set when the worker exited (its 'exit' event), even before the executor took it over. */
  exitCode: number | undefined;
}

const DEFAULTS = { workers: 1, intraOpThreads: 1, maxQueueSize: 1024, spinMs: 0.5 } as const;
/** How long close() lets a worker release its session before terminating it, ms. */
const CLOSE_GRACE_MS = 1000;

function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer of at least ${min}, received ${show(value)}`);
  }
}

function checkNonNegative(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative number of milliseconds, received ${show(value)}`);
  }
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

/** Below this size, cloning data whose buffer is exactly its own is cheaper than copy + transfer. */
const CLONE_BELOW_BYTES = 16 * 1024;

/**
 * The data to post for one input, with as few copies as possible: the caller's buffer itself when
 * handed over (transferred); a small array that spans its whole buffer as is (structured clone
 * copies it once); otherwise one exact copy that is transferred (cloning a view would copy its
 * whole underlying buffer, and cloning copies twice). SharedArrayBuffer data and strings go as
 * they are.
 */
function postable(tensor: TensorData, handOver: boolean, transfer: ArrayBuffer[]): TensorData {
  const data = tensor.data;
  if (Array.isArray(data) || !(data.buffer instanceof ArrayBuffer)) return tensor;
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  if (whole && handOver) {
    if (!transfer.includes(data.buffer)) transfer.push(data.buffer);
    return tensor;
  }
  if (whole && data.byteLength < CLONE_BELOW_BYTES) return tensor;
  const copy = data.slice();
  transfer.push(copy.buffer);
  return { type: tensor.type, dims: tensor.dims, data: copy };
}

function startWorker(
  index: number,
  script: WorkerScript,
  modelPath: string,
  intraOpThreads: number,
  spinMs: number,
  resourceLimits: ResourceLimits | undefined,
): Promise<WorkerHandle> {
  const doorbell = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  const { port1, port2 } = new MessageChannel();
  const setup: WorkerSetup = { modelPath, intraOpThreads, requests: port2, doorbell, spinMs };
  const worker = new Worker(script.file, {
    execArgv: [...script.execArgv],
    workerData: setup,
    transferList: [port2],
    ...(resourceLimits ? { resourceLimits } : {}),
  });
  return new Promise((resolve, reject) => {
    const detach = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const fail = (message: string) => {
      detach();
      port1.close();
      void worker.terminate();
      reject(new ModelLoadError(modelPath, message));
    };
    const onMessage = (reply: WorkerReply) => {
      if (reply.kind === 'ready') {
        detach();
        const handle: WorkerHandle = {
          index,
          worker,
          requests: port1,
          doorbell: new Int32Array(doorbell),
          loadMs: reply.loadMs,
          inputNames: reply.inputNames,
          batch: undefined,
          error: undefined,
          exitCode: undefined,
        };
        // Record what happens until the executor listens (other workers may still be loading).
        worker.on('error', (error) => {
          handle.error = error;
        });
        worker.once('exit', (code) => {
          handle.exitCode = code;
        });
        resolve(handle);
      } else if (reply.kind === 'load-failed') {
        fail(`onnxruntime could not load ${modelPath}: ${reply.message}`);
      }
    };
    const onError = (error: Error) => fail(`inference worker ${index} failed to start: ${error.message}`);
    const onExit = (code: number) =>
      fail(`inference worker ${index} exited with code ${code} before it was ready`);
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
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
  private readonly idle: WorkerHandle[];
  private readonly live = new Set<WorkerHandle>();
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private inFlight = 0;
  private nextBatchId = 1;
  /** Moving average of `session.run` times, ms (undefined before the first). */
  private averageInferMs: number | undefined;
  /** Whether the event loop is kept turning, until when, and for how long after a dispatch. */
  private hot = false;
  private hotUntil = 0;
  private hotMs = 0;
  private readonly spin: SpinBudget;
  private closing: Promise<void> | undefined;
  private failure: Error | undefined;
  /** Resolvers of `drain()` calls waiting for the queue and the workers to empty. */
  private drainWaiters: Array<() => void> = [];

  private constructor(
    model: ModelInfo,
    workers: readonly WorkerHandle[],
    private readonly maxQueueSize: number,
    policy: BatchPolicy | undefined,
    private readonly onBatch: ((rows: number, inferMs: number) => void) | undefined,
    spinMs: number,
  ) {
    this.spinMs = spinMs;
    this.model = model;
    this.spin = new SpinBudget(spinMs);
    this.loadMs = Math.max(...workers.map((w) => w.loadMs));
    this.batching = policy !== undefined;
    this.queue = new BatchQueue(policy);
    this.idle = [...workers];
    for (const handle of workers) {
      this.live.add(handle);
      handle.worker.on('message', (reply: WorkerReply) => this.onReply(handle, reply));
      if (handle.exitCode === undefined) handle.worker.on('exit', (code) => this.onExit(handle, code));
    }
    for (const handle of workers) {
      if (handle.exitCode !== undefined) this.onExit(handle, handle.exitCode); // died while others loaded
    }
  }

  /**
   * Starts the workers, each loading the model into its own session with `sessionOptionsFor`,
   * and resolves when all are ready.
   * @throws RangeError for invalid options
   * @throws ModelLoadError when onnxruntime cannot load the model (its message included) or a
   *   worker cannot start
   */
  static async create(options: ExecutorOptions): Promise<Executor> {
    const workers = options.workers ?? DEFAULTS.workers;
    const intraOpThreads = options.intraOpThreads ?? DEFAULTS.intraOpThreads;
    const maxQueueSize = options.maxQueueSize ?? DEFAULTS.maxQueueSize;
    const spinMs = options.spinMs ?? DEFAULTS.spinMs;
    checkInteger('workers', workers, 1);
    checkInteger('intraOpThreads', intraOpThreads, 1);
    checkInteger('maxQueueSize', maxQueueSize, 1);
    checkNonNegative('spinMs', spinMs);
    const cpus = options.cpus ?? availableCpus();
    if (typeof cpus !== 'number' || !(cpus > 0)) {
      throw new RangeError(`cpus must be a positive number, received ${show(cpus)}`);
    }
    const pollMs = cpus >= workers * intraOpThreads + 1 ? spinMs : 0;
    if (options.batching) {
      checkInteger('batching.maxBatchSize', options.batching.maxBatchSize, 1);
      checkNonNegative('batching.maxQueueDelayMs', options.batching.maxQueueDelayMs);
    }
    const modelPath = path.resolve(options.modelPath);
    const model = options.model ?? inspectModel(modelPath);
    const policy =
      options.batching && options.batching.maxBatchSize > 1 && model.batchable ? options.batching : undefined;

    const script = resolveWorkerScript();
    const started = await Promise.allSettled(
      Array.from({ length: workers }, (_, i) =>
        startWorker(i, script, modelPath, intraOpThreads, pollMs, options.resourceLimits),
      ),
    );
    const handles = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(handles.map((h) => h.worker.terminate()));
      throw failed.reason;
    }
    const expected = model.inputs.map((i) => i.name);
    const loaded = handles[0].inputNames;
    if (expected.join('\0') !== loaded.join('\0')) {
      await Promise.all(handles.map((h) => h.worker.terminate()));
      throw new ModelLoadError(
        modelPath,
        `the model info does not match ${modelPath}: it lists inputs ${show(expected)}, onnxruntime loaded ${show(loaded)}; inspect this file again`,
      );
    }
    return new Executor(model, handles, maxQueueSize, policy, options.onBatch, pollMs);
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
    let busy = 0;
    for (const handle of this.live) if (handle.batch) busy++;
    return { queued: this.queue.size, inFlight: this.inFlight, workers: this.live.size, busyWorkers: busy };
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
      (this.queue.size === 0 && this.inFlight === 0) || this.closing !== undefined || this.live.size === 0
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
    const handles = [...this.live];
    for (const handle of handles) {
      for (const request of handle.batch?.requests ?? []) this.settle(request, error);
    }
    this.releaseDrainWaiters();
    await Promise.all(handles.map((handle) => this.stopWorker(handle)));
    this.inFlight = 0;
    this.idle.length = 0;
  }

  private async stopWorker(handle: WorkerHandle): Promise<void> {
    if (!this.live.has(handle)) return;
    const exited = new Promise<void>((resolve) => handle.worker.once('exit', () => resolve()));
    try {
      const close: WorkerRequest = { kind: 'close' };
      handle.requests.postMessage(close);
      ringDoorbell(handle.doorbell);
    } catch {
      // the port is already closed: terminate below
    }
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS);
    });
    const outcome = await Promise.race([exited, grace]);
    clearTimeout(timer);
    if (outcome === 'late') await handle.worker.terminate();
    handle.requests.close();
  }

  /** Dispatches ready batches to free workers until one runs out. */
  private pump(): void {
    while (this.idle.length > 0 && this.queue.size > 0) {
      const next = this.queue.take(performance.now());
      if (next === undefined) return;
      if ('waitMs' in next) {
        this.wakeIn(next.waitMs);
        return;
      }
      this.dispatch(this.idle.pop()!, next.items, next.rows);
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

  private dispatch(handle: WorkerHandle, requests: Request[], rows: number): void {
    const transfer: ArrayBuffer[] = [];
    const inputs: Record<string, TensorData> = {};
    if (requests.length === 1) {
      const only = requests[0];
      for (const [name, tensor] of Object.entries(only.inputs))
        inputs[name] = postable(tensor, only.transfer, transfer);
    } else {
      for (const signature of this.model.inputs) {
        const stacked = concatAlongDim0(requests.map((r) => r.inputs[signature.name]));
        inputs[signature.name] = postable(stacked, true, transfer);
      }
    }
    const batch: Batch = {
      id: this.nextBatchId++,
      requests,
      rows,
      dispatchedAt: performance.now(),
      inputs,
    };
    const message: WorkerRequest = { kind: 'run', id: batch.id, inputs };
    handle.batch = batch;
    this.inFlight += requests.length;
    handle.requests.postMessage(message, transfer);
    ringDoorbell(handle.doorbell);
    this.keepHot();
  }

  /**
   * Keeps the main event loop turning (setImmediate, so timers and I/O still run) while a batch
   * that should finish within `spinMs` is out, so its reply is picked up at once instead of after
   * a wake-up of this thread. The time it may turn adapts (see SpinBudget).
   */
  private keepHot(): void {
    if (this.spinMs <= 0 || (this.averageInferMs ?? 0) > this.spinMs) return;
    if (!this.hot) {
      this.hotMs = this.spin.next();
      if (this.hotMs <= 0) return;
      this.hot = true;
      setImmediate(this.turn);
    }
    this.hotUntil = performance.now() + this.hotMs;
  }

  private readonly turn = (): void => {
    if (this.inFlight === 0 || this.closing !== undefined) {
      this.hot = false;
    } else if (performance.now() >= this.hotUntil) {
      this.hot = false;
      this.spin.miss();
    } else {
      setImmediate(this.turn);
    }
  };

  private onReply(handle: WorkerHandle, reply: WorkerReply): void {
    const batch = handle.batch;
    if ((reply.kind !== 'result' && reply.kind !== 'failed') || batch === undefined || reply.id !== batch.id)
      return;
    handle.batch = undefined;
    this.inFlight -= batch.requests.length;
    if (this.hot) this.spin.hit();
    if (this.live.has(handle)) this.idle.push(handle);
    if (reply.kind === 'result') {
      this.averageInferMs =
        this.averageInferMs === undefined ? reply.inferMs : 0.9 * this.averageInferMs + 0.1 * reply.inferMs;
      this.safeOnBatch(batch.rows, reply.inferMs);
      this.complete(batch, reply.outputs, reply.inferMs);
    } else {
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

  private onExit(handle: WorkerHandle, code: number): void {
    if (!this.live.delete(handle)) return;
    const idleAt = this.idle.indexOf(handle);
    if (idleAt >= 0) this.idle.splice(idleAt, 1);
    if (this.closing) return;
    handle.requests.close();
    const cause = handle.error ? `: ${handle.error.message}` : '';
    const batch = handle.batch;
    handle.batch = undefined;
    if (batch) {
      this.inFlight -= batch.requests.length;
      const error = new WorkerCrashError(
        `inference worker ${handle.index} exited unexpectedly with code ${code}${cause} while running inputs ${describeFeeds(batch.inputs)}`,
      );
      for (const request of batch.requests) this.settle(request, error);
    }
    if (this.live.size === 0) {
      this.clearWake();
      this.failure = new WorkerCrashError(
        `every inference worker has exited (the last, worker ${handle.index}, with code ${code}${cause}); create a new executor`,
      );
      for (const request of this.queue.drain()) this.settle(request, this.failure);
      this.checkDrained();
      return;
    }
    this.pump();
    this.checkDrained();
  }
}
