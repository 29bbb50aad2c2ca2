/**
 * What the gate's performance measurements run on: a clock to read and to wait on, and a way to
 * start an executor. The benchmark worker uses the real ones (the monotonic process clock,
 * `setTimeout`, the lib/runtime {@link Executor}); tests pass a virtual clock and a fake executor
 * whose latency they control, so the gate's search and stability decisions are checked without
 * measuring anything.
 */
import { Executor, type ExecutorOptions, type InferResult, type TensorData } from '../runtime';

/** Time as the load generators and the search read it. */
export interface Clock {
  /** Monotonic time, ms. */
  now(): number;
  /** Resolves once `ms` have passed on this clock; at least 1 ms, as `setTimeout` waits. */
  sleep(ms: number): Promise<void>;
}

/** What the load generators need of an executor: requests. */
export interface InferTarget {
  infer(inputs: Record<string, TensorData>): Promise<InferResult>;
}

/** What the throughput search needs of an executor it starts: requests, and closing it. */
export interface GateExecutor extends InferTarget {
  close(): Promise<void>;
}

/** Starts an executor for one batch setting of the throughput search. */
export type StartExecutor = (options: ExecutorOptions) => Promise<GateExecutor>;

/** The clock and the executors a measurement uses. */
export interface BenchEnvironment {
  readonly clock: Clock;
  readonly startExecutor: StartExecutor;
  /**
   * The process's peak resident memory so far, bytes: what the throughput search forecasts the
   * next batch setting's memory from.
   * @default the benchmark process's `maxRSS`
   */
  readonly peakResidentBytes?: () => number;
}

/** The benchmark process's peak resident memory, bytes. */
export function processPeakResidentBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** The process's monotonic clock (`process.hrtime`) and `setTimeout`. */
export const realClock: Clock = {
  now: () => Number(process.hrtime.bigint()) / 1e6,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** What the benchmark worker measures with: the real clock and onnxruntime executors. */
export const realEnvironment: BenchEnvironment = {
  clock: realClock,
  startExecutor: (options) => Executor.create(options),
  peakResidentBytes: processPeakResidentBytes,
};
