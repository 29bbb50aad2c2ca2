/**
 * Load generators that drive the runtime executor the way traffic would:
 * - closed loop: one client, the next request when the last answered (latency of single requests);
 * - open loop: Poisson arrivals at a fixed rate, latency counted from each request's scheduled
 *   send time, so a slow server cannot hide queueing by slowing the sender (no coordinated omission).
 * Both read and wait on a {@link Clock}: the process's by default, a virtual one in tests.
 */
import { type TensorData } from '../runtime';
import { type Clock, type InferTarget, realClock } from './bench-environment';

/** A source of request inputs (seeded random tensors or dataset rows, cycled). */
export type InputSource = () => Record<string, TensorData>;

export interface LoadResult {
  /** End-to-end latency of every completed request, ms. */
  readonly latenciesMs: number[];
  /** Requests sent. */
  readonly sent: number;
  /** Requests that failed (queue full, timeout, error). */
  readonly failed: number;
  /** Open loop: requests answered later than `lateAfterMs` after the sending stopped (backlog left behind). */
  readonly late: number;
  /** Wall time from the first send to the last completion, ms. */
  readonly elapsedMs: number;
  /** The first failure's message, if any. */
  readonly firstError?: string;
}

/** The process's monotonic clock, ms. */
export function nowMs(): number {
  return realClock.now();
}

/** Runs requests one after another for `durationMs` (at least `minRequests`). Errors propagate. */
export async function closedLoop(
  target: InferTarget,
  nextInput: InputSource,
  durationMs: number,
  minRequests = 1,
  clock: Clock = realClock,
): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const start = clock.now();
  let now = start;
  while (now - start < durationMs || latenciesMs.length < minRequests) {
    const inputs = nextInput();
    const sent = clock.now();
    await target.infer(inputs);
    now = clock.now();
    latenciesMs.push(now - sent);
  }
  return { latenciesMs, sent: latenciesMs.length, failed: 0, late: 0, elapsedMs: now - start };
}

/**
 * Sends requests with exponentially distributed gaps (a Poisson process at `ratePerSecond`) for
 * `durationMs`, then waits for the answers (at most `drainMs`; later answers count as failed).
 * Answers more than `lateAfterMs` after the sending stopped count as `late`: a server that keeps
 * up leaves no backlog behind, one that does not leaves a queue that drains slowly.
 */
export async function openLoop(
  target: InferTarget,
  nextInput: InputSource,
  ratePerSecond: number,
  durationMs: number,
  random: () => number,
  drainMs: number,
  lateAfterMs = drainMs,
  clock: Clock = realClock,
): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const gapMs = () => (-Math.log(1 - random()) * 1000) / ratePerSecond;
  let sent = 0;
  let failed = 0;
  let late = 0;
  let firstError: string | undefined;
  let inFlight = 0;
  let lastCompletion = 0;
  let closed = false; // answers after the drain are not counted (they were already counted as failed)
  const start = clock.now();
  let next = start + gapMs();
  const send = (scheduled: number) => {
    sent++;
    inFlight++;
    target.infer(nextInput()).then(
      () => {
        if (closed) return;
        const done = clock.now();
        latenciesMs.push(done - scheduled);
        if (done - start > durationMs + lateAfterMs) late++;
        lastCompletion = done;
        inFlight--;
      },
      (error: unknown) => {
        if (closed) return;
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
        inFlight--;
      },
    );
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = clock.now();
      while (next <= now && next - start < durationMs) {
        send(next);
        next += gapMs();
      }
      if (next - start >= durationMs) {
        resolve();
        return;
      }
      // Timers have ~1 ms resolution: wake a little early and send whatever is due.
      void clock.sleep(Math.max(0, next - clock.now() - 1)).then(tick);
    };
    tick();
  });
  const drainUntil = clock.now() + drainMs;
  while (inFlight > 0 && clock.now() < drainUntil) {
    await clock.sleep(1);
  }
  closed = true;
  failed += inFlight; // still unanswered after the drain: too slow to count as served
  return {
    latenciesMs,
    sent,
    failed,
    late,
    elapsedMs: Math.max(lastCompletion, start + durationMs) - start,
    ...(firstError !== undefined ? { firstError } : {}),
  };
}
