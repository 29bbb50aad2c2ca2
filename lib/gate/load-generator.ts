/**
 * Load generators that drive a target (the served model over HTTP, or a fake in tests) the way
 * traffic would:
 * - closed loop: one client, the next request when the last answered (a lone request's latency);
 * - open loop: Poisson arrivals at a fixed rate, latency counted from each request's scheduled
 *   send time, so a slow server cannot hide queueing by slowing the sender (no coordinated
 *   omission), sent until a stop rule or a time limit, then drained.
 * Both read and wait on a {@link Clock}: the process's by default, a virtual one in tests.
 */
import { type Clock, type InferTarget, realClock } from './bench-environment';

export interface LoadResult {
  /** End-to-end latency of every completed request, ms, in completion order. */
  readonly latenciesMs: number[];
  /** Completion time of each latency, ms after the start (open loop: after the lead-in). */
  readonly completedAtMs: number[];
  /** Requests sent (open loop: the lead-in's too). */
  readonly sent: number;
  /** Requests that failed (an error answer, a lost connection, or no answer by the end of the drain). */
  readonly failed: number;
  /** Requests in flight when an `'abandon'` stopped the run: neither answered nor failed. */
  readonly abandoned: number;
  /**
   * Open loop: how long each request still unanswered at the end of the drain had waited, ms (they
   * are among `failed`). Their latency is at least that: a caller may count them as such.
   */
  readonly unansweredMs: number[];
  /** Settles when no request of this run is in flight any more (abandoned ones included). */
  readonly idle: Promise<void>;
  /** Open loop: requests answered later than `lateAfterMs` after the sending stopped (backlog left behind). */
  readonly late: number;
  /** How long requests were sent, ms. */
  readonly sendingMs: number;
  /** Wall time from the first send to the last completion, ms. */
  readonly elapsedMs: number;
  /** Open loop: requests (after the lead-in) sent later than `lagToleranceMs` after their scheduled time. */
  readonly lateSends: number;
  /** Open loop: the most a request (after the lead-in) was sent after its scheduled time, ms. */
  readonly maxSendLagMs: number;
  /** Open loop: how late each request in `latenciesMs` was sent after its scheduled time, ms, in the same order. */
  readonly sendLagsMs?: number[];
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
  durationMs: number,
  minRequests = 1,
  clock: Clock = realClock,
): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  const completedAtMs: number[] = [];
  const start = clock.now();
  let now = start;
  while (now - start < durationMs || latenciesMs.length < minRequests) {
    const sent = clock.now();
    await target.infer();
    now = clock.now();
    latenciesMs.push(now - sent);
    completedAtMs.push(now - start);
  }
  const elapsedMs = now - start;
  return {
    latenciesMs,
    completedAtMs,
    sent: latenciesMs.length,
    failed: 0,
    abandoned: 0,
    unansweredMs: [],
    late: 0,
    sendingMs: elapsedMs,
    elapsedMs,
    lateSends: 0,
    maxSendLagMs: 0,
    idle: Promise.resolve(),
  };
}

/** How an open-loop run is paced and when it stops. */
export interface OpenLoopOptions {
  /** Mean arrivals per second (a Poisson process). */
  readonly ratePerSecond: number;
  /** The longest it sends, ms. */
  readonly maxDurationMs: number;
  /** Uniform random numbers in [0, 1) for the gaps (seeded: the same arrivals in every run). */
  readonly random: () => number;
  /** How long to wait for answers after sending stopped, ms; later answers count as failed. */
  readonly drainMs: number;
  /** Answers later than this after sending stopped count as `late`. @default drainMs */
  readonly lateAfterMs?: number;
  /**
   * The first ms of sending, whose answers are not recorded (failures still count): the server and
   * this process come out of the phase before (a saturated load, a lone client) with their own
   * state to settle, and a stall it leaves is not the rate's doing. The sending time `stopWhen`
   * sees starts after it. @default 0
   */
  readonly leadInMs?: number;
  /**
   * A request sent more than this after its scheduled time is a `lateSends`: this process fell
   * behind the schedule (its own CPU, a garbage collection) and then sent the overdue requests in a
   * burst the clients would not have made. @default 2
   */
  readonly lagToleranceMs?: number;
  /**
   * Asked every `checkEveryMs` while sending, with the latencies so far and the time sent: `'stop'`
   * stops the sending (then the drain); `'abandon'` stops it and does not wait for what is in
   * flight (the result is decided: those answers are dropped, neither counted nor failed).
   * @default never: sends for maxDurationMs
   */
  readonly stopWhen?: (
    latenciesMs: readonly number[],
    sendingMs: number,
    failed: number,
  ) => 'stop' | 'abandon' | undefined;
  /** @default 100 */
  readonly checkEveryMs?: number;
  /** @default the process clock */
  readonly clock?: Clock;
}

/**
 * Sends requests with exponentially distributed gaps at `ratePerSecond` until `stopWhen` says so
 * or `maxDurationMs` passes, then waits for the answers (at most `drainMs`). A server that keeps
 * up leaves no backlog behind; one that does not leaves a queue that answers `late`.
 */
export async function openLoop(target: InferTarget, options: OpenLoopOptions): Promise<LoadResult> {
  const clock = options.clock ?? realClock;
  const { ratePerSecond, random, drainMs } = options;
  const lateAfterMs = options.lateAfterMs ?? drainMs;
  const checkEveryMs = options.checkEveryMs ?? 100;
  const leadInMs = options.leadInMs ?? 0;
  const lagToleranceMs = options.lagToleranceMs ?? 2;
  const latenciesMs: number[] = [];
  const completedAtMs: number[] = [];
  const sendLagsMs: number[] = [];
  const gapMs = () => (-Math.log(1 - random()) * 1000) / ratePerSecond;
  let sent = 0;
  let failed = 0;
  let late = 0;
  let maxSendLagMs = 0;
  let lateSends = 0;
  let firstError: string | undefined;
  let inFlight = 0;
  const outstanding = new Map<number, number>(); // the requests in flight: id → scheduled time
  let becameIdle: () => void = () => undefined;
  const idle = new Promise<void>((resolve) => (becameIdle = resolve));
  let lastCompletion = 0;
  let closed = false; // answers after the drain are not counted (they were already counted as failed)
  let sendingMs = options.maxDurationMs;
  let abandon = false;
  const start = clock.now();
  let next = start + gapMs();
  const settle = (id: number) => {
    outstanding.delete(id);
    if (outstanding.size === 0 && closed) becameIdle();
  };
  const send = (scheduled: number, now: number) => {
    const lag = now - scheduled;
    if (scheduled - start >= leadInMs) {
      if (lag > maxSendLagMs) maxSendLagMs = lag;
      if (lag > lagToleranceMs) lateSends++;
    }
    const id = sent++;
    inFlight++;
    outstanding.set(id, scheduled);
    target.infer().then(
      () => {
        settle(id);
        if (closed) return;
        const done = clock.now();
        if (done - start > sendingMs + lateAfterMs) late++;
        if (scheduled - start >= leadInMs) {
          latenciesMs.push(done - scheduled);
          completedAtMs.push(done - start - leadInMs);
          sendLagsMs.push(lag);
        }
        lastCompletion = done;
        inFlight--;
      },
      (error: unknown) => {
        settle(id);
        if (closed) return;
        failed++;
        firstError ??= error instanceof Error ? error.message : String(error);
        inFlight--;
      },
    );
  };
  await new Promise<void>((resolve, reject) => {
    let nextCheck = start + checkEveryMs;
    const tick = () => {
      try {
        step();
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const step = () => {
      const now = clock.now();
      while (next <= now && next - start < sendingMs) {
        send(next, now);
        next += gapMs();
      }
      if (options.stopWhen && now >= nextCheck && now - start >= leadInMs) {
        nextCheck = now + checkEveryMs;
        const verdict = options.stopWhen(latenciesMs, now - start - leadInMs, failed);
        if (verdict !== undefined) sendingMs = now - start;
        abandon = verdict === 'abandon';
      }
      if (next - start >= sendingMs) {
        sendingMs = Math.min(sendingMs, Math.max(now, next) - start);
        resolve();
        return;
      }
      // Timers have ~1 ms resolution: wake a little early and send whatever is due.
      void clock.sleep(Math.max(0, Math.min(next, nextCheck) - clock.now() - 1)).then(tick);
    };
    tick();
  });
  sendingMs = Math.min(sendingMs, clock.now() - start);
  const drainUntil = clock.now() + (abandon ? 0 : drainMs);
  while (inFlight > 0 && clock.now() < drainUntil) {
    await clock.sleep(1);
  }
  closed = true;
  if (outstanding.size === 0) becameIdle();
  const abandoned = abandon ? inFlight : 0;
  const endedAt = clock.now();
  const unansweredMs = abandon ? [] : [...outstanding.values()].map((scheduled) => endedAt - scheduled);
  if (!abandon) failed += inFlight; // still unanswered after the drain: too slow to count as served
  return {
    latenciesMs,
    completedAtMs,
    sent,
    failed,
    abandoned,
    unansweredMs,
    late,
    sendingMs,
    elapsedMs: Math.max(lastCompletion, start + sendingMs) - start,
    lateSends,
    maxSendLagMs,
    sendLagsMs,
    idle,
    ...(firstError !== undefined ? { firstError } : {}),
  };
}
