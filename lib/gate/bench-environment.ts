/**
 * What the gate's performance measurements run on: a clock to read and to wait on, and a way to
 * start the served model with one serving setting. The benchmark worker uses the real ones (the
 * monotonic process clock, `setTimeout`, the server process loaded over HTTP); tests pass a
 * virtual clock and a fake whose latency they control, so the gate's search and confidence
 * decisions are checked without measuring anything.
 */

/** Time as the load generators and the search read it. */
export interface Clock {
  /** Monotonic time, ms. */
  now(): number;
  /** Resolves once `ms` have passed on this clock; at least 1 ms, as `setTimeout` waits. */
  sleep(ms: number): Promise<void>;
}

/** What the load generators need of a target: one request at a time (its inputs are the target's). */
export interface InferTarget {
  infer(): Promise<unknown>;
}

/** The serving settings the search tries, as the Deployment's environment sets them. */
export interface ServingSetting {
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
}

/** A served model the search started: requests, its peak memory, closing it. */
export interface GateExecutor extends InferTarget {
  /** Process start to ready, ms (the pod's cold start). */
  readonly readyMs: number;
  /** Peak memory of the server so far, bytes. */
  peakMemoryBytes(): number;
  close(): Promise<void>;
}

/** Starts the served model with one serving setting. */
export type StartExecutor = (setting: ServingSetting) => Promise<GateExecutor>;

/** The clock and the served models a measurement uses. */
export interface BenchEnvironment {
  readonly clock: Clock;
  readonly startExecutor: StartExecutor;
}

/** The process's monotonic clock (`process.hrtime`) and `setTimeout`. */
export const realClock: Clock = {
  now: () => Number(process.hrtime.bigint()) / 1e6,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
