/**
 * The gate's performance decisions: which batch settings it tries, how long a batch may wait, when
 * latency windows agree, the throughput search and the setting it chooses. The searches run on a
 * virtual clock against a fake executor whose latency each test describes, so every result here
 * is exact and the same on any machine (test/gate-run.test.ts measures the real thing).
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type GateSpec } from '../lib/core';
import { type BatchSettingResult } from '../lib/gate';
import {
  batchSettings,
  chooseSetting,
  type ExecutorSettings,
  measureLatency,
  measureThroughput,
  queueDelayFor,
  searchRateAtBound,
  stabilityFor,
} from '../lib/gate/measure-performance';
import { forecastPeakBytes } from '../lib/gate/memory-forecast';
import { type WindowStats } from '../lib/gate/gate-report';
import { stability } from '../lib/gate/statistics';
import { inspectModel } from '../lib/model';
import { FakeExecutor, fakeExecutors, type LatencyModel, serviceTime } from './support/fake-executor';
import { VirtualClock } from './support/virtual-clock';

const IRIS = inspectModel(path.resolve(__dirname, '../examples/iris/model/iris.onnx'));
const SETTINGS: ExecutorSettings = { modelPath: IRIS.path, model: IRIS, intraOpThreads: 1, cpus: 1 };
/** The fake executor ignores its inputs. */
const noInputs = () => ({});

function setting(maxBatchSize: number, rps: number, stable = true): BatchSettingResult {
  return { maxBatchSize, maxQueueDelayMs: maxBatchSize === 1 ? 0 : 2, rps, p99Ms: 5, samples: 600, stable };
}

describe('batchSettings', () => {
  it('tries powers of two up to maxBatchSize, and maxBatchSize itself', () => {
    expect(batchSettings(IRIS, 32)).toEqual([1, 2, 4, 8, 16, 32]);
    expect(batchSettings(IRIS, 12)).toEqual([1, 2, 4, 8, 12]);
    expect(batchSettings(IRIS, 1)).toEqual([1]);
  });

  it('tries only batch 1 when dim 0 is not a batch dimension', () => {
    expect(batchSettings({ ...IRIS, batchable: false }, 32)).toEqual([1]);
  });
});

describe('queueDelayFor', () => {
  it('waits a fifth of the bound, between 0.5 and 5 ms, and never without batching', () => {
    expect(queueDelayFor(1, 100)).toBe(0);
    expect(queueDelayFor(8, 10)).toBe(2);
    expect(queueDelayFor(8, 1)).toBe(0.5);
    expect(queueDelayFor(8, 100)).toBe(5);
  });
});

describe('stabilityFor', () => {
  // Three latency windows of a 0.15 ms model on a shared CI runner: p50 flips by 19%, 30 µs.
  const windows: WindowStats[] = [0.15, 0.18, 0.155].map((p50Ms) => ({
    samples: 5000,
    p50Ms,
    p99Ms: 0.3,
    rps: 1000 / (p50Ms + 0.01),
  }));

  it('resolves 1% of the latency bound, and never finer than 20 µs', () => {
    expect(stabilityFor(20)).toEqual({ compare: 3, tolerance: 0.1, resolutionMs: 0.2 });
    expect(stabilityFor(1)).toEqual({ compare: 3, tolerance: 0.1, resolutionMs: 0.02 });
  });

  it('accepts a spread that is 1/700 of a 20 ms bound, where no verdict can turn', () => {
    const verdict = stability(windows, stabilityFor(20));
    expect(verdict.stable).toBe(true);
    expect(verdict.detail).toContain('or 200 µs');
  });

  it('still calls the same windows unstable against a 1 ms bound they could cross', () => {
    const verdict = stability(windows, stabilityFor(1));
    expect(verdict.stable).toBe(false);
    expect(verdict.detail).toContain('disagree by more than 10%');
  });
});

describe('chooseSetting', () => {
  it('picks the smallest batch within 5% of the best stable rate', () => {
    expect(chooseSetting([setting(1, 900), setting(4, 1960), setting(8, 2000)]).maxBatchSize).toBe(4);
    expect(chooseSetting([setting(1, 900), setting(4, 1800), setting(8, 2000)]).maxBatchSize).toBe(8);
  });

  it('ignores unstable settings while a stable one exists', () => {
    expect(chooseSetting([setting(1, 900), setting(8, 5000, false)]).maxBatchSize).toBe(1);
  });

  it('falls back to the best unstable setting when none is stable, which then fails the threshold', () => {
    const chosen = chooseSetting([setting(1, 900, false), setting(8, 2000, false)]);
    expect(chosen).toMatchObject({ maxBatchSize: 8, stable: false });
  });
});

/** A gate judged at `latencyBoundMs`, everything else at its default. */
function gateAt(latencyBoundMs: number, maxBatchSize = 1): GateSpec {
  return {
    latencyBoundMs,
    latencyP99Ms: latencyBoundMs,
    inputShapes: {},
    budgetSeconds: 20,
    maxBatchSize,
    seed: 1,
  };
}

/** measureLatency on a fake executor: the measurement, its progress lines and the virtual time it took. */
async function latencyOf(latency: LatencyModel, budgetMs: number, boundMs: number) {
  const clock = new VirtualClock();
  const progress: string[] = [];
  const measurement = await measureLatency(
    new FakeExecutor(clock, latency),
    noInputs,
    budgetMs,
    boundMs,
    (line) => progress.push(line),
    clock,
  );
  return { measurement, progress, tookMs: clock.now() };
}

describe('measureLatency', () => {
  it('stops as soon as three windows agree and it has 1,000 samples, before the budget ends', async () => {
    const { measurement, progress, tookMs } = await latencyOf(serviceTime(1), 3500, 20);
    // Windows of a tenth of the budget: 350 one-millisecond requests each.
    expect(measurement.windows.map((w) => w.samples)).toEqual([350, 350, 350]);
    expect(measurement).toMatchObject({ samples: 1050, p50Ms: 1, p99Ms: 1, maxMs: 1, stable: true });
    expect(tookMs).toBe(1050);
    expect(progress.at(-1)).toBe('latency: window 3, 1050 samples, stable');
  });

  it('keeps measuring after the windows agree until it has 1,000 samples', async () => {
    // 5 ms a request: 200 samples in each 1-second window.
    const { measurement, tookMs } = await latencyOf(serviceTime(5), 10_000, 20);
    expect(measurement.windows).toHaveLength(5);
    expect(measurement).toMatchObject({ samples: 1000, stable: true });
    expect(tookMs).toBe(5000);
  });

  it('measures until the budget ends and reports unstable when the windows keep disagreeing', async () => {
    // A machine that slows down by 1 ms every second (a noisy neighbour moving in).
    const drifting: LatencyModel = (_rows, startMs) => 1 + startMs / 1000;
    const { measurement, progress, tookMs } = await latencyOf(drifting, 3500, 5);
    expect(measurement.stable).toBe(false);
    expect(measurement.detail).toMatch(/^last 3 windows disagree by more than 10%: p50 spread \d/);
    expect(measurement.windows).toHaveLength(10);
    expect(tookMs).toBeGreaterThanOrEqual(3500);
    expect(progress.at(-1)).toMatch(/^latency: window 10, \d+ samples, not stable yet$/);
  });

  it('reports a budget too short for three windows as unstable', async () => {
    const { measurement, tookMs } = await latencyOf(serviceTime(1), 70, 20);
    expect(measurement).toMatchObject({
      samples: 70,
      stable: false,
      detail: 'only 1 measurement window, 3 needed to judge stability',
    });
    expect(tookMs).toBe(70);
  });

  it('accepts windows that differ by less than 1% of the bound, and not against a bound they could cross', async () => {
    // 0.10 ms and 0.13 ms windows in turn: 30% apart, and 30 µs.
    const flipping: LatencyModel = (_rows, startMs) => (Math.floor(startMs / 350) % 2 === 0 ? 0.1 : 0.13);
    const loose = await latencyOf(flipping, 3500, 20);
    const p50s = loose.measurement.windows.map((w) => w.p50Ms);
    expect(p50s.map((p50) => p50.toFixed(2))).toEqual(['0.10', '0.13', '0.10']);
    expect(loose.measurement.stable).toBe(true);
    expect(loose.measurement.detail).toContain('or 200 µs');
    const tight = await latencyOf(flipping, 3500, 1);
    expect(tight.measurement.stable).toBe(false);
    expect(tight.measurement.windows).toHaveLength(10);
  });
});

/** searchRateAtBound for one batch setting on fake executors: the result, progress, executors and virtual time. */
async function search(
  latency: LatencyModel,
  boundMs: number,
  {
    maxBatchSize = 1,
    budgetMs = 4000,
    settings = SETTINGS,
  }: { maxBatchSize?: number; budgetMs?: number; settings?: ExecutorSettings } = {},
) {
  const clock = new VirtualClock();
  const executors = fakeExecutors(clock, latency);
  const progress: string[] = [];
  const result = await searchRateAtBound(
    settings,
    maxBatchSize,
    gateAt(boundMs, maxBatchSize),
    noInputs,
    budgetMs,
    (line) => progress.push(line),
    { clock, startExecutor: executors.startExecutor },
  );
  return { result, progress, executors, tookMs: clock.now() };
}

describe('searchRateAtBound', () => {
  it('measures the capacity saturated, and holds the highest step of it when p99 stays within the bound', async () => {
    const { result, progress } = await search(serviceTime(1), 100);
    expect(result).toMatchObject({ maxBatchSize: 1, maxQueueDelayMs: 0, rps: 950, stable: true });
    expect(result.p99Ms).toBeLessThanOrEqual(100);
    expect(progress).toEqual([
      expect.stringMatching(/^throughput: batch 1: capacity 1000 rps, 950 rps at p99 [\d.]+ ms \(stable\)$/),
    ]);
  });

  it('steps down past the rates whose p99 breaks the bound, and reports the first that holds', async () => {
    // One server at 1 ms a request: at 95%, 85% and 70% of its capacity, Poisson arrivals queue past
    // 5 ms at p99; at 50% they do not.
    const { result } = await search(serviceTime(1), 5);
    expect(result).toMatchObject({ rps: 500, stable: true });
    expect(result.p99Ms).toBeLessThanOrEqual(5);
  });

  it('holds no rate when a lone request takes longer than the bound, and says which rate it tried last', async () => {
    const { result, progress } = await search(serviceTime(1), 0.5);
    expect(result).toMatchObject({ rps: 0, samples: 0, stable: false });
    expect(progress).toEqual([
      expect.stringMatching(
        /^throughput: batch 1: capacity 1000 rps, no rate held p99 within 0\.5 ms \(\d+ rps: p99 [\d.]+ ms or a backlog\)$/,
      ),
    ]);
  });

  it('drops a rate that held its long trial but not the windows confirming it', async () => {
    // The first trial at 950 rps runs from about 0.5 s to 1.5 s; then the machine stalls for 300 ms
    // (a noisy neighbour, a pause) while the confirmation windows run.
    const stalling: LatencyModel = (_rows, startMs) =>
      startMs >= 1600 && startMs < 1900 ? 1900 - startMs : 1;
    const { result } = await search(stalling, 100);
    expect(result).toMatchObject({ rps: 850, stable: true });
  });

  it('ends the search when the budget leaves no room for a trial', async () => {
    const { result, progress, tookMs } = await search(serviceTime(1), 20, { budgetMs: 300 });
    expect(result).toMatchObject({ rps: 0, stable: false });
    expect(progress).toEqual([
      'throughput: batch 1: capacity 1000 rps, no rate held p99 within 20 ms (no rate was tried within the budget)',
    ]);
    expect(tookMs).toBeLessThanOrEqual(300);
  });

  it('starts the executor as the server will run this setting, and closes it', async () => {
    const { executors } = await search(serviceTime(1, 0.1), 20, { maxBatchSize: 4 });
    expect(executors.started).toHaveLength(1);
    expect(executors.started[0].options).toEqual({
      modelPath: IRIS.path,
      model: IRIS,
      workers: 1,
      intraOpThreads: 1,
      cpus: 1,
      batching: { maxBatchSize: 4, maxQueueDelayMs: queueDelayFor(4, 20) },
      maxQueueSize: 100_000,
      inline: 'never',
    });
    expect(executors.started[0].executor.isClosed).toBe(true);
  });

  it('runs every setting inline or in workers as decided once for the model', async () => {
    const { executors } = await search(serviceTime(1), 20, { settings: { ...SETTINGS, inline: 'always' } });
    expect(executors.started[0].options.inline).toBe('always');
  });

  it('closes the executor when inference fails, and lets the failure through', async () => {
    const clock = new VirtualClock();
    const executors = fakeExecutors(clock, serviceTime(1), { failure: new Error('onnxruntime failed') });
    await expect(
      searchRateAtBound(SETTINGS, 1, gateAt(20), noInputs, 4000, () => undefined, {
        clock,
        startExecutor: executors.startExecutor,
      }),
    ).rejects.toThrow('onnxruntime failed');
    expect(executors.started[0].executor.isClosed).toBe(true);
  });
});

describe('measureThroughput', () => {
  async function throughput(latency: LatencyModel, budgetMs = 8000) {
    const clock = new VirtualClock();
    const executors = fakeExecutors(clock, latency);
    const measured = await measureThroughput(SETTINGS, gateAt(100, 8), noInputs, budgetMs, () => undefined, {
      clock,
      startExecutor: executors.startExecutor,
    });
    return { ...measured, executors, tookMs: clock.now() };
  }

  it('searches every batch setting and serves with the one that sustains the most', async () => {
    // A fixed 1 ms per batch and 0.1 ms per row: bigger batches spread the fixed cost.
    const { throughput: measured, chosen, executors } = await throughput(serviceTime(1, 0.1));
    expect(measured.settings.map((s) => s.maxBatchSize)).toEqual([1, 2, 4, 8]);
    expect(executors.started.map((s) => s.options.batching?.maxBatchSize ?? 1)).toEqual([1, 2, 4, 8]);
    expect(measured.settings.every((s) => s.stable && s.rps > 0)).toBe(true);
    expect(chosen.maxBatchSize).toBe(8);
    expect(measured).toMatchObject({ latencyBoundMs: 100, rps: chosen.rps, stable: true });
  });

  it('serves with the smallest batch when a bigger one gains less than 5%', async () => {
    // The time is all per row: batching gains almost nothing and would only add queueing delay.
    const { throughput: measured, chosen } = await throughput(serviceTime(0.01, 1));
    const best = Math.max(...measured.settings.map((s) => s.rps));
    expect(chosen.maxBatchSize).toBe(1);
    expect(chosen.rps).toBeGreaterThanOrEqual(best * 0.95);
  });

  it('does not try batch settings whose forecast memory exceeds the limit, and says so', async () => {
    const MIB = 2 ** 20;
    const clock = new VirtualClock();
    const executors = fakeExecutors(clock, serviceTime(1, 0.1));
    // The process peaks at 200 MiB plus 100 MiB per row of the largest batch started so far.
    const peak = () =>
      (200 + 100 * Math.max(0, ...executors.started.map((s) => s.options.batching?.maxBatchSize ?? 1))) * MIB;
    const progress: string[] = [];
    const { throughput: measured } = await measureThroughput(
      { ...SETTINGS, memoryBytes: 1024 * MIB },
      gateAt(100, 32),
      noInputs,
      8000,
      (line) => progress.push(line),
      { clock, startExecutor: executors.startExecutor, peakResidentBytes: peak },
    );
    // After 1 (300 MiB) and 2 (400 MiB): 100 MiB a row, so 4 → 600 and 8 → 1000 fit 1 GiB, 16 → 1800 does not.
    expect(measured.settings.map((s) => s.maxBatchSize)).toEqual([1, 2, 4, 8]);
    expect(measured.skipped).toEqual([
      { maxBatchSize: 16, forecastBytes: 1800 * MIB, memoryLimitBytes: 1024 * MIB },
      { maxBatchSize: 32, forecastBytes: 3400 * MIB, memoryLimitBytes: 1024 * MIB },
    ]);
    expect(progress).toContain(
      'throughput: batch 16, 32 not tried: batch 16 is forecast to peak at 1800 MiB, over the 1024 MiB memory limit',
    );
  });

  it('tries every setting without a memory limit, and reports nothing skipped', async () => {
    const { throughput: measured } = await throughput(serviceTime(1, 0.1));
    expect(measured.skipped).toBeUndefined();
  });

  it('gives each setting its share of the budget and keeps to the budget', async () => {
    const budgetMs = 8000;
    const { throughput: measured, tookMs } = await throughput(serviceTime(1, 0.1), budgetMs);
    expect(measured.settings).toHaveLength(4);
    // A held rate's two short confirmation windows (250 ms and their drain) may run past the budget.
    expect(tookMs).toBeLessThanOrEqual(budgetMs + 2 * 250 + 2 * (5 * 100 + 100));
  });
});

describe('forecastPeakBytes', () => {
  it('extrapolates the memory per row of the last two settings, never downwards', () => {
    expect(forecastPeakBytes([{ maxBatchSize: 1, peakBytes: 300 }], 8)).toBeUndefined();
    const grows = [
      { maxBatchSize: 1, peakBytes: 300 },
      { maxBatchSize: 2, peakBytes: 400 },
      { maxBatchSize: 4, peakBytes: 500 },
    ];
    // From the last two: 50 a row.
    expect(forecastPeakBytes(grows, 8)).toBe(700);
    // A peak that fell (freed memory is not the next batch's need) forecasts no growth.
    expect(
      forecastPeakBytes(
        [
          { maxBatchSize: 1, peakBytes: 400 },
          { maxBatchSize: 2, peakBytes: 380 },
        ],
        32,
      ),
    ).toBe(380);
  });
});
