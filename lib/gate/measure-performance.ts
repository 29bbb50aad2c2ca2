/**
 * The performance half of the gate, on the served path: the server the image runs is started inside
 * the pod's limits and loaded over loopback HTTP by this process. Every batch size is probed for its
 * saturated capacity; on the best one, the highest Poisson rate whose p99 is shown within the latency
 * bound, with the gate's confidence, is the capacity (a lower bound where this process could not keep
 * to the arrival schedule of the next rate). On the chosen setting: a lone request's latency and the
 * latency at the planned operating rate, until each threshold is decided. The clock and the served
 * model come from a {@link BenchEnvironment}, so the decisions can be tested against a latency model
 * on a virtual clock.
 */
import { type GateSpec } from '../core';
import { type ModelInfo } from '../model';
import { uniformRandom } from '../runtime';
import {
  type BenchEnvironment,
  type Clock,
  type GateExecutor,
  type InferTarget,
  realClock,
  type ServingSetting,
} from './bench-environment';
import {
  type CountAtOrBelow,
  decideAtMost,
  decideAtMostFromCounts,
  type Decision,
  quantileBounds,
  samplesForUpperBound,
} from './confidence';
import {
  type BatchSettingResult,
  type GateMeasurements,
  type LatencyMeasurement,
  type LatencyStats,
  type PercentileBounds,
  type ThroughputMeasurement,
  type WindowStats,
} from './gate-report';
import { closedLoop, openLoop } from './load-generator';
import {
  exceedsMemory,
  forecastPeakBytes,
  type MemoryObservation,
  type SkippedBatchSetting,
} from './memory-forecast';
import { latencyStats, logHistogram, stability, windowStats } from './statistics';

export type Progress = (message: string) => void;

/** Windows compared for stability, and the relative spread within which they agree. */
const STABILITY = { compare: 3, tolerance: 0.1 } as const;
/** The smallest resolution: the scale at which a shared VM's own noise lives (a few µs flips). */
const MIN_RESOLUTION_MS = 0.02;
/** The resolution as a share of the latency bound: below it, no verdict on the bound can turn. */
const BOUND_RESOLUTION_SHARE = 0.01;

/**
 * How closely measurement windows must agree to be stable: within 10%, or within the measurement's
 * resolution, which is 1% of the latency bound the gate judges (at least 20 µs). Windows of a
 * 0.1 ms model that flip between 0.10 and 0.12 ms on a shared CI runner disagree by 20%, yet by
 * 1/1000 of a 20 ms bound: no verdict can depend on that, and failing the gate on it would only
 * make synth flaky. A model measured close to its bound still has to agree within 10%.
 */
export function stabilityFor(latencyBoundMs: number) {
  return {
    ...STABILITY,
    resolutionMs: Math.max(MIN_RESOLUTION_MS, latencyBoundMs * BOUND_RESOLUTION_SHARE),
  };
}
/** The confidence every decision is made with. */
export const CONFIDENCE = 0.95;
/** Expected requests per check of a trial's stop rule: decisions are not re-taken on every answer. */
const REQUESTS_PER_CHECK = 50;
/** The least time one serving setting needs: a server start, a warm-up, the capacity and a trial or two. */
export const MIN_SETTING_MS = 900;
/**
 * The least time load runs before a `within` counts: ten periods of a CFS quota (100 ms each). A
 * server that uses its quota early in a period is stopped for the rest of it, and its p99 shows
 * those stalls only over several periods: shorter trials held rates whose p99, measured longer at a
 * lower rate, was twice the bound.
 */
const SHORTEST_VERDICT_MS = 1000;
/**
 * The start of every trial whose answers are not judged: three quota periods. Coming out of a
 * saturated load, a server (or this process) stalls once for 100-200 ms (a garbage collection, a
 * queue to drain); judged, that stall failed Iris at 70% of its capacity in one trial of two, and
 * the same rate held in the next trial on the same server.
 */
const TRIAL_LEAD_IN_MS = 300;
/** The least time the operating rate is measured for, where the budget allows: thirty quota periods. */
const OPERATING_MIN_MS = 3000;
/** The least time load runs before a `beyond` counts: three quota periods. */
const SHORTEST_BEYOND_MS = 300;
/** A CFS quota's period (the kubelet's): a server over its quota is stopped until the next one. */
const QUOTA_PERIOD_MS = 100;
/** Time kept for stopping a server (SIGTERM, drain, exit) at the end of a phase. */
const CLOSE_RESERVE_MS = 150;
/**
 * Fractions of the saturated capacity tried as offered rates: down from 0.7 until one holds, then
 * up from the held one while the budget allows a trial to decide. Not to the capacity itself: a
 * queue fed at its service rate has no steady state, so a short trial that holds it proves nothing.
 */
const RATE_STEPS = { down: [0.7, 0.55, 0.4, 0.25, 0.1], up: [0.85, 0.95] } as const;
/** The rate search halves the gap between a held rate and a refused one while it is wider than this share of the capacity. */
const BISECT_UNTIL = 0.03;
/**
 * The share of the search's budget that probes the batch sizes' saturated capacities; the rest
 * warms the best one and buys its rate search the trials.
 */
const PROBE_SHARE = 0.3;
/** The least time a probe measures for (lone requests, warm-up, saturated capacity), after its server is ready. */
const MIN_PROBE_MS = 600;
/** The most a probe measures for: a large budget goes to the rate search. */
const MAX_PROBE_MS = 2500;

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/**
 * Clients a closed loop keeps outstanding to saturate a setting: two batches and some, so a full
 * batch waits whenever one completes. (Four batches served Iris a few percent more, but a closed
 * loop waits for every request in flight at its end: with a 100 ms model at batch 32, each reading
 * then ran seconds past its time.)
 */
export function saturatingClients(setting: ServingSetting): number {
  return 2 * setting.maxBatchSize + 6;
}

/** The batch sizes the search tries: 1, then ×4 up to maxBatchSize, and maxBatchSize, when dim 0 is a batch dim. */
export function batchSettings(model: ModelInfo, maxBatchSize: number): number[] {
  if (!model.batchable) return [1];
  const settings: number[] = [];
  for (let size = 1; size <= maxBatchSize; size *= 4) settings.push(size);
  if (settings[settings.length - 1] !== maxBatchSize) settings.push(maxBatchSize);
  return settings;
}

/**
 * The batch sizes a budget affords at `settingMs` each: all of them when it can, else the largest
 * (batching is what raises capacity), then the smallest, then the middle ones.
 */
export function affordableSizes(
  sizes: readonly number[],
  budgetMs: number,
  settingMs = MIN_SETTING_MS,
): number[] {
  const count = Math.max(1, Math.floor(budgetMs / settingMs));
  if (sizes.length <= count) return [...sizes];
  const order = [sizes[sizes.length - 1], sizes[0], ...sizes.slice(1, -1)];
  return order.slice(0, count).sort((a, b) => a - b);
}

/** How long a batch may wait to fill, first tried: a fifth of the bound, between 0.5 and 5 ms. */
export function queueDelayFor(maxBatchSize: number, latencyBoundMs: number): number {
  if (maxBatchSize === 1) return 0;
  return Math.min(5, Math.max(0.5, Math.round((latencyBoundMs / 5) * 10) / 10));
}

/** The shorter queue delay tried for the best batch size: a quarter, at least 0.1 ms. */
export function shorterQueueDelay(delayMs: number): number {
  return Math.max(0.1, Math.round((delayMs / 4) * 100) / 100);
}

/**
 * When a stop rule looks at its samples again: once they have grown by a tenth (and by 20) since
 * the last look. Every look is a chance to stop on a lucky stretch, so the looks are spread out as
 * the evidence grows, not taken on every check.
 */
function lookEveryTenth(): (samples: number) => boolean {
  let lastLook = 0;
  return (samples) => {
    if (samples < lastLook * 1.1 + 20) return false;
    lastLook = samples;
    return true;
  };
}

/**
 * How many of a growing list of latencies lie at or below `limitMs`, counted as they arrive: a stop
 * rule asks on every check, and a decision from the count ({@link decideAtMostFromCounts}) needs no
 * sort. Sorting every sample on each check blocked the load generator's event loop for milliseconds
 * at 15k requests a second, and the requests due meanwhile went out late, in a burst.
 */
function countAtOrBelow(limitMs: number): (latencies: readonly number[]) => CountAtOrBelow {
  let seen = 0;
  let atOrBelow = 0;
  return (latencies) => {
    for (; seen < latencies.length; seen++) if (latencies[seen] <= limitMs) atOrBelow++;
    return { samples: seen, atOrBelow };
  };
}

/** The p99 decision against a bound, from latencies in any order. */
export function decideP99(
  latenciesMs: readonly number[],
  boundMs: number,
): { readonly decision: Decision; readonly bounds?: ReturnType<typeof quantileBounds> } {
  if (latenciesMs.length === 0) return { decision: 'undecided' };
  const bounds = quantileBounds(Float64Array.from(latenciesMs).sort(), 99, CONFIDENCE);
  return { decision: decideAtMost(bounds, boundMs), bounds };
}

/** The rate `rate` at a request per check: how often a trial asks whether it has decided. */
function checkEveryMs(rate: number): number {
  return Math.max(20, Math.min(1000, (REQUESTS_PER_CHECK / rate) * 1000));
}

/** What one open-loop trial at a fixed rate showed. */
export interface RateTrial {
  readonly rate: number;
  readonly decision: Decision;
  readonly latenciesMs: number[];
  readonly windows: WindowStats[];
  readonly p99Ms: number;
  readonly p99UpperMs?: number;
  /** Why it did not hold, in words. */
  readonly detail: string;
  /**
   * This process could not keep to the arrival schedule: the trial says nothing about the server
   * (its decision is `undecided`), and no higher rate can be offered either.
   */
  readonly generatorBehind?: boolean;
}

/**
 * How late a request may be sent before the load generator counts as behind: a tenth of the bound,
 * at least 2 ms (the timers' own granularity is about 1 ms).
 */
export function sendLagToleranceMs(boundMs: number): number {
  return Math.max(2, boundMs / 10);
}

/** More than this share of a trial's requests sent late, and the trial is the generator's, not the server's. */
const LATE_SENDS_SHARE = 0.01;

/**
 * One trial at `rate`: Poisson arrivals until the p99 is decided against the bound with the gate's
 * confidence (after at least `minMs`, so a rate a little over capacity has time to build the queue
 * that shows it) or `maxMs` passes. A failed request or a backlog left behind (answers later than
 * one bound after sending stopped) decides `beyond` whatever the percentiles say; unless this
 * process fell behind its own schedule (more than 1% of the requests sent later than
 * {@link sendLagToleranceMs}): it then sent the overdue ones in a burst no independent clients
 * would make, and counted its own delay as the server's, so a trial that did not hold is
 * `undecided` and says so; unless its p99 counted from when each request really left is beyond the
 * bound too (one that held despite the lateness holds).
 */
export async function trialAtRate(
  target: InferTarget,
  rate: number,
  boundMs: number,
  minMs: number,
  maxMs: number,
  random: () => number,
  clock: Clock,
  settleMs = Math.max(1000, 5 * boundMs),
): Promise<RateTrial> {
  const look = lookEveryTenth();
  const within = countAtOrBelow(boundMs);
  // A quota period of rest first: the phase before may have spent this period's CPU, and the trial
  // would start stalled for what is left of it.
  await clock.sleep(QUOTA_PERIOD_MS);
  const result = await openLoop(target, {
    ratePerSecond: rate,
    maxDurationMs: maxMs,
    leadInMs: Math.min(TRIAL_LEAD_IN_MS, maxMs / 4),
    lagToleranceMs: sendLagToleranceMs(boundMs),
    random,
    drainMs: boundMs * 5 + 100,
    lateAfterMs: boundMs,
    checkEveryMs: checkEveryMs(rate),
    // Beyond is final once shown over a few quota periods (a single stalled period at the start is
    // not the rate's doing), and what is in flight then need not be waited for; within only counts
    // after minMs, when an overload has had time to show.
    stopWhen: (latencies, sendingMs, failed) => {
      if (failed > 0) return 'abandon';
      if (!look(latencies.length)) return undefined;
      const counted = within(latencies);
      const decision = decideAtMostFromCounts(counted, counted, 99, CONFIDENCE);
      if (decision === 'beyond' && sendingMs >= Math.min(minMs, SHORTEST_BEYOND_MS)) return 'abandon';
      return decision === 'within' && sendingMs >= minMs ? 'stop' : undefined;
    },
    clock,
  });
  // What an abandoned trial left queued in the server would slow the next one down: let it finish.
  if (result.abandoned > 0) await settleWithin(result.idle, settleMs, clock);
  const windows = splitWindows(result.latenciesMs, result.completedAtMs);
  const { decision, bounds } = decideP99(result.latenciesMs, boundMs);
  const p99Ms = bounds?.estimate ?? Infinity;
  const base = {
    rate,
    latenciesMs: result.latenciesMs,
    windows,
    p99Ms,
    ...(bounds?.upper !== undefined ? { p99UpperMs: bounds.upper } : {}),
  };
  const at = `${rate.toFixed(0)} rps`;
  // Latency counts from the scheduled send, so sending late only made a trial look slower: a
  // `within` stands however late this process was. A p99 beyond the bound even counted from when
  // each request really left stands too: the server was slow. Anything else could be this process's doing.
  const held = decision === 'within' && result.failed === 0 && result.late <= 0.01 * result.sent;
  const beyondAsSent = () =>
    decision === 'beyond' &&
    result.failed === 0 &&
    decideP99(
      result.latenciesMs.map((ms, i) => ms - (result.sendLagsMs?.[i] ?? 0)),
      boundMs,
    ).decision === 'beyond';
  if (result.lateSends > LATE_SENDS_SHARE * result.sent && !held && !beyondAsSent()) {
    return {
      ...base,
      decision: 'undecided',
      generatorBehind: true,
      detail: `${at}: the load generator fell behind (${result.lateSends} of ${result.sent} requests sent more than ${formatMs(sendLagToleranceMs(boundMs))} ms late, up to ${formatMs(result.maxSendLagMs)} ms): no verdict on the server at this rate`,
    };
  }
  if (result.failed > 0) {
    return {
      ...base,
      decision: 'beyond',
      detail: `${at}: ${result.failed} of ${result.sent} requests failed (${result.firstError ?? 'no answer'})`,
    };
  }
  if (decision !== 'beyond' && result.late > 0.01 * result.sent) {
    return {
      ...base,
      decision: 'beyond',
      detail: `${at}: a backlog (${result.late} answers later than ${boundMs} ms after sending stopped)`,
    };
  }
  const shown = `p99 ${p99Ms.toFixed(2)} ms from ${result.latenciesMs.length} samples`;
  return {
    ...base,
    decision,
    detail:
      decision === 'beyond'
        ? `${at}: ${shown}, beyond ${boundMs} ms with ${CONFIDENCE * 100}% confidence`
        : decision === 'undecided'
          ? `${at}: ${shown}, not decided against ${boundMs} ms within the time it had`
          : `${at}: ${shown}, within ${boundMs} ms with ${CONFIDENCE * 100}% confidence`,
  };
}

const formatMs = (ms: number) => (ms >= 10 ? ms.toFixed(0) : ms.toFixed(1));

/** Waits for `idle`, at most `ms`. */
async function settleWithin(idle: Promise<void>, ms: number, clock: Clock): Promise<void> {
  let waiting = true;
  void idle.then(() => (waiting = false));
  const until = clock.now() + ms;
  while (waiting && clock.now() < until) await clock.sleep(Math.min(5, Math.max(1, until - clock.now())));
}

/**
 * The samples in completion order, cut into `count` windows of equal size, for drift: each
 * window's percentiles and its served rate (its answers over the time they took to arrive). A
 * trial that stops once decided has a few hundred samples: equal counts give every window enough
 * of them, where equal times would leave a short, noisy last window.
 */
export function splitWindows(
  latenciesMs: readonly number[],
  completedAtMs: readonly number[],
  count = 3,
): WindowStats[] {
  const n = latenciesMs.length;
  if (n === 0) return [];
  const windows: WindowStats[] = [];
  for (let w = 0; w < Math.min(count, n); w++) {
    const from = Math.floor((w * n) / count);
    const to = Math.floor(((w + 1) * n) / count);
    if (to <= from) continue;
    const startMs = from === 0 ? 0 : completedAtMs[from - 1];
    const spanMs = Math.max(1e-3, completedAtMs[to - 1] - startMs);
    windows.push(windowStats(latenciesMs.slice(from, to), spanMs / 1000));
  }
  return windows;
}

/** Requests per second a saturated target completes: `clients` requests always outstanding. */
export async function saturatedThroughput(
  target: InferTarget,
  clients: number,
  durationMs: number,
  clock: Clock,
): Promise<number> {
  const start = clock.now();
  let completed = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (clock.now() - start < durationMs) {
        await target.infer();
        completed++;
      }
    }),
  );
  return (completed * 1000) / (clock.now() - start);
}

/** A window of saturated load while warming: three CFS quota periods. */
const WARM_WINDOW_MS = 300;
/** Fewer requests than this in a warm-up window, and the server is not warmed until steady. */
const MIN_WARM_WINDOW_REQUESTS = 300;

/**
 * Loads a server saturated in windows of {@link WARM_WINDOW_MS} until its throughput stops rising (a
 * window less than 3% above the one before), for at most `maxMs`. A server process serves its first
 * seconds slower than its steady state (its JIT, allocator and batcher settle under load): Iris's
 * batch 32 held 18.6k rps at the bound after a 0.3 s warm-up and 28.8k after 2 s. Returns the last
 * window's throughput, rps.
 */
export async function warmUntilSteady(
  target: InferTarget,
  clients: number,
  maxMs: number,
  clock: Clock,
): Promise<number> {
  const until = clock.now() + maxMs;
  let previous = 0;
  let rps = 0;
  while (clock.now() + WARM_WINDOW_MS <= until) {
    rps = await saturatedThroughput(target, clients, WARM_WINDOW_MS, clock);
    if (previous > 0 && rps < previous * 1.03) break;
    previous = rps;
  }
  return rps;
}

/** The longest a server is warmed until steady. */
const MAX_WARM_MS = 2000;

/** How long {@link steadyProbe} warms and then measures. */
export interface SteadyTimes {
  readonly warmMs: number;
  /** Below {@link WARM_WINDOW_MS}, the probe's own reading is kept. */
  readonly measureMs: number;
}

/** A fifth of a budget to warm (at most {@link MAX_WARM_MS}), a tenth to measure (at most 1.5 s). */
export function steadyTimesFor(budgetMs: number): SteadyTimes {
  return { warmMs: Math.min(MAX_WARM_MS, budgetMs / 5), measureMs: Math.min(1500, budgetMs / 10) };
}

/**
 * A probed server made ready for the rate search: warmed until steady ({@link warmUntilSteady}) and
 * its saturated capacity measured again, warm. The server is closed when this fails.
 */
export async function steadyProbe(
  probe: SettingProbe,
  { warmMs, measureMs }: SteadyTimes,
  clock: Clock,
): Promise<SettingProbe> {
  // A model that completes a few hundred requests a window has no JIT to warm that matters, and a
  // window's end waits for what is in flight: its probe's reading stands.
  if (probe.aloneBeyond || probe.capacityRps * (WARM_WINDOW_MS / 1000) < MIN_WARM_WINDOW_REQUESTS) {
    return probe;
  }
  const clients = saturatingClients(probe.setting);
  try {
    await warmUntilSteady(probe.target, clients, warmMs, clock);
    if (measureMs < WARM_WINDOW_MS) return probe;
    return { ...probe, capacityRps: await saturatedThroughput(probe.target, clients, measureMs, clock) };
  } catch (error) {
    await probe.target.close().catch(() => undefined); // the measurement's failure is the one to report
    throw error;
  }
}

/** One serving setting's result. */
export interface SettingOutcome {
  readonly result: BatchSettingResult;
  readonly readyMs: number;
  readonly peakMemoryBytes: number;
  /** Latencies at the held rate (empty when none held), for the operating point on the same server. */
  readonly heldLatenciesMs: readonly number[];
  /** The server, still running when the caller asked to keep it (`keepOpen`); the caller closes it. */
  readonly target?: GateExecutor;
}

/** What a short look at one serving setting showed; its server is still running. */
export interface SettingProbe {
  readonly setting: ServingSetting;
  readonly target: GateExecutor;
  /** What the server completed saturated, rps. */
  readonly capacityRps: number;
  /** A lone request's latencies (closed loop, one client), ms. */
  readonly aloneMs: readonly number[];
  /** A lone request was shown beyond the bound: no rate can hold (latency only grows with load). */
  readonly aloneBeyond: boolean;
}

const settingLabel = (s: ServingSetting) =>
  `batch ${s.maxBatchSize}${s.maxBatchSize > 1 ? ` (queue delay ${s.maxQueueDelayMs} ms)` : ''}`;

/**
 * Starts the server with `setting` and measures what it completes saturated: a request alone first,
 * then a warm-up as traffic would give it (its JIT, allocator and batcher settle over the first few
 * hundred ms of load: measured cold, Iris's capacity reads at a third of its warm figure), then a
 * closed loop of {@link saturatingClients}, which keeps every batch full. The server is left
 * running for the caller, which closes it.
 *
 * @param budgetMs the time for the measurements, after the server is ready
 */
export async function probeSetting(
  setting: ServingSetting,
  gate: GateSpec,
  budgetMs: number,
  env: BenchEnvironment,
): Promise<SettingProbe> {
  const { clock } = env;
  const target = await env.startExecutor(setting);
  try {
    const clients = saturatingClients(setting);
    const aloneMs = (await closedLoop(target, Math.min(200, budgetMs / 8), 1, clock)).latenciesMs;
    const aloneBeyond = decideP99(aloneMs, gate.latencyBoundMs).decision === 'beyond';
    // A CFS quota is enforced per 100 ms period: a capacity read over a few periods only is noisy.
    // With no rate to try, a short read of it is enough for the report.
    if (!aloneBeyond) {
      await saturatedThroughput(target, clients, Math.min(800, Math.max(100, budgetMs / 3)), clock);
    }
    const capacityRps = await saturatedThroughput(
      target,
      clients,
      aloneBeyond ? Math.min(300, budgetMs / 4) : Math.min(1500, Math.max(150, budgetMs / 2)),
      clock,
    );
    return { setting, target, capacityRps, aloneMs, aloneBeyond };
  } catch (error) {
    await target.close().catch(() => undefined); // the measurement's failure is the one to report
    throw error;
  }
}

/** How a rate search runs: which rates it tries, and whether the server outlives it. */
export interface RateSearchOptions {
  /** Leave the server running and return it (the operating point may reuse it); else it is closed. @default false */
  readonly keepOpen?: boolean;
  /**
   * Try this rate only (a setting checked at a rate another one held), instead of searching from
   * fractions of the capacity. @default the search
   */
  readonly onlyRate?: number;
}

/**
 * The highest Poisson arrival rate whose p99 is shown within the bound for one serving setting:
 * {@link probeSetting}, {@link steadyProbe}, then {@link searchFromProbe}.
 *
 * @param env the clock and the served model (the real ones in the benchmark worker)
 */
export async function searchRateAtBound(
  setting: ServingSetting,
  gate: GateSpec,
  budgetMs: number,
  progress: Progress,
  env: BenchEnvironment,
  options: RateSearchOptions = {},
): Promise<SettingOutcome> {
  const { clock } = env;
  const deadline = clock.now() + budgetMs;
  const probe = await steadyProbe(
    await probeSetting(setting, gate, Math.min(MIN_PROBE_MS, PROBE_SHARE * budgetMs), env),
    steadyTimesFor(budgetMs),
    clock,
  );
  return searchFromProbe(probe, gate, deadline - clock.now(), progress, clock, options);
}

/**
 * Trials at fractions of a probed setting's saturated capacity ({@link trialAtRate}): down from 70%
 * until one is shown within the bound, then up (85%, 95%) while they hold, then halving the gap
 * between the held rate and the refused one while it is wider than 3% of the capacity. The search
 * ends when the next trial would not fit in the budget. The probe's server is closed at the end
 * unless `keepOpen`.
 */
export async function searchFromProbe(
  probe: SettingProbe,
  gate: GateSpec,
  budgetMs: number,
  progress: Progress,
  clock: Clock,
  { keepOpen = false, onlyRate }: RateSearchOptions = {},
): Promise<SettingOutcome> {
  const { setting, target, capacityRps: capacity } = probe;
  const bound = gate.latencyBoundMs;
  const deadline = clock.now() + budgetMs - CLOSE_RESERVE_MS;
  const label = settingLabel(setting);
  try {
    const random = uniformRandom(gate.seed + setting.maxBatchSize);
    // A rate 5% over capacity builds a queue worth the bound in 20 bounds: trials last that long
    // where the budget allows, and at least long enough for a few hundred requests.
    const minMs = (rate: number) =>
      Math.min(budgetMs / 4, Math.max(SHORTEST_VERDICT_MS, Math.min(20 * bound, (300 / rate) * 1000)));
    // What a trial that holds is expected to take: long enough, and samples enough for a p99 bound.
    const holdMs = (rate: number) =>
      TRIAL_LEAD_IN_MS + Math.max(minMs(rate), (samplesForUpperBound(99, CONFIDENCE) * 1.1 * 1000) / rate);
    // The queue an abandoned trial leaves is waited for, but not past the budget.
    const settleMs = () => Math.min(Math.max(1000, 5 * bound), Math.max(0, deadline - clock.now()));
    const run = async (rate: number, maxMs: number) => {
      const trial = await trialAtRate(
        target,
        rate,
        bound,
        Math.min(minMs(rate), maxMs),
        maxMs,
        random,
        clock,
        settleMs(),
      );
      progress(`throughput: ${label}: ${trial.detail}`);
      return trial;
    };
    progress(
      `throughput: ${label}: saturated capacity ${capacity.toFixed(0)} rps; ${onlyRate === undefined ? 'trying rates at the bound' : `trying the ${onlyRate.toFixed(0)} rps another setting held`}`,
    );
    let last: RateTrial | undefined;
    let held: RateTrial | undefined;
    // The lowest rate above the held one that did not hold, or that the load generator could not offer.
    let refused: RateTrial | undefined;
    const refuse = (trial: RateTrial) => {
      if (!refused || trial.rate < refused.rate) refused = trial;
    };
    if (probe.aloneBeyond) {
      const p99 = latencyStats(probe.aloneMs).p99Ms;
      last = {
        rate: 0,
        decision: 'beyond',
        latenciesMs: [...probe.aloneMs],
        windows: [],
        p99Ms: p99,
        detail: `a request alone: p99 ${p99.toFixed(2)} ms from ${probe.aloneMs.length} samples, beyond ${bound} ms with ${CONFIDENCE * 100}% confidence, so no rate can hold`,
      };
      progress(`throughput: ${label}: ${last.detail}`);
    } else if (onlyRate !== undefined) {
      const left = deadline - clock.now();
      if (left >= Math.min(minMs(onlyRate), 250)) {
        last = await run(onlyRate, left);
        if (last.decision === 'within') held = last;
        else refuse(last);
      }
    } else {
      // Down from a rate likely to hold until one does.
      for (const step of RATE_STEPS.down) {
        const rate = capacity * step;
        const left = deadline - clock.now();
        if (rate <= 0 || left < Math.min(minMs(rate), 250)) break;
        last = await run(rate, Math.min(left, Math.max(minMs(rate), 0.75 * left)));
        if (last.decision === 'within') {
          held = last;
          break;
        }
        refuse(last);
      }
      // Then up while it holds and the budget allows, below any rate already refused.
      for (const step of held ? RATE_STEPS.up : []) {
        const rate = capacity * step;
        const left = deadline - clock.now();
        if ((refused && rate >= refused.rate) || left < holdMs(rate)) break;
        const trial = await run(rate, left);
        if (trial.decision !== 'within') {
          refuse(trial);
          break;
        }
        held = trial;
      }
      // Between the held rate and the refused one: the steps are 10-15% of the capacity apart,
      // which is coarser than the figure deserves.
      while (
        held &&
        refused &&
        refused.rate - held.rate > BISECT_UNTIL * capacity &&
        deadline - clock.now() >= holdMs((held.rate + refused.rate) / 2)
      ) {
        const trial = await run((held.rate + refused.rate) / 2, deadline - clock.now());
        if (trial.decision === 'within') held = trial;
        else refuse(trial);
      }
    }
    if (held) {
      const drift = stability(held.windows, {
        ...STABILITY,
        resolutionMs: MIN_RESOLUTION_MS,
        on: 'throughput',
      });
      progress(
        `throughput: ${label}: capacity ${capacity.toFixed(0)} rps, ${held.rate.toFixed(0)} rps at p99 ${held.p99Ms.toFixed(2)} ms (≤ ${held.p99UpperMs?.toFixed(2)} ms with ${CONFIDENCE * 100}% confidence, ${held.latenciesMs.length} samples)`,
      );
      return {
        result: {
          ...setting,
          capacityRps: capacity,
          rps: held.rate,
          p99Ms: held.p99Ms,
          ...(held.p99UpperMs !== undefined ? { p99UpperMs: held.p99UpperMs } : {}),
          samples: held.latenciesMs.length,
          decision: 'within',
          stable: drift.stable,
          ...(refused ? { detail: `the next rate did not hold: ${refused.detail}` } : {}),
          ...(refused?.generatorBehind ? { generatorBound: true } : {}),
        },
        readyMs: target.readyMs,
        peakMemoryBytes: target.peakMemoryBytes(),
        heldLatenciesMs: held.latenciesMs,
        ...(keepOpen ? { target } : {}),
      };
    }
    const detail = last?.detail ?? 'no rate was tried within the budget';
    progress(
      `throughput: ${label}: capacity ${capacity.toFixed(0)} rps, no rate shown within ${bound} ms (${detail})`,
    );
    return {
      result: {
        ...setting,
        capacityRps: capacity,
        rps: 0,
        p99Ms: last?.p99Ms ?? Infinity,
        samples: last?.latenciesMs.length ?? 0,
        decision: last?.decision ?? 'undecided',
        stable: false,
        detail,
        // Nothing held, and the lowest rate tried was the generator's: the server was not measured.
        ...(last?.generatorBehind ? { generatorBound: true } : {}),
      },
      readyMs: target.readyMs,
      peakMemoryBytes: target.peakMemoryBytes(),
      heldLatenciesMs: [],
      ...(keepOpen ? { target } : {}),
    };
  } catch (error) {
    await target.close().catch(() => undefined); // the measurement's failure is the one to report
    throw error;
  } finally {
    if (!keepOpen) await target.close();
  }
}

/**
 * The setting the server should use: among settings that held a rate (all searched ones, when none
 * did), the smallest batch within 5% of the highest rate, since a bigger batch only adds queueing
 * delay; among equal batches, the shorter queue delay.
 */
export function chooseSetting(results: readonly BatchSettingResult[]): BatchSettingResult {
  const held = results.filter((r) => r.decision === 'within' && r.rps > 0);
  const searched = results.filter((r) => r.decision !== 'not searched');
  const pool = held.length > 0 ? held : searched.length > 0 ? searched : results;
  const top = Math.max(...pool.map((r) => r.rps));
  return [...pool]
    .sort((a, b) => a.maxBatchSize - b.maxBatchSize || a.maxQueueDelayMs - b.maxQueueDelayMs)
    .find((r) => r.rps >= top * 0.95)!;
}

/**
 * A probed setting's row in the report: ruled out by a lone request beyond the bound, or probed
 * saturated only, with the setting the search went to instead.
 */
function probedResult(
  probe: SettingProbe,
  pick: SettingProbe | undefined,
  bound: number,
): BatchSettingResult {
  const base = { ...probe.setting, capacityRps: probe.capacityRps, rps: 0, stable: false };
  if (probe.aloneBeyond) {
    const p99 = latencyStats(probe.aloneMs).p99Ms;
    return {
      ...base,
      p99Ms: p99,
      samples: probe.aloneMs.length,
      decision: 'beyond',
      detail: `a request alone: p99 ${p99.toFixed(2)} ms, beyond ${bound} ms with ${CONFIDENCE * 100}% confidence, so no rate can hold`,
    };
  }
  return {
    ...base,
    p99Ms: NaN,
    samples: 0,
    decision: 'not searched',
    ...(pick && pick !== probe
      ? {
          detail: `no rate searched: batch ${pick.setting.maxBatchSize} served ${pick.capacityRps.toFixed(0)} rps saturated, and the search went there`,
        }
      : {}),
  };
}

/**
 * The probe the rate search goes on with: among those a lone request does not rule out, the
 * smallest batch whose saturated capacity is within 5% of the highest (a bigger batch only adds
 * queueing delay); undefined when a lone request is beyond the bound on every one.
 */
export function chooseProbe<T extends Pick<SettingProbe, 'setting' | 'capacityRps' | 'aloneBeyond'>>(
  probes: readonly T[],
): T | undefined {
  const open = probes.filter((p) => !p.aloneBeyond);
  if (open.length === 0) return undefined;
  const top = Math.max(...open.map((p) => p.capacityRps));
  return [...open]
    .sort((a, b) => a.setting.maxBatchSize - b.setting.maxBatchSize)
    .find((p) => p.capacityRps >= top * 0.95);
}

/** What the search found: every setting's result, the chosen one, what was skipped. */
export interface SearchOutcome {
  readonly throughput: ThroughputMeasurement;
  readonly chosen: SettingOutcome;
  /** The first server start's process-to-ready time, ms. */
  readonly readyMs: number;
  /** The highest peak memory of any server, bytes. */
  readonly peakMemoryBytes: number;
}

/**
 * The serving setting and its capacity at the bound, in two phases. First every batch size (1, ×4
 * up to maxBatchSize, and maxBatchSize) at its first queue delay is probed: a server started, a
 * lone request, its saturated capacity ({@link probeSetting}); batch sizes whose memory is forecast
 * over the limit are not tried. Then the rate search ({@link searchFromProbe}) runs on the best
 * probe only ({@link chooseProbe}), where the budget buys the trials that make the figure precise:
 * a search on every setting leaves each about one trial, and its capacity at 70% of the truth.
 * Last, where the budget allows, the same batch size with a quarter of the queue delay at the rate
 * held: it serves a quiet service faster, and is chosen when it holds that rate too.
 *
 * @param generatorCeilingRps the load generator's own ceiling: a capacity near it is reported as generator-bound
 * @param settingExtraMs what one setting is expected to cost beyond the measurements (a server start that loads a large model, a trial of a slow one), ms: fewer settings fit a budget when it is large
 */
export async function searchServingSettings(
  model: ModelInfo,
  gate: GateSpec,
  memoryLimitBytes: number | undefined,
  generatorCeilingRps: number,
  budgetMs: number,
  progress: Progress,
  env: BenchEnvironment,
  settingExtraMs = 0,
): Promise<SearchOutcome> {
  const { clock } = env;
  const bound = gate.latencyBoundMs;
  const settingMs = MIN_SETTING_MS + settingExtraMs;
  const deadline = clock.now() + budgetMs;
  const all = batchSettings(model, gate.maxBatchSize);
  const probeBudgetMs = all.length > 1 ? PROBE_SHARE * budgetMs : 0;
  const sizes = all.length > 1 ? affordableSizes(all, probeBudgetMs, MIN_PROBE_MS + settingExtraMs) : all;
  const results: BatchSettingResult[] = [];
  const observed: MemoryObservation[] = [];
  const skipped: SkippedBatchSetting[] = [];
  let firstReadyMs: number | undefined;
  let peakBytes = 0;
  const note = (target: GateExecutor) => {
    firstReadyMs ??= target.readyMs;
    peakBytes = Math.max(peakBytes, target.peakMemoryBytes());
  };
  /** The last probed server, still running: the search goes on on it when it is the pick; closed by whoever replaces it. */
  let open: SettingProbe | undefined;
  const closeOpen = async () => {
    const closing = open;
    open = undefined;
    await closing?.target.close();
  };
  let chosen: SettingOutcome;
  try {
    chosen = await searchWithin();
  } catch (error) {
    await closeOpen().catch(() => undefined);
    throw error;
  }
  const best = chosen.result;
  return {
    throughput: {
      latencyBoundMs: bound,
      rps: best.rps,
      stable: best.stable,
      decision: best.decision === 'not searched' ? 'undecided' : best.decision,
      generatorBound:
        best.capacityRps >= 0.9 * generatorCeilingRps || (best.rps > 0 && best.generatorBound === true),
      settings: results,
      ...(skipped.length > 0 ? { skipped } : {}),
    },
    chosen,
    readyMs: firstReadyMs ?? NaN,
    peakMemoryBytes: peakBytes,
  };

  async function searchWithin(): Promise<SettingOutcome> {
    if (sizes.length === 1) {
      const setting = { maxBatchSize: sizes[0], maxQueueDelayMs: queueDelayFor(sizes[0], bound) };
      const outcome = await searchRateAtBound(setting, gate, budgetMs, progress, env, { keepOpen: true });
      note(outcome.target!);
      results.push(outcome.result);
      return outcome;
    }
    // Phase 1: probe every affordable batch size at its first queue delay.
    const probes: SettingProbe[] = [];
    const probeDeadline = clock.now() + probeBudgetMs;
    for (const [i, size] of sizes.entries()) {
      const over = exceedsMemory(observed, size, memoryLimitBytes);
      if (over) {
        for (const larger of sizes.slice(i)) {
          skipped.push({
            ...over,
            maxBatchSize: larger,
            forecastBytes: forecastPeakBytes(observed, larger)!,
          });
        }
        progress(
          `throughput: batch ${sizes.slice(i).join(', ')} not tried: batch ${size} is forecast to peak at ${mib(over.forecastBytes)} MiB, over the ${mib(over.memoryLimitBytes)} MiB memory limit`,
        );
        break;
      }
      const share = Math.min(MAX_PROBE_MS, Math.max(0, probeDeadline - clock.now()) / (sizes.length - i));
      await closeOpen(); // one server at a time
      const started = clock.now();
      const probe = await probeSetting(
        { maxBatchSize: size, maxQueueDelayMs: queueDelayFor(size, bound) },
        gate,
        // What the share leaves after this server's start, which the first start tells.
        Math.max(MIN_PROBE_MS, share - (firstReadyMs ?? 0)),
        env,
      );
      open = probe;
      note(probe.target);
      observed.push({ maxBatchSize: size, peakBytes: probe.target.peakMemoryBytes() });
      probes.push(probe);
      const label = settingLabel(probe.setting);
      progress(
        probe.aloneBeyond
          ? `throughput: ${label}: a request alone is beyond ${bound} ms (p99 ${latencyStats(probe.aloneMs).p99Ms.toFixed(2)} ms)`
          : `throughput: ${label}: saturated capacity ${probe.capacityRps.toFixed(0)} rps (probed in ${((clock.now() - started) / 1000).toFixed(1)} s)`,
      );
    }
    const pick = chooseProbe(probes);
    results.push(...probes.map((probe) => probedResult(probe, pick, bound)));
    if (!pick) {
      // A lone request is beyond the bound at every batch size: no rate can hold anywhere.
      await closeOpen();
      progress(`throughput: no batch size holds a rate: a request alone is beyond ${bound} ms on each`);
      return {
        result: results[0],
        readyMs: firstReadyMs ?? NaN,
        peakMemoryBytes: peakBytes,
        heldLatenciesMs: [],
      };
    }
    // Phase 2: the rate search on the chosen batch size, on its probe's server when it still runs,
    // warmed until steady first.
    const index = results.findIndex((r) => r.maxBatchSize === pick.setting.maxBatchSize);
    // The shorter delay costs a server start, a probe, the whole warm-up and a trial: tried only
    // where that is a third of what is left at most.
    const shorterMs = settingMs + MAX_WARM_MS + TRIAL_LEAD_IN_MS + SHORTEST_VERDICT_MS;
    const reserve = pick.setting.maxBatchSize > 1 && deadline - clock.now() >= 3 * shorterMs ? shorterMs : 0;
    const reuse = open === pick;
    if (!reuse) await closeOpen(); // its server was closed for a later probe: a new one
    const probe = await steadyProbe(
      reuse ? pick : await probeSetting(pick.setting, gate, MIN_PROBE_MS, env),
      steadyTimesFor(deadline - clock.now() - reserve),
      clock,
    );
    open = undefined; // the search closes it, or hands it back
    let outcome = await searchFromProbe(probe, gate, deadline - clock.now() - reserve, progress, clock, {
      keepOpen: true,
    });
    note(outcome.target!);
    results[index] = outcome.result;
    // Last, the shorter queue delay at the rate held, on a server of its own.
    if (reserve > 0 && outcome.result.decision === 'within' && deadline - clock.now() >= shorterMs) {
      const shorter = {
        maxBatchSize: pick.setting.maxBatchSize,
        maxQueueDelayMs: shorterQueueDelay(pick.setting.maxQueueDelayMs),
      };
      const { target: searched, ...closed } = outcome;
      await searched!.close(); // one server at a time: the operating point starts its own if needed
      outcome = closed;
      // Warmed as long as the searched server was at most, so a cold process does not lose to a warm one.
      const shorterProbe = await steadyProbe(
        await probeSetting(shorter, gate, MIN_PROBE_MS, env),
        { warmMs: MAX_WARM_MS, measureMs: WARM_WINDOW_MS },
        clock,
      );
      const tried = await searchFromProbe(shorterProbe, gate, deadline - clock.now(), progress, clock, {
        keepOpen: true,
        onlyRate: outcome.result.rps,
      });
      note(tried.target!);
      results.push(tried.result);
      if (chooseSetting([outcome.result, tried.result]) === tried.result) return tried;
      await tried.target!.close();
    }
    return outcome;
  }
}

/** A latency threshold to decide at the operating rate. */
export interface LatencyLimit {
  readonly p: 50 | 95 | 99;
  readonly limitMs: number;
}

/**
 * Bounds at the operating rate: the estimate and the lower bound from its own samples, the upper
 * bound from those and the held rate's (a higher rate, on the same server).
 */
function operatingBounds(own: Float64Array, withHeld: Float64Array): (p: number) => PercentileBounds {
  return (p) => {
    const lower = percentileBounds(own, p);
    const upper = percentileBounds(withHeld, p);
    const { upperMs: _own, ...rest } = lower;
    return {
      ...rest,
      ...(upper.upperMs !== undefined ? { upperMs: upper.upperMs } : {}),
      samples: withHeld.length,
    };
  };
}

/** The bounds of one percentile of sorted samples at the gate's confidence, as the report keeps them. */
export function percentileBounds(sortedAscending: Float64Array, p: number): PercentileBounds {
  const b = quantileBounds(sortedAscending, p, CONFIDENCE);
  return {
    estimateMs: b.estimate,
    ...(b.lower !== undefined ? { lowerMs: b.lower } : {}),
    ...(b.upper !== undefined ? { upperMs: b.upper } : {}),
    samples: sortedAscending.length,
  };
}

const sorted = (values: readonly number[]) => Float64Array.from(values).sort();

/**
 * Latency where it is lived, on the chosen setting's server: a lone request (closed loop, one at a
 * time, an eighth of the budget at most) and the planned operating rate (open loop), until every
 * latency limit is decided or the budget ends. It runs on the search's server when that is the
 * chosen one, and then the held rate's samples (a higher rate) join the upper bounds; a fresh
 * server under a CFS quota does not always agree with the one the search measured, so samples of
 * another process are never pooled.
 */
export async function measureOperatingPoint(
  chosen: SettingOutcome,
  rateRps: number,
  limits: readonly LatencyLimit[],
  budgetMs: number,
  gate: GateSpec,
  progress: Progress,
  env: BenchEnvironment,
): Promise<{ latency: LatencyMeasurement; lone: GateMeasurements['loneLatency']; peakMemoryBytes: number }> {
  const { clock } = env;
  const deadline = clock.now() + budgetMs - CLOSE_RESERVE_MS;
  const setting = {
    maxBatchSize: chosen.result.maxBatchSize,
    maxQueueDelayMs: chosen.result.maxQueueDelayMs,
  };
  const target = chosen.target ?? (await env.startExecutor(setting));
  // On the search's own server, its held rate's samples bound the operating rate's from above
  // (latency grows with load); a fresh server starts from a different state and gets no such help.
  const pooled = chosen.target && chosen.result.rps >= rateRps ? chosen.heldLatenciesMs : [];
  try {
    if (!chosen.target) {
      // Warm the new server as the search warmed its own: one client, then saturated until steady.
      await closedLoop(target, Math.min(200, budgetMs / 20), 1, clock);
      await warmUntilSteady(target, saturatingClients(setting), Math.min(MAX_WARM_MS, budgetMs / 4), clock);
    }
    const lone: number[] = [];
    const loneUntil = clock.now() + budgetMs / 8;
    const p99Limit = limits.find((l) => l.p === 99)?.limitMs ?? gate.latencyBoundMs;
    do {
      lone.push(
        ...(await closedLoop(target, Math.min(100, Math.max(1, loneUntil - clock.now())), 5, clock))
          .latenciesMs,
      );
    } while (clock.now() < loneUntil && decideP99(lone, p99Limit).decision === 'undecided');
    const loneP99 = percentileBounds(sorted(lone), 99);
    progress(
      `latency: a lone request: p50 ${latencyStats(lone).p50Ms.toFixed(2)} ms, p99 ${loneP99.estimateMs.toFixed(2)} ms (${lone.length} samples)`,
    );
    const look = lookEveryTenth();
    const judged = limits.length > 0 ? limits : [{ p: 99 as const, limitMs: gate.latencyBoundMs }];
    // Per limit: its own samples bound it from below; with the held rate's, from above.
    const counters = judged.map((l) => ({
      limit: l,
      own: countAtOrBelow(l.limitMs),
      pooledAtOrBelow: pooled.filter((ms) => ms <= l.limitMs).length,
    }));
    // Every limit decided; `within` counts only after minMs, when an overload has had time to show.
    const decided = (latencies: readonly number[], longEnough: boolean) => {
      if (latencies.length === 0) return false;
      return counters.every(({ limit, own, pooledAtOrBelow }) => {
        const counted = own(latencies);
        const withHeld = {
          samples: counted.samples + pooled.length,
          atOrBelow: counted.atOrBelow + pooledAtOrBelow,
        };
        const decision = decideAtMostFromCounts(withHeld, counted, limit.p, CONFIDENCE);
        return decision === 'beyond' || (decision === 'within' && longEnough);
      });
    };
    // Long enough for an overload and a quota's stalls to show, and for the figure to settle: the
    // p99 over ten quota periods doubled from one fresh run to the next when one period stalled.
    const minMs = Math.min(
      Math.max(OPERATING_MIN_MS, (300 / rateRps) * 1000),
      Math.max(0, deadline - clock.now() - CLOSE_RESERVE_MS),
    );
    await clock.sleep(QUOTA_PERIOD_MS); // the lone requests may have spent this period's quota
    const result = await openLoop(target, {
      ratePerSecond: rateRps,
      lagToleranceMs: sendLagToleranceMs(gate.latencyBoundMs),
      maxDurationMs: Math.max(minMs, deadline - clock.now() - gate.latencyBoundMs),
      random: uniformRandom(gate.seed + 7919),
      drainMs: Math.max(1000, gate.latencyBoundMs * 5),
      checkEveryMs: checkEveryMs(rateRps),
      // Once every limit is decided the sending stops. Answers still in flight are waited for: the
      // slowest requests are the ones still out, and leaving them out would flatter a `within`.
      stopWhen: (latencies, sendingMs, failed) =>
        failed > 0 || (look(latencies.length) && decided(latencies, sendingMs >= minMs)) ? 'stop' : undefined,
      clock,
    });
    const generatorBehind = result.lateSends > LATE_SENDS_SHARE * result.sent;
    const lag = `the load generator fell behind: ${result.lateSends} of ${result.sent} requests sent more than ${formatMs(sendLagToleranceMs(gate.latencyBoundMs))} ms late, up to ${formatMs(result.maxSendLagMs)} ms`;
    if (result.firstError !== undefined) {
      // The server refused or dropped requests at a rate below its capacity: no latency to judge.
      throw new Error(
        `at the operating rate ${rateRps.toFixed(0)} rps, ${result.failed} of ${result.sent} requests failed: ${result.firstError}${generatorBehind ? ` (${lag}, and sent the overdue ones in a burst)` : ''}`,
      );
    }
    if (generatorBehind)
      progress(
        `latency: at the operating rate ${rateRps.toFixed(0)} rps ${lag}; its delay counts as latency`,
      );
    // Requests unanswered at the end of the drain took at least as long as they waited: counted so.
    const answered = [...result.latenciesMs, ...result.unansweredMs];
    const samples = answered.length > 0 ? answered : lone;
    const bounds = operatingBounds(sorted(samples), sorted([...samples, ...pooled]));
    const windows = splitWindows(result.latenciesMs, result.completedAtMs);
    const latency: LatencyMeasurement = {
      ...latencyStats(samples),
      ...stability(windows, stabilityFor(gate.latencyBoundMs)),
      rateRps,
      bounds: {
        p50: bounds(50),
        p95: bounds(95),
        p99: bounds(99),
      },
      confidence: CONFIDENCE,
      windows,
      histogram: logHistogram(samples),
    };
    progress(
      `latency: at the operating rate ${rateRps.toFixed(0)} rps: p50 ${latency.p50Ms.toFixed(2)} ms, p99 ${latency.p99Ms.toFixed(2)} ms (${latency.samples} samples)`,
    );
    return {
      latency,
      lone: {
        ...latencyStats(lone),
        p99: loneP99,
      },
      peakMemoryBytes: target.peakMemoryBytes(),
    };
  } finally {
    await target.close();
  }
}

/**
 * Closed-loop latency of single requests in windows for `budgetMs` (at least `minRequests`): the
 * model alone, in process, as a diagnostic beside the served figures.
 */
export async function measureModelAlone(
  target: InferTarget,
  budgetMs: number,
  clock: Clock = realClock,
): Promise<LatencyStats> {
  return latencyStats((await closedLoop(target, budgetMs, 5, clock)).latenciesMs);
}
