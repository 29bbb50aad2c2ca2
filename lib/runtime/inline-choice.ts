/**
 * Whether an executor runs a model's requests inline, on the calling (main) thread, instead of
 * handing them to a worker: a pure decision from measured times, so it can be tested with given
 * numbers.
 *
 * A hand-off to a worker costs a message, a doorbell (a futex wake-up that can take tens of µs on
 * a VM) and a reply through the event loop. For a model whose whole `session.run` takes less than
 * that, running it on the main thread answers sooner and uses less CPU. But `session.run` blocks
 * the main thread, which also answers health probes and metrics scrapes: inline is only for
 * models whose run is measured at a few tens of µs ({@link INLINE_LIMIT_MS}), and only for
 * requests about the size of the measured one ({@link INLINE_MAX_ELEMENTS_FACTOR}); every other
 * request still goes to a worker.
 */
import { type ModelInfo } from '../model';

/**
 * How an executor may run requests: `auto` measures and decides; `never` always uses workers;
 * `always` runs small requests inline without measuring (for tests, and models known to be tiny).
 */
export type InlineMode = 'auto' | 'never' | 'always';

/** A model whose measured `session.run` takes longer than this never runs inline, ms. */
export const INLINE_LIMIT_MS = 0.05;

/**
 * Models larger than this are not tried inline at all (no session is created on the main thread):
 * a model whose run takes tens of µs holds far fewer weights, each used at least once per run.
 */
export const INLINE_MAX_MODEL_BYTES = 4 * 1024 * 1024;

/** A request runs inline only when its inputs hold at most this many times the measured request's elements. */
export const INLINE_MAX_ELEMENTS_FACTOR = 8;

/** What the executor measured before it decides. */
export interface InlineMeasurement {
  /** Median `session.run` time on the main thread of the measured request, ms. */
  readonly inlineMs: number;
  /** Median cost of a worker hand-off: a worker's round trip less its `session.run` time, ms. */
  readonly handOffMs: number;
}

/** How the executor runs requests, and why. */
export type ExecutionChoice = {
  readonly mode: 'inline' | 'workers';
  readonly reason: string;
} & Partial<InlineMeasurement>;

/**
 * Why `model` is not tried inline at all, or undefined when it is a candidate to measure.
 */
export function inlineCandidateRefusal(mode: InlineMode, model: ModelInfo): string | undefined {
  if (mode === 'never') return 'inline execution is off';
  if (mode === 'always') return undefined;
  if (model.sizeBytes > INLINE_MAX_MODEL_BYTES) {
    return `the model file is ${model.sizeBytes} bytes, more than the ${INLINE_MAX_MODEL_BYTES} of a model fast enough to run inline`;
  }
  return undefined;
}

/**
 * Inline when the model's run is measured below both the worker hand-off and
 * {@link INLINE_LIMIT_MS}; workers otherwise. Even then only requests that arrive while the
 * executor is idle run inline; under load they queue for the workers (and batch, with batching on).
 */
export function chooseExecution(measured: InlineMeasurement): ExecutionChoice {
  const { inlineMs, handOffMs } = measured;
  const ms = (v: number) => `${(v * 1000).toFixed(1)} µs`;
  if (!(inlineMs <= INLINE_LIMIT_MS)) {
    return {
      mode: 'workers',
      reason: `a run takes ${ms(inlineMs)}, more than the ${ms(INLINE_LIMIT_MS)} the main thread may be blocked for`,
      ...measured,
    };
  }
  if (!(inlineMs < handOffMs)) {
    return {
      mode: 'workers',
      reason: `a run takes ${ms(inlineMs)}, no less than a worker hand-off (${ms(handOffMs)})`,
      ...measured,
    };
  }
  return {
    mode: 'inline',
    reason: `a run takes ${ms(inlineMs)}, less than a worker hand-off (${ms(handOffMs)})`,
    ...measured,
  };
}

/** The median of `values` (not empty). */
export function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
