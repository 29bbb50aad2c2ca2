/**
 * The performance half of the gate: cold start, latency in windows after warm-up, and the
 * throughput at the latency bound for each batch setting. Drives the lib/runtime executor exactly
 * as the server will. Runs inside the benchmark worker process, never in the synth process.
 */
import { type GateSpec } from '../core';
import { type ModelInfo } from '../model';
import { Executor } from '../runtime';
import { type BatchSettingResult, type LatencyMeasurement, type ThroughputMeasurement } from './gate-report';
import { closedLoop, type InputSource, nowMs, openLoop, seededRandom } from './load-generator';
import { latencyStats, logHistogram, stability, windowStats } from './statistics';

export type Progress = (message: string) => void;

/**
 * Windows compared for stability, and how closely they must agree: within 10%, or within 20 µs
 * (the resolution at which this kind of machine's own noise lives; see statistics.stability).
 */
const STABILITY = { compare: 3, tolerance: 0.1, resolutionMs: 0.02 } as const;
/** Samples wanted before the latency percentiles are reported (the budget may end it sooner). */
const MIN_LATENCY_SAMPLES = 1000;
/** Requests expected per throughput trial, so Poisson noise stays small (±7% at 200). */
const REQUESTS_PER_TRIAL = 200;

export interface ExecutorSettings {
  readonly modelPath: string;
  readonly model: ModelInfo;
  readonly intraOpThreads: number;
  /** The container's CPU limit in cores: the executor decides whether to poll from it, as in the pod. */
  readonly cpus: number;
}

/** The batch settings the search tries: powers of two up to maxBatchSize when dim 0 is a batch dim. */
export function batchSettings(model: ModelInfo, maxBatchSize: number): number[] {
  if (!model.batchable) return [1];
  const settings: number[] = [];
  for (let size = 1; size <= maxBatchSize; size *= 2) settings.push(size);
  if (settings[settings.length - 1] !== maxBatchSize) settings.push(maxBatchSize);
  return settings;
}

/** How long a batch may wait to fill: a fifth of the bound, between 0.5 and 5 ms. */
export function queueDelayFor(maxBatchSize: number, latencyBoundMs: number): number {
  if (maxBatchSize === 1) return 0;
  return Math.min(5, Math.max(0.5, Math.round((latencyBoundMs / 5) * 10) / 10));
}

/**
 * Closed-loop latency of single requests in windows, until at least 1,000 samples and the last
 * three windows agree, or the budget runs out. Percentiles come from every sample.
 */
export async function measureLatency(
  executor: Executor,
  nextInput: InputSource,
  budgetMs: number,
  progress: Progress,
): Promise<LatencyMeasurement> {
  const windowMs = Math.max(200, budgetMs / 10);
  const deadline = nowMs() + budgetMs;
  const all: number[] = [];
  const windows = [];
  do {
    const result = await closedLoop(executor, nextInput, Math.min(windowMs, Math.max(1, deadline - nowMs())));
    all.push(...result.latenciesMs);
    windows.push(windowStats(result.latenciesMs, result.elapsedMs / 1000));
    const verdict = windows.length >= STABILITY.compare ? stability(windows, STABILITY) : undefined;
    progress(
      `latency: window ${windows.length}, ${all.length} samples${verdict ? `, ${verdict.stable ? 'stable' : 'not stable yet'}` : ''}`,
    );
    if (verdict?.stable && all.length >= MIN_LATENCY_SAMPLES) break;
  } while (nowMs() < deadline);
  return {
    ...latencyStats(all),
    ...stability(windows, STABILITY),
    windows,
    histogram: logHistogram(all),
  };
}

interface Trial {
  readonly rate: number;
  readonly pass: boolean;
  readonly p99Ms: number;
  readonly samples: number;
}

/**
 * The highest Poisson arrival rate whose p99 stays within the bound for one batch setting:
 * double from `startRate` until a rate fails, bisect between the last pass and the first
 * failure, then confirm the best rate over three windows for stability.
 */
export async function searchRateAtBound(
  settings: ExecutorSettings,
  maxBatchSize: number,
  gate: GateSpec,
  nextInput: InputSource,
  startRate: number,
  budgetMs: number,
  progress: Progress,
): Promise<BatchSettingResult> {
  const bound = gate.latencyBoundMs;
  const maxQueueDelayMs = queueDelayFor(maxBatchSize, bound);
  const executor = await Executor.create({
    modelPath: settings.modelPath,
    model: settings.model,
    workers: 1,
    intraOpThreads: settings.intraOpThreads,
    cpus: settings.cpus,
    ...(maxBatchSize > 1 ? { batching: { maxBatchSize, maxQueueDelayMs } } : {}),
    maxQueueSize: 100_000,
  });
  try {
    await closedLoop(executor, nextInput, 0, 20); // warm this session
    const random = seededRandom(gate.seed + maxBatchSize);
    const searchEnd = nowMs() + budgetMs * 0.6;
    const trialMs = (rate: number) =>
      Math.min(Math.max(250, (REQUESTS_PER_TRIAL / rate) * 1000), budgetMs / 6);
    const drainMs = bound * 5 + 100;
    const run = async (rate: number): Promise<Trial> => {
      const result = await openLoop(executor, nextInput, rate, trialMs(rate), random, drainMs, bound);
      const stats = result.latenciesMs.length > 0 ? latencyStats(result.latenciesMs) : undefined;
      const keptUp = result.late <= 0.01 * result.sent;
      const pass = result.failed === 0 && stats !== undefined && stats.p99Ms <= bound && keptUp;
      return {
        rate,
        pass,
        p99Ms: stats?.p99Ms ?? Infinity,
        samples: result.latenciesMs.length,
      };
    };
    const confirm = async (rate: number) => {
      const windows = [];
      const latencies: number[] = [];
      let withinBound = true;
      for (let i = 0; i < STABILITY.compare; i++) {
        const result = await openLoop(executor, nextInput, rate, trialMs(rate), random, drainMs, bound);
        latencies.push(...result.latenciesMs);
        const window = windowStats(result.latenciesMs, trialMs(rate) / 1000);
        withinBound &&=
          result.failed === 0 &&
          result.late <= 0.01 * result.sent &&
          window.samples > 0 &&
          window.p99Ms <= bound;
        // Served throughput of an open-loop window is the offered rate times the fraction answered:
        // completions per second would add the Poisson arrivals' own noise (±7% at 200 requests).
        windows.push({
          ...window,
          rps: result.sent > 0 ? (rate * result.latenciesMs.length) / result.sent : 0,
        });
      }
      const verdict = stability(windows, { ...STABILITY, on: 'throughput' });
      return {
        holds: verdict.stable && withinBound,
        detail: withinBound ? verdict.detail : `a window's p99 exceeded ${bound} ms or requests failed`,
        p99Ms: latencies.length > 0 ? latencyStats(latencies).p99Ms : Infinity,
        samples: latencies.length,
      };
    };
    let best: Trial | undefined;
    let lowestFail = Infinity;
    let rate = Math.max(1, startRate);
    while (nowMs() < searchEnd) {
      const trial = await run(rate);
      if (trial.pass) best = trial;
      else lowestFail = Math.min(lowestFail, rate);
      const low = best?.rate ?? 0;
      if (lowestFail !== Infinity && (lowestFail - low) / lowestFail < 0.05) break;
      rate = lowestFail === Infinity ? rate * 2 : (low + lowestFail) / 2;
      if (rate < 1) break; // not even one request per second fits the bound
    }
    if (!best) {
      progress(`throughput: batch ${maxBatchSize}: no rate kept p99 within ${bound} ms`);
      return { maxBatchSize, maxQueueDelayMs, rps: 0, p99Ms: lowestFail, samples: 0, stable: true };
    }
    // Confirm over three windows: the rate counts only if it holds, each window keeping p99 within
    // the bound and the served throughput steady. If it does not hold, back off 15% and confirm again.
    let rateToConfirm = best.rate;
    let confirmation = await confirm(rateToConfirm);
    for (let retry = 0; retry < 2 && !confirmation.holds && nowMs() < searchEnd + budgetMs * 0.3; retry++) {
      rateToConfirm *= 0.85;
      confirmation = await confirm(rateToConfirm);
    }
    progress(
      `throughput: batch ${maxBatchSize}: ${rateToConfirm.toFixed(0)} rps at p99 ${confirmation.p99Ms.toFixed(2)} ms (${confirmation.holds ? 'stable' : `unstable: ${confirmation.detail}`})`,
    );
    return {
      maxBatchSize,
      maxQueueDelayMs,
      rps: rateToConfirm,
      p99Ms: confirmation.p99Ms,
      samples: confirmation.samples,
      stable: confirmation.holds,
    };
  } finally {
    await executor.close();
  }
}

/**
 * The setting the server should use: among stable settings (all, when none is stable), the
 * smallest batch within 5% of the highest rate, since a bigger batch only adds queueing delay.
 */
export function chooseSetting(results: readonly BatchSettingResult[]): BatchSettingResult {
  const stable = results.filter((r) => r.stable && r.rps > 0);
  const pool = stable.length > 0 ? stable : results;
  const top = Math.max(...pool.map((r) => r.rps));
  return [...pool].sort((a, b) => a.maxBatchSize - b.maxBatchSize).find((r) => r.rps >= top * 0.95)!;
}

/** Throughput at the bound for every batch setting, and the chosen one (the service's capacity). */
export async function measureThroughput(
  settings: ExecutorSettings,
  gate: GateSpec,
  nextInput: InputSource,
  singleClientRps: number,
  budgetMs: number,
  progress: Progress,
): Promise<{ readonly throughput: ThroughputMeasurement; readonly chosen: BatchSettingResult }> {
  const sizes = batchSettings(settings.model, gate.maxBatchSize);
  const results: BatchSettingResult[] = [];
  const deadline = nowMs() + budgetMs;
  let startRate = Math.max(1, singleClientRps / 2);
  for (const [i, size] of sizes.entries()) {
    const share = Math.max(0, deadline - nowMs()) / (sizes.length - i);
    const result = await searchRateAtBound(settings, size, gate, nextInput, startRate, share, progress);
    results.push(result);
    if (result.rps > 0) startRate = result.rps;
  }
  const chosen = chooseSetting(results);
  return {
    throughput: {
      latencyBoundMs: gate.latencyBoundMs,
      rps: chosen.rps,
      stable: chosen.stable,
      settings: results,
    },
    chosen,
  };
}
