/**
 * A deterministic stand-in for the served model, for testing the gate's decisions: workers on a
 * {@link VirtualClock} (one by default) that serve queued requests in batches (up to the serving
 * setting's maxBatchSize, first come first served), each batch taking the time a latency model
 * says. No server, no onnxruntime, no noise but the noise the model describes.
 */
import { type GateExecutor, type ServingSetting, type StartExecutor } from '../../lib/gate/bench-environment';
import { type VirtualClock } from './virtual-clock';

/**
 * How long a batch of `rows` requests takes when the worker starts it at `startMs` (virtual ms);
 * `index` counts the batches this executor started, from 0. A function of the start time describes
 * a machine whose speed changes (a noisy neighbour, stalls); one of the index, an exact pattern of
 * slow requests (every 100th, say), so tests control order statistics exactly.
 */
export type LatencyModel = (rows: number, startMs: number, index: number) => number;

/** `fixedMs` per batch plus `perRowMs` per request in it, at any time. */
export function serviceTime(fixedMs: number, perRowMs = 0): LatencyModel {
  return (rows) => fixedMs + perRowMs * rows;
}

/** What the fake answers: how long the request queued, the batch's time and size. */
export interface FakeAnswer {
  readonly queueMs: number;
  readonly inferMs: number;
  readonly batchRows: number;
}

interface Waiting {
  readonly queuedAt: number;
  readonly resolve: (answer: FakeAnswer) => void;
  readonly reject: (error: Error) => void;
}

/** What a fake executor reports besides its answers. */
export interface FakeExecutorOptions {
  /** Requests fail with this error (from the `failFrom`-th on). */
  readonly failure?: Error;
  /** How many requests are served before `failure` starts. @default 0 */
  readonly failFrom?: number;
  /** Process start to ready, ms. @default 100 */
  readonly readyMs?: number;
  /** Its peak memory, bytes. @default 0 */
  readonly peakMemoryBytes?: number;
  /**
   * Batches served at once. `Infinity` serves every request as it arrives, so each one takes
   * exactly what the latency model says for it, however many are in flight. @default 1
   */
  readonly workers?: number;
}

/**
 * Workers (one by default) behind an unbounded queue. When a worker is free it takes everything
 * queued, up to `maxBatchSize` requests, as one batch (it does not wait for a batch to fill).
 */
export class FakeExecutor implements GateExecutor {
  private readonly queue: Waiting[] = [];
  private busy = 0;
  private closed = false;
  private batches = 0;
  /** Requests answered so far. */
  answered = 0;
  /** Every batch started: when, how long it takes and its requests, in start order. */
  readonly batchLog: Array<{ readonly startMs: number; readonly inferMs: number; readonly rows: number }> =
    [];
  readonly readyMs: number;
  private readonly peakBytes: number;
  private readonly failure?: Error;
  private readonly failFrom: number;
  private requests = 0;
  private readonly workers: number;

  constructor(
    private readonly clock: VirtualClock,
    private readonly latency: LatencyModel,
    private readonly maxBatchSize = 1,
    options: FakeExecutorOptions = {},
  ) {
    this.readyMs = options.readyMs ?? 100;
    this.peakBytes = options.peakMemoryBytes ?? 0;
    this.failure = options.failure;
    this.failFrom = options.failFrom ?? 0;
    this.workers = options.workers ?? 1;
  }

  infer(): Promise<FakeAnswer> {
    if (this.closed) return Promise.reject(new Error('the executor is closed'));
    if (this.failure && this.requests++ >= this.failFrom) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ queuedAt: this.clock.now(), resolve, reject });
      this.dispatch();
    });
  }

  peakMemoryBytes(): number {
    return this.peakBytes;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const waiting of this.queue.splice(0)) waiting.reject(new Error('the executor is closed'));
    return Promise.resolve();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private dispatch(): void {
    while (this.busy < this.workers && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatchSize);
      const start = this.clock.now();
      const inferMs = this.latency(batch.length, start, this.batches++);
      this.batchLog.push({ startMs: start, inferMs, rows: batch.length });
      this.busy++;
      this.clock.at(start + inferMs, () => {
        this.busy--;
        for (const request of batch) {
          this.answered++;
          request.resolve({ queueMs: start - request.queuedAt, inferMs, batchRows: batch.length });
        }
        this.dispatch();
      });
    }
  }
}

/** Executors started by {@link fakeExecutors}, with the setting the gate started each with. */
export interface FakeExecutors {
  readonly startExecutor: StartExecutor;
  readonly started: Array<{ readonly setting: ServingSetting; readonly executor: FakeExecutor }>;
}

/**
 * A `startExecutor` for the gate's search that starts fake executors with the batch size the
 * setting asks for, and records each (setting and executor) for the test to inspect.
 */
export function fakeExecutors(
  clock: VirtualClock,
  latency: LatencyModel,
  options: {
    readonly failure?: Error;
    readonly failFrom?: number;
    readonly readyMs?: number;
    /** Batches each executor serves at once (see {@link FakeExecutorOptions.workers}). @default 1 */
    readonly workers?: number;
    /** The peak memory a server with this setting reports, bytes. @default 0 */
    readonly peakMemoryBytes?: (setting: ServingSetting) => number;
  } = {},
): FakeExecutors {
  const started: FakeExecutors['started'] = [];
  return {
    started,
    startExecutor: (setting) => {
      const executor = new FakeExecutor(clock, latency, setting.maxBatchSize, {
        ...(options.failure ? { failure: options.failure } : {}),
        ...(options.failFrom !== undefined ? { failFrom: options.failFrom } : {}),
        ...(options.readyMs !== undefined ? { readyMs: options.readyMs } : {}),
        ...(options.workers !== undefined ? { workers: options.workers } : {}),
        peakMemoryBytes: options.peakMemoryBytes?.(setting) ?? 0,
      });
      started.push({ setting, executor });
      return Promise.resolve(executor);
    },
  };
}
