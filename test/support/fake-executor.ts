/**
 * A deterministic stand-in for the runtime executor, for testing the gate's decisions: one worker
 * on a {@link VirtualClock} that serves queued requests in batches (up to the batch setting's
 * maxBatchSize, first come first served), each batch taking the time a latency model says. No
 * onnxruntime, no threads, no noise but the noise the model describes.
 */
import { type GateExecutor, type StartExecutor } from '../../lib/gate/bench-environment';
import { type ExecutorOptions, type InferResult } from '../../lib/runtime';
import { type VirtualClock } from './virtual-clock';

/**
 * How long a batch of `rows` requests takes when the worker starts it at `startMs` (virtual ms).
 * A function of the start time describes a machine whose speed changes (a noisy neighbour, stalls).
 */
export type LatencyModel = (rows: number, startMs: number) => number;

/** `fixedMs` per batch plus `perRowMs` per request in it, at any time. */
export function serviceTime(fixedMs: number, perRowMs = 0): LatencyModel {
  return (rows) => fixedMs + perRowMs * rows;
}

interface Waiting {
  readonly queuedAt: number;
  readonly resolve: (result: InferResult) => void;
  readonly reject: (error: Error) => void;
}

/**
 * One worker behind an unbounded queue. When the worker is free it takes everything queued, up
 * to `maxBatchSize` requests, as one batch (it does not wait for a batch to fill).
 */
export class FakeExecutor implements GateExecutor {
  private readonly queue: Waiting[] = [];
  private busy = false;
  private closed = false;
  /** Requests answered so far. */
  answered = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly latency: LatencyModel,
    private readonly maxBatchSize = 1,
    private readonly failure?: Error,
  ) {}

  infer(): Promise<InferResult> {
    if (this.closed) return Promise.reject(new Error('the executor is closed'));
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ queuedAt: this.clock.now(), resolve, reject });
      this.dispatch();
    });
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
    if (this.busy || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.maxBatchSize);
    const start = this.clock.now();
    const inferMs = this.latency(batch.length, start);
    this.busy = true;
    this.clock.at(start + inferMs, () => {
      this.busy = false;
      for (const request of batch) {
        this.answered++;
        request.resolve({ outputs: {}, queueMs: start - request.queuedAt, inferMs, batchRows: batch.length });
      }
      this.dispatch();
    });
  }
}

/** Executors started by {@link fakeExecutors}, with the options the gate started them with. */
export interface FakeExecutors {
  readonly startExecutor: StartExecutor;
  readonly started: Array<{ readonly options: ExecutorOptions; readonly executor: FakeExecutor }>;
}

/**
 * A `startExecutor` for the throughput search that starts fake executors with the batch size the
 * gate asks for, and records each (options and executor) for the test to inspect.
 */
export function fakeExecutors(
  clock: VirtualClock,
  latency: LatencyModel,
  options: { readonly failure?: Error } = {},
): FakeExecutors {
  const started: FakeExecutors['started'] = [];
  return {
    started,
    startExecutor: (executorOptions) => {
      const executor = new FakeExecutor(
        clock,
        latency,
        executorOptions.batching?.maxBatchSize ?? 1,
        options.failure,
      );
      started.push({ options: executorOptions, executor });
      return Promise.resolve(executor);
    },
  };
}
