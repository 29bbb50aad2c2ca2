/**
 * An open-loop HTTP load generator for the overload benchmark: requests arrive as a Poisson
 * process at a fixed rate, whatever the server does, the way independent users do. (A closed loop,
 * test/perf/http-load.ts, waits for each answer before the next request, so a slow server slows
 * the load down and its queueing never shows.)
 *
 * Latency is counted from each request's *scheduled* arrival time, not from when it could be
 * written: a request that waits for a connection, or for this process's event loop, waits as a
 * user would (no coordinated omission). The requests go out on a pool of raw keep-alive sockets
 * (one request per connection at a time, answers read by status and Content-Length, as in
 * http-load.ts): an arrival takes an idle connection, else opens a new one while under
 * `maxConnections`, else waits in a FIFO here, its clock running.
 *
 * Arrivals are sent by a tick that sends every arrival whose time has come; ticks run on timers
 * (node's are 1 ms coarse) and after every answer, so rates of tens of thousands per second
 * are sent in small bursts without a busy loop, which keeps the client's CPU figure meaningful.
 * The result reports how late arrivals were sent (`sendLagP99Ms`): a large lag means this
 * process, not the server, was the bottleneck.
 */
import { percentile } from '../../lib/gate';
import { uniformRandom } from '../../lib/runtime';
import {
  encodeHttpRequest,
  hostAndPort,
  type HttpRequestSpec,
  type RawAnswer,
  RawHttpConnection,
} from '../../lib/gate/http-client';

/** What to send and at what rate. */
export interface OpenLoopOptions extends HttpRequestSpec {
  /** Mean arrivals per second (a Poisson process). */
  readonly rate: number;
  /** How long to measure, after the warm-up, ms. */
  readonly durationMs: number;
  /** Load before the measurement, not measured, ms. @default 1000 */
  readonly warmUpMs?: number;
  /** The most connections open at once; arrivals beyond wait here, in order. @default 512 */
  readonly maxConnections?: number;
  /** Seed of the arrival times (lib/runtime's mulberry32: the same arrivals in every run). @default 1 */
  readonly seed?: number;
}

/** What one open-loop run measured, in the measured window (answers that came within it). */
export interface OpenLoopResult {
  /** The rate asked for. */
  readonly rate: number;
  /** The measured window, ms (`durationMs`). */
  readonly windowMs: number;
  /** Arrivals scheduled in the window, per second. */
  readonly offeredRps: number;
  /** 200 answers received in the window, per second. */
  readonly goodputRps: number;
  /** Answers received in the window by status (0: the connection failed or closed mid-answer). */
  readonly statuses: Readonly<Record<number, number>>;
  /** 429 answers that carried a Retry-After header. */
  readonly retryAfter429: number;
  /** Latency of the 200 answers, from the scheduled arrival to the last body byte, ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** How late this process wrote requests after their scheduled time (waits for a connection included), p99, ms. */
  readonly sendLagP99Ms: number;
  /** The most connections open at once. */
  readonly peakConnections: number;
  /** The most arrivals waiting here for a connection at once. */
  readonly peakWaiting: number;
  /** Requests unanswered when the run ended (in flight, or waiting for a connection); not counted above. */
  readonly pendingAtEnd: number;
  /** The CPU this process used during the window, in cores (1 = one core busy all the time). */
  readonly clientCpuCores: number;
  /** The body of the first 200 answer in the window, to check that the server answered what was meant. */
  readonly sampleBody: Buffer | undefined;
}

/**
 * Runs Poisson arrivals at `rate` for the warm-up and the measured window, then closes every
 * connection (whatever is still unanswered is `pendingAtEnd`) and returns the window's figures.
 */
export function httpOpenLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  if (!(options.rate > 0)) throw new Error(`httpOpenLoop: rate must be positive, received ${options.rate}`);
  const request = encodeHttpRequest(options);
  const { host, port } = hostAndPort(options.url);
  const maxConnections = options.maxConnections ?? 512;
  const random = uniformRandom(options.seed ?? 1);
  const meanGapMs = 1000 / options.rate;
  const gap = (): number => -Math.log(1 - random()) * meanGapMs;

  const start = performance.now();
  const warmUpEnd = start + (options.warmUpMs ?? 1000);
  const end = warmUpEnd + options.durationMs;

  const all: RawHttpConnection[] = [];
  const idle: RawHttpConnection[] = [];
  let waiting: number[] = [];
  let waitingHead = 0;
  let peakWaiting = 0;
  let inFlight = 0;
  let offered = 0;
  let retryAfter429 = 0;
  const statuses: Record<number, number> = {};
  const latencies: number[] = [];
  const sendLags: number[] = [];
  let sampleBody: Buffer | undefined;
  let stopped = false;
  let next = start + gap();
  let timer: NodeJS.Timeout | undefined;
  let cpuAtWindowStart: NodeJS.CpuUsage | undefined;
  let windowStartedAt = warmUpEnd;

  const fire = (connection: RawHttpConnection, scheduled: number): void => {
    const now = performance.now();
    if (scheduled >= warmUpEnd) sendLags.push(now - scheduled);
    inFlight++;
    connection.keepBodies = sampleBody === undefined && now >= warmUpEnd;
    connection.send(request, (answer) => onAnswer(connection, scheduled, answer));
  };

  const dispatch = (scheduled: number): void => {
    let connection = idle.pop();
    if (!connection && all.length < maxConnections) {
      connection = new RawHttpConnection(host, port);
      all.push(connection);
    }
    if (connection) {
      fire(connection, scheduled);
      return;
    }
    waiting.push(scheduled);
    peakWaiting = Math.max(peakWaiting, waiting.length - waitingHead);
  };

  /** Sends every arrival whose time has come. */
  const pump = (): void => {
    const now = performance.now();
    while (next <= now && next < end) {
      if (next >= warmUpEnd) offered++;
      dispatch(next);
      next += gap();
    }
  };

  const onAnswer = (connection: RawHttpConnection, scheduled: number, answer: RawAnswer): void => {
    inFlight--;
    if (stopped) return;
    const done = performance.now();
    if (done >= warmUpEnd) {
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      if (answer.status === 200) {
        latencies.push(done - scheduled);
        if (answer.body) sampleBody ??= answer.body;
      } else if (answer.status === 429 && answer.retryAfter) {
        retryAfter429++;
      }
    }
    if (waitingHead < waiting.length) {
      fire(connection, waiting[waitingHead++]);
      if (waitingHead > 4096 && waitingHead * 2 > waiting.length) {
        waiting = waiting.slice(waitingHead);
        waitingHead = 0;
      }
    } else {
      idle.push(connection);
    }
    pump();
  };

  return new Promise((resolve) => {
    const tick = (): void => {
      timer = undefined;
      if (stopped) return;
      pump();
      if (next >= end) return;
      timer = setTimeout(tick, Math.max(0, Math.floor(next - performance.now())));
    };
    const windowStart = setTimeout(
      () => {
        windowStartedAt = performance.now();
        cpuAtWindowStart = process.cpuUsage();
      },
      Math.max(0, warmUpEnd - performance.now()),
    );
    const stop = (): void => {
      pump(); // arrivals due before the end that a late timer has not sent yet: offered, and pending
      stopped = true;
      if (timer) clearTimeout(timer);
      clearTimeout(windowStart);
      const cpu = process.cpuUsage(cpuAtWindowStart);
      const cpuWindowMs = performance.now() - windowStartedAt;
      const pendingAtEnd = inFlight + (waiting.length - waitingHead);
      for (const connection of all) connection.close();
      latencies.sort((a, b) => a - b);
      sendLags.sort((a, b) => a - b);
      const seconds = options.durationMs / 1000;
      resolve({
        rate: options.rate,
        windowMs: options.durationMs,
        offeredRps: offered / seconds,
        goodputRps: latencies.length / seconds,
        statuses,
        retryAfter429,
        p50Ms: latencies.length ? percentile(latencies, 50) : NaN,
        p99Ms: latencies.length ? percentile(latencies, 99) : NaN,
        maxMs: latencies.length ? latencies[latencies.length - 1] : NaN,
        sendLagP99Ms: sendLags.length ? percentile(sendLags, 99) : NaN,
        peakConnections: all.length,
        peakWaiting,
        pendingAtEnd,
        clientCpuCores: cpuWindowMs > 0 ? (cpu.user + cpu.system) / 1000 / cpuWindowMs : 0,
        sampleBody,
      });
    };
    setTimeout(stop, Math.max(0, end - performance.now()));
    tick();
  });
}
