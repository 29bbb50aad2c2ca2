/**
 * The performance half of the gate, on the served path: for each serving setting (batch size and
 * queue delay), the server the image runs is started inside the pod's limits and loaded over
 * loopback HTTP by this process; the highest Poisson rate whose p99 is shown within the latency
 * bound, with the gate's confidence, is the setting's capacity. On the chosen setting: a lone
 * request's latency and the latency at the planned operating rate, until each threshold is decided.
 * The clock and the served model come from a {@link BenchEnvironment}, so the decisions can be
 * tested against a latency model on a virtual clock.
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
  decideAtMost,
  decideBounds,
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
/** The least time load runs before a `beyond` counts: three quota periods. */
const SHORTEST_BEYOND_MS = 300;
/** A CFS quota's period (the kubelet's): a server over its quota is stopped until the next one. */
const QUOTA_PERIOD_MS = 100;
/** Time kept for stopping a server (SIGTERM, drain, exit) at the end of a phase. */
const CLOSE_RESERVE_MS = 150;
/**
 * Fractions of the saturated capacity tried as offered rates: down from 0.7 until one holds, then
 * up from the held one while the budget allows a trial to decide.
 */
const RATE_STEPS = { down: [0.7, 0.55, 0.4, 0.25, 0.1], up: [0.85, 0.95] } as const;

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

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
 * the last look. Each look sorts every sample, so looking on every check would cost the load
 * generator CPU quadratic in the trial's length, CPU taken from the server beside it; and fewer
 * looks take fewer chances of stopping on a lucky stretch.
 */
function lookEveryTenth(): (samples: number) => boolean {
  let lastLook = 0;
  return (samples) => {
    if (samples < lastLook * 1.1 + 20) return false;
    lastLook = samples;
    return true;
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
}

/**
 * One trial at `rate`: Poisson arrivals until the p99 is decided against the bound with the gate's
 * confidence (after at least `minMs`, so a rate a little over capacity has time to build the queue
 * that shows it) or `maxMs` passes. A failed request or a backlog left behind (answers later than
 * one bound after sending stopped) decides `beyond` whatever the percentiles say.
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
  // A quota period of rest first: the phase before may have spent this period's CPU, and the trial
  // would start stalled for what is left of it.
  await clock.sleep(QUOTA_PERIOD_MS);
  const result = await openLoop(target, {
    ratePerSecond: rate,
    maxDurationMs: maxMs,
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
      const { decision } = decideP99(latencies, boundMs);
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

/**
 * The highest Poisson arrival rate whose p99 is shown within the bound for one serving setting.
 * First the setting's capacity: a closed loop of `2 × maxBatchSize + 6` clients keeps the server
 * saturated, and what it completes per second is the most it can serve. Then trials at falling
 * fractions of it ({@link trialAtRate}); the first decided `within` is the result. The search
 * ends when the next trial would not fit in the budget.
 *
 * @param env the clock and the served model (the real ones in the benchmark worker)
 * @param keepOpen leave the server running and return it (the operating point may reuse it); else it is closed
 */
export async function searchRateAtBound(
  setting: ServingSetting,
  gate: GateSpec,
  budgetMs: number,
  progress: Progress,
  env: BenchEnvironment,
  keepOpen = false,
): Promise<SettingOutcome> {
  const { clock } = env;
  const bound = gate.latencyBoundMs;
  const deadline = clock.now() + budgetMs - CLOSE_RESERVE_MS;
  const target = await env.startExecutor(setting);
  const label = `batch ${setting.maxBatchSize}${setting.maxBatchSize > 1 ? ` (queue delay ${setting.maxQueueDelayMs} ms)` : ''}`;
  try {
    // Warm this server as traffic would (its JIT, allocator and batcher settle over the first few
    // hundred ms of load: measured cold, Iris's capacity reads at a third of its warm figure), then
    // measure what it completes saturated.
    const clients = 2 * setting.maxBatchSize + 6;
    // A request alone first: when even it is shown beyond the bound, no rate can hold (latency only
    // grows with load), and the trials are not run.
    const alone = (await closedLoop(target, Math.min(200, budgetMs / 20), 1, clock)).latenciesMs;
    const aloneBeyond = decideP99(alone, bound).decision === 'beyond';
    // A CFS quota is enforced per 100 ms period: a capacity read over a few periods only is noisy.
    // With no rate to try, a short read of it is enough for the report.
    if (!aloneBeyond) {
      await saturatedThroughput(target, clients, Math.min(800, Math.max(100, budgetMs / 8)), clock);
    }
    const capacity = await saturatedThroughput(
      target,
      clients,
      aloneBeyond ? Math.min(300, budgetMs / 10) : Math.min(1500, Math.max(150, budgetMs / 5)),
      clock,
    );
    const random = uniformRandom(gate.seed + setting.maxBatchSize);
    // A rate 5% over capacity builds a queue worth the bound in 20 bounds: trials last that long
    // where the budget allows, and at least long enough for a few hundred requests.
    const minMs = (rate: number) =>
      Math.min(budgetMs / 4, Math.max(SHORTEST_VERDICT_MS, Math.min(20 * bound, (300 / rate) * 1000)));
    // What a trial that holds is expected to take: long enough, and samples enough for a p99 bound.
    const holdMs = (rate: number) =>
      Math.max(minMs(rate), (samplesForUpperBound(99, CONFIDENCE) * 1.1 * 1000) / rate);
    // The queue an abandoned trial leaves is waited for, but not past the budget.
    const settleMs = () => Math.min(Math.max(1000, 5 * bound), Math.max(0, deadline - clock.now()));
    const run = async (rate: number, maxMs: number) =>
      trialAtRate(target, rate, bound, Math.min(minMs(rate), maxMs), maxMs, random, clock, settleMs());
    progress(
      `throughput: ${label}: saturated capacity ${capacity.toFixed(0)} rps; trying rates at the bound`,
    );
    let last: RateTrial | undefined;
    let held: RateTrial | undefined;
    let refused: RateTrial | undefined; // the first rate above the held one that did not hold
    if (aloneBeyond) {
      const p99 = latencyStats(alone).p99Ms;
      last = {
        rate: 0,
        decision: 'beyond',
        latenciesMs: alone,
        windows: [],
        p99Ms: p99,
        detail: `a request alone: p99 ${p99.toFixed(2)} ms from ${alone.length} samples, beyond ${bound} ms with ${CONFIDENCE * 100}% confidence, so no rate can hold`,
      };
      progress(`throughput: ${label}: ${last.detail}`);
    }
    // Down from a rate likely to hold until one does; then up while it holds and the budget allows.
    for (const step of aloneBeyond ? [] : RATE_STEPS.down) {
      const rate = capacity * step;
      const left = deadline - clock.now();
      if (rate <= 0 || left < Math.min(minMs(rate), 250)) break;
      last = await run(rate, Math.min(left, Math.max(minMs(rate), 0.75 * left)));
      progress(`throughput: ${label}: ${last.detail}`);
      if (last.decision === 'within') {
        held = last;
        break;
      }
    }
    for (const step of held ? RATE_STEPS.up : []) {
      const rate = capacity * step;
      const left = deadline - clock.now();
      if (left < holdMs(rate)) break;
      const trial = await run(rate, left);
      progress(`throughput: ${label}: ${trial.detail}`);
      if (trial.decision !== 'within') {
        refused = trial;
        break;
      }
      held = trial;
    }
    // Between the held rate and the refused one, once, where the budget allows: the steps are 10-15%
    // of capacity apart, which is coarser than the figure deserves.
    if (held && refused && deadline - clock.now() >= holdMs((held.rate + refused.rate) / 2)) {
      const trial = await run((held.rate + refused.rate) / 2, deadline - clock.now());
      progress(`throughput: ${label}: ${trial.detail}`);
      if (trial.decision === 'within') held = trial;
      else refused = trial;
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
 * The setting the server should use: among settings that held a rate (all, when none did), the
 * smallest batch within 5% of the highest rate, since a bigger batch only adds queueing delay;
 * among equal batches, the shorter queue delay.
 */
export function chooseSetting(results: readonly BatchSettingResult[]): BatchSettingResult {
  const held = results.filter((r) => r.decision === 'within' && r.rps > 0);
  const pool = held.length > 0 ? held : results;
  const top = Math.max(...pool.map((r) => r.rps));
  return [...pool]
    .sort((a, b) => a.maxBatchSize - b.maxBatchSize || a.maxQueueDelayMs - b.maxQueueDelayMs)
    .find((r) => r.rps >= top * 0.95)!;
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
 * Throughput at the bound for every batch size at its first queue delay, then the best batch
 * size again with a shorter delay, and the chosen setting. Each gets an equal share of what is
 * left of the budget. Batch sizes whose memory is forecast over the limit are not tried.
 *
 * @param generatorCeilingRps the load generator's own ceiling: a capacity near it is reported as generator-bound
 * @param settingExtraMs what one setting is expected to cost beyond {@link MIN_SETTING_MS}, ms (starting a server that loads a large model, deciding a trial of a slow one): fewer settings fit a budget when it is large
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
  const settingMs = MIN_SETTING_MS + settingExtraMs;
  const sizes = affordableSizes(batchSettings(model, gate.maxBatchSize), budgetMs, settingMs);
  const bound = gate.latencyBoundMs;
  const plan: ServingSetting[] = sizes.map((b) => ({
    maxBatchSize: b,
    maxQueueDelayMs: queueDelayFor(b, bound),
  }));
  const outcomes: SettingOutcome[] = [];
  const observed: MemoryObservation[] = [];
  const skipped: SkippedBatchSetting[] = [];
  const deadline = env.clock.now() + budgetMs;
  /** Stops the last setting's server, if it still runs, and forgets it. */
  const closeLast = async () => {
    const last = outcomes.at(-1);
    if (!last?.target) return;
    const { target, ...closed } = last;
    outcomes[outcomes.length - 1] = closed;
    await target.close();
  };
  try {
    return await searchWithin();
  } catch (error) {
    await closeLast().catch(() => undefined);
    throw error;
  }
  async function searchWithin(): Promise<SearchOutcome> {
    // The shorter delay for the best batch size, when the budget affords one setting more.
    const extra = sizes[sizes.length - 1] > 1 && budgetMs >= (sizes.length + 1) * settingMs ? 1 : 0;
    for (const [i, setting] of plan.entries()) {
      const over = exceedsMemory(observed, setting.maxBatchSize, memoryLimitBytes);
      if (over) {
        for (const larger of sizes.slice(i)) {
          skipped.push({
            ...over,
            maxBatchSize: larger,
            forecastBytes: forecastPeakBytes(observed, larger)!,
          });
        }
        progress(
          `throughput: batch ${sizes.slice(i).join(', ')} not tried: batch ${setting.maxBatchSize} is forecast to peak at ${mib(over.forecastBytes)} MiB, over the ${mib(over.memoryLimitBytes)} MiB memory limit`,
        );
        break;
      }
      const share = Math.max(0, deadline - env.clock.now()) / (plan.length - i + extra);
      await closeLast(); // one server at a time
      const outcome = await searchRateAtBound(setting, gate, share, progress, env, true);
      outcomes.push(outcome);
      observed.push({ maxBatchSize: setting.maxBatchSize, peakBytes: outcome.peakMemoryBytes });
    }
    let chosen = pickOutcome(outcomes);
    if (extra > 0 && chosen.result.maxBatchSize > 1 && deadline - env.clock.now() >= settingMs / 2) {
      const shorter = {
        maxBatchSize: chosen.result.maxBatchSize,
        maxQueueDelayMs: shorterQueueDelay(chosen.result.maxQueueDelayMs),
      };
      await closeLast();
      const outcome = await searchRateAtBound(
        shorter,
        gate,
        Math.max(0, deadline - env.clock.now()),
        progress,
        env,
        true,
      );
      outcomes.push(outcome);
      chosen = pickOutcome(outcomes);
    }
    // The last server stays up only when it is the chosen one: the operating point measures on it.
    if (outcomes.at(-1) !== chosen) await closeLast();
    const results = outcomes.map((o) => o.result);
    const best = chosen.result;
    return {
      throughput: {
        latencyBoundMs: bound,
        rps: best.rps,
        stable: best.stable,
        decision: best.decision,
        generatorBound: best.capacityRps >= 0.9 * generatorCeilingRps,
        settings: results,
        ...(skipped.length > 0 ? { skipped } : {}),
      },
      chosen,
      readyMs: outcomes[0]?.readyMs ?? NaN,
      peakMemoryBytes: Math.max(0, ...outcomes.map((o) => o.peakMemoryBytes)),
    };
  }
}

function pickOutcome(outcomes: readonly SettingOutcome[]): SettingOutcome {
  const best = chooseSetting(outcomes.map((o) => o.result));
  return outcomes.find((o) => o.result === best)!;
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
      // Warm the new server as the search warmed its own: one client, then saturated as long.
      await closedLoop(target, Math.min(200, budgetMs / 20), 1, clock);
      await saturatedThroughput(
        target,
        2 * setting.maxBatchSize + 6,
        Math.min(800, Math.max(100, budgetMs / 8)),
        clock,
      );
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
    // Every limit decided; `within` counts only after minMs, when an overload has had time to show.
    const decided = (latencies: readonly number[], longEnough: boolean) => {
      if (latencies.length === 0) return false;
      const bounds = operatingBounds(sorted(latencies), sorted([...latencies, ...pooled]));
      return judged.every((l) => {
        const decision = decideBounds(bounds(l.p), l.limitMs);
        return decision === 'beyond' || (decision === 'within' && longEnough);
      });
    };
    // Long enough for an overload and a quota's stalls to show; with the held rate's samples (a
    // higher rate, this server) an overload is ruled out, and the stalls' span suffices.
    const minMs = Math.min(
      pooled.length > 0 ? SHORTEST_VERDICT_MS : Math.max(SHORTEST_VERDICT_MS, (300 / rateRps) * 1000),
      Math.max(0, deadline - clock.now()),
    );
    await clock.sleep(QUOTA_PERIOD_MS); // the lone requests may have spent this period's quota
    const result = await openLoop(target, {
      ratePerSecond: rateRps,
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
    if (result.firstError !== undefined) {
      // The server refused or dropped requests at a rate below its capacity: no latency to judge.
      throw new Error(
        `at the operating rate ${rateRps.toFixed(0)} rps, ${result.failed} of ${result.sent} requests failed: ${result.firstError}`,
      );
    }
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
