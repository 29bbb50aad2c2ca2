import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type BatchSettingResult } from '../lib/gate';
import { batchSettings, chooseSetting, queueDelayFor, stabilityFor } from '../lib/gate/measure-performance';
import { type WindowStats } from '../lib/gate/gate-report';
import { stability } from '../lib/gate/statistics';
import { inspectModel } from '../lib/model';

const IRIS = inspectModel(path.resolve(__dirname, '../examples/iris/model/iris.onnx'));

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
