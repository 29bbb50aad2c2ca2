import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type BatchSettingResult } from '../lib/gate';
import { batchSettings, chooseSetting, queueDelayFor } from '../lib/gate/measure-performance';
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
