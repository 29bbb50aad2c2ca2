/**
 * What an executor is built with and what one request may ask of it, and how the options
 * are checked and completed with their defaults before anything starts.
 */
import path from 'node:path';
import { type ResourceLimits } from 'node:worker_threads';
import { EXECUTION_PROVIDERS, type ExecutionProvider, show } from '../core';
import { type ModelInfo, inspectModel } from '../model';
import { availableCpus } from './available-cpus';
import { type BatchPolicy } from './batch-queue';
import { type InlineMode } from './inline-choice';

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
  /** onnxruntime's execution provider of every session (see `executionProvidersFor`). @default 'cpu' */
  readonly executionProvider?: ExecutionProvider;
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
  /**
   * Whether small requests of a very fast model may run on the calling thread instead of a
   * worker: `auto` loads a session on this thread too, measures a run and a worker hand-off once
   * the workers are up, and runs inline when the model's run is the cheaper and at most a few tens
   * of µs (see inline-choice.ts; {@link Executor.execution} says what was chosen and why);
   * `never` always uses the workers; `always` runs small requests inline without measuring (for
   * tests, and models known to be tiny).
   * @default 'never'
   */
  readonly inline?: InlineMode;
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

/** {@link ExecutorOptions} checked, with their defaults applied. */
export interface ResolvedExecutorOptions {
  /** The model file, an absolute path. */
  readonly modelPath: string;
  readonly model: ModelInfo;
  readonly workers: number;
  readonly intraOpThreads: number;
  readonly executionProvider: ExecutionProvider;
  readonly maxQueueSize: number;
  /** The polling budget in effect, ms: `spinMs`, or 0 when there is no CPU to spare for it. */
  readonly spinMs: number;
  /** The batching in effect: undefined when batching is off or the model is not batchable. */
  readonly batching: BatchPolicy | undefined;
  readonly inline: InlineMode;
}

const DEFAULTS = { workers: 1, intraOpThreads: 1, maxQueueSize: 1024, spinMs: 0.5 } as const;

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

/**
 * Checks `options`, applies the defaults, decides whether polling and batching are used, and
 * inspects the model file when `options.model` is not given.
 * @throws RangeError for invalid options
 * @throws ModelFileError when the model file cannot be read or parsed
 */
export function resolveExecutorOptions(options: ExecutorOptions): ResolvedExecutorOptions {
  const workers = options.workers ?? DEFAULTS.workers;
  const intraOpThreads = options.intraOpThreads ?? DEFAULTS.intraOpThreads;
  const maxQueueSize = options.maxQueueSize ?? DEFAULTS.maxQueueSize;
  const spinMs = options.spinMs ?? DEFAULTS.spinMs;
  const inline = options.inline ?? 'never';
  if (inline !== 'auto' && inline !== 'never' && inline !== 'always') {
    throw new RangeError(`inline must be 'auto', 'never' or 'always', received ${show(inline)}`);
  }
  const executionProvider = options.executionProvider ?? 'cpu';
  if (!(EXECUTION_PROVIDERS as readonly unknown[]).includes(executionProvider)) {
    throw new RangeError(
      `executionProvider must be one of ${EXECUTION_PROVIDERS.join(', ')}, received ${show(executionProvider)}`,
    );
  }
  checkInteger('workers', workers, 1);
  checkInteger('intraOpThreads', intraOpThreads, 1);
  checkInteger('maxQueueSize', maxQueueSize, 1);
  checkNonNegative('spinMs', spinMs);
  const cpus = options.cpus ?? availableCpus();
  if (typeof cpus !== 'number' || !(cpus > 0)) {
    throw new RangeError(`cpus must be a positive number, received ${show(cpus)}`);
  }
  if (options.batching) {
    checkInteger('batching.maxBatchSize', options.batching.maxBatchSize, 1);
    checkNonNegative('batching.maxQueueDelayMs', options.batching.maxQueueDelayMs);
  }
  const modelPath = path.resolve(options.modelPath);
  const model = options.model ?? inspectModel(modelPath);
  return {
    modelPath,
    model,
    workers,
    intraOpThreads,
    executionProvider,
    maxQueueSize,
    spinMs: cpus >= workers * intraOpThreads + 1 ? spinMs : 0,
    batching:
      options.batching && options.batching.maxBatchSize > 1 && model.batchable ? options.batching : undefined,
    inline,
  };
}
