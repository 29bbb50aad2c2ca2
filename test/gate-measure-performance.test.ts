/**
 * The gate's performance decisions on the served path: which serving settings it tries, how long a
 * batch may wait, when latency windows agree, the p99 decisions with the gate's confidence, the
 * throughput search per setting and over settings, the setting it chooses, and the operating
 * point. Everything runs on a virtual clock against a fake served model whose latency each test
 * describes, so every result here is exact and the same on any machine (test/gate-run.test.ts
 * measures the real thing).
 *
 * The confidence decisions are checked against order statistics computed by hand: with n samples,
 * the number at or below the true p99 is B ~ Binomial(n, 0.99); the p99 is at most the u-th
 * smallest sample with 95% confidence for the smallest u with P(B ≤ u − 1) ≥ 0.95, and at least the
 * l-th for the largest l with P(B ≤ l − 1) ≤ 0.05 (lib/gate/confidence.ts).
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type GateSpec } from '../lib/core';
import { type ServingSetting } from '../lib/gate/bench-environment';
import { decideBounds } from '../lib/gate/confidence';
import { type BatchSettingResult, type WindowStats } from '../lib/gate/gate-report';
import {
  affordableSizes,
  batchSettings,
  chooseProbe,
  chooseSetting,
  decideP99,
  measureOperatingPoint,
  queueDelayFor,
  searchRateAtBound,
  searchServingSettings,
  type SettingOutcome,
  shorterQueueDelay,
  stabilityFor,
  trialAtRate,
} from '../lib/gate/measure-performance';
import { stability } from '../lib/gate/statistics';
import { inspectModel } from '../lib/model';
import { uniformRandom } from '../lib/runtime';
import { FakeExecutor, fakeExecutors, type LatencyModel, serviceTime } from './support/fake-executor';
import { VirtualClock } from './support/virtual-clock';

const IRIS = inspectModel(path.resolve(__dirname, '../examples/iris/model/iris.onnx'));
const MIB = 2 ** 20;

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

/** Every request `fastMs`, except those whose index (from 0, in arrival order) `isSlow` picks: `slowMs`. */
function slowWhen(isSlow: (index: number) => boolean, slowMs = 50, fastMs = 1): LatencyModel {
  return (_rows, _startMs, index) => (isSlow(index) ? slowMs : fastMs);
}

function result(
  maxBatchSize: number,
  rps: number,
  {
    maxQueueDelayMs = maxBatchSize === 1 ? 0 : 2,
    decision = 'within',
  }: { maxQueueDelayMs?: number; decision?: BatchSettingResult['decision'] } = {},
): BatchSettingResult {
  return {
    maxBatchSize,
    maxQueueDelayMs,
    capacityRps: rps / 0.85,
    rps,
    p99Ms: 5,
    samples: 600,
    decision,
    stable: true,
  };
}

describe('batchSettings', () => {
  it('tries 1, then ×4 up to maxBatchSize, and maxBatchSize itself', () => {
    expect(batchSettings(IRIS, 32)).toEqual([1, 4, 16, 32]);
    expect(batchSettings(IRIS, 64)).toEqual([1, 4, 16, 64]);
    expect(batchSettings(IRIS, 16)).toEqual([1, 4, 16]);
    expect(batchSettings(IRIS, 12)).toEqual([1, 4, 12]);
    expect(batchSettings(IRIS, 2)).toEqual([1, 2]);
    expect(batchSettings(IRIS, 1)).toEqual([1]);
  });

  it('tries only batch 1 when dim 0 is not a batch dimension', () => {
    expect(batchSettings({ ...IRIS, batchable: false }, 32)).toEqual([1]);
  });
});

describe('affordableSizes', () => {
  it('keeps every size the budget affords at 900 ms each, else the largest, the smallest, then the middle', () => {
    const sizes = [1, 4, 16, 32];
    expect(affordableSizes(sizes, 4 * 900)).toEqual(sizes);
    expect(affordableSizes(sizes, 3 * 900)).toEqual([1, 4, 32]);
    expect(affordableSizes(sizes, 2 * 900)).toEqual([1, 32]);
    expect(affordableSizes(sizes, 100)).toEqual([32]);
    expect(affordableSizes(sizes, 4000, 2000)).toEqual([1, 32]);
  });
});

describe('queueDelayFor', () => {
  it('waits a fifth of the bound, between 0.5 and 5 ms, and never without batching', () => {
    expect(queueDelayFor(1, 100)).toBe(0);
    expect(queueDelayFor(8, 10)).toBe(2);
    expect(queueDelayFor(8, 7)).toBe(1.4);
    expect(queueDelayFor(8, 1)).toBe(0.5);
    expect(queueDelayFor(8, 100)).toBe(5);
  });
});

describe('shorterQueueDelay', () => {
  it('tries a quarter of the delay, to 0.01 ms, and at least 0.1 ms', () => {
    expect(shorterQueueDelay(5)).toBe(1.25);
    expect(shorterQueueDelay(2)).toBe(0.5);
    expect(shorterQueueDelay(1.4)).toBe(0.35);
    expect(shorterQueueDelay(0.5)).toBe(0.13);
    expect(shorterQueueDelay(0.2)).toBe(0.1);
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
  it('picks the smallest batch within 5% of the highest held rate', () => {
    expect(chooseSetting([result(1, 900), result(4, 1960), result(16, 2000)]).maxBatchSize).toBe(4);
    expect(chooseSetting([result(1, 900), result(4, 1899), result(16, 2000)]).maxBatchSize).toBe(16);
    expect(chooseSetting([result(1, 1900), result(4, 1960), result(16, 2000)]).maxBatchSize).toBe(1);
  });

  it('breaks a tie between equal batches by the shorter queue delay', () => {
    const long = result(16, 2000, { maxQueueDelayMs: 5 });
    const short = result(16, 1990, { maxQueueDelayMs: 1.25 });
    expect(chooseSetting([result(1, 500), long, short])).toBe(short);
    expect(chooseSetting([result(1, 500), short, long])).toBe(short);
    // The shorter delay that holds less than 95% of the longer one's rate is not chosen.
    const shortAndSlow = result(16, 1800, { maxQueueDelayMs: 1.25 });
    expect(chooseSetting([long, shortAndSlow])).toBe(long);
  });

  it('chooses only among settings that held a rate, however high the others went', () => {
    const undecided = { ...result(16, 5000), rps: 0, decision: 'undecided' as const };
    expect(chooseSetting([result(1, 900), undecided]).maxBatchSize).toBe(1);
    expect(chooseSetting([result(1, 900), result(4, 4000, { decision: 'beyond' })]).maxBatchSize).toBe(1);
  });

  it('falls back to all settings when none held, and reports the first, smallest one', () => {
    const none = [
      { ...result(1, 0, { decision: 'beyond' }), detail: '150 rps: p99 …' },
      { ...result(4, 0, { decision: 'undecided' }), detail: '400 rps: …' },
    ];
    expect(chooseSetting(none)).toBe(none[0]);
  });
});

describe('chooseProbe', () => {
  const probe = (maxBatchSize: number, capacityRps: number, aloneBeyond = false) => ({
    setting: { maxBatchSize, maxQueueDelayMs: maxBatchSize === 1 ? 0 : 2 },
    capacityRps,
    aloneBeyond,
  });

  it('picks the smallest batch whose saturated capacity is within 5% of the highest', () => {
    expect(chooseProbe([probe(1, 900), probe(4, 2800), probe(8, 4400), probe(32, 4600)])).toEqual(
      probe(8, 4400),
    );
    expect(chooseProbe([probe(1, 900), probe(4, 2800), probe(8, 4300), probe(32, 4600)])).toEqual(
      probe(32, 4600),
    );
  });

  it('leaves out batch sizes where a request alone is beyond the bound, and picks none when that is all of them', () => {
    expect(chooseProbe([probe(1, 900), probe(32, 4600, true)])).toEqual(probe(1, 900));
    expect(chooseProbe([probe(1, 900, true), probe(32, 4600, true)])).toBeUndefined();
  });
});

describe('decideP99: the confidence decision against hand-computed order statistics', () => {
  const fast = (n: number) => Array.from({ length: n }, () => 1);

  it('299 samples: the upper rank is 299, the maximum, so every sample within the bound is within', () => {
    // P(B ≤ 298) = 1 − 0.99^299 = 0.95046 ≥ 0.95, and P(B ≤ 297) = 0.80085 < 0.95: u = 299.
    const { decision, bounds } = decideP99(fast(299), 10);
    expect(decision).toBe('within');
    expect(bounds).toMatchObject({ samples: 299, upperRank: 299, upper: 1 });
  });

  it('298 samples have no upper bound: 1 − 0.99^298 = 0.94996 < 0.95, so undecided however fast', () => {
    const { decision, bounds } = decideP99(fast(298), 10);
    expect(decision).toBe('undecided');
    expect(bounds?.upper).toBeUndefined();
    expect(bounds?.lowerRank).toBe(292);
  });

  it('299 samples, one above the bound: the upper bound is that one, the lower one is fast: undecided', () => {
    // u = 299 (above); l: P(B ≤ 292) = 0.0323 ≤ 0.05 < P(B ≤ 293) = 0.0819, so l = 293, a fast sample.
    const samples = [...fast(150), 50, ...fast(148)];
    const { decision, bounds } = decideP99(samples, 10);
    expect(decision).toBe('undecided');
    expect(bounds).toMatchObject({ upperRank: 299, upper: 50, lowerRank: 293, lower: 1 });
  });

  it('20 samples all above the bound: the lower rank is 19, beyond with 95% confidence', () => {
    // P(B ≤ 18) = 1 − 0.99^20 − 20 × 0.01 × 0.99^19 = 0.0169 ≤ 0.05 < P(B ≤ 19) = 0.1821: l = 19.
    const { decision, bounds } = decideP99(
      Array.from({ length: 20 }, () => 50),
      10,
    );
    expect(decision).toBe('beyond');
    expect(bounds).toMatchObject({ lowerRank: 19, lower: 50 });
    expect(bounds?.upper).toBeUndefined();
    // Two of 20 above put the 19th smallest above the bound (beyond); one of 20 does not (undecided).
    expect(decideP99([...fast(18), 50, 50], 10).decision).toBe('beyond');
    expect(decideP99([...fast(19), 50], 10).decision).toBe('undecided');
  });

  it('40 samples at 317 ms against a 2,000 ms limit: undecided, since below 299 samples there is no upper bound', () => {
    // l = 38: P(B ≤ 37) = 0.0075 ≤ 0.05 < P(B ≤ 38) = 0.0607; X(38) = 317 ms is not above 2,000 ms.
    const { decision, bounds } = decideP99(
      Array.from({ length: 40 }, () => 317),
      2000,
    );
    expect(decision).toBe('undecided');
    expect(bounds).toMatchObject({ samples: 40, lowerRank: 38, lower: 317 });
    expect(bounds?.upper).toBeUndefined();
  });

  it('1,000 samples: within with at most 4 above the bound (u = 996), beyond with 16 or more (l = 985)', () => {
    // P(B ≤ 994) = 0.9339 < 0.95 ≤ P(B ≤ 995) = 0.9713: u = 996, so the 996th smallest must be fast.
    // P(B ≤ 984) = 0.0479 ≤ 0.05 < P(B ≤ 985) = 0.0824: l = 985, so the 985th smallest must be slow.
    const withSlow = (k: number) => [...Array.from({ length: k }, () => 50), ...fast(1000 - k)];
    expect(decideP99(withSlow(4), 10).decision).toBe('within');
    expect(decideP99(withSlow(5), 10).decision).toBe('undecided');
    expect(decideP99(withSlow(15), 10).decision).toBe('undecided');
    expect(decideP99(withSlow(16), 10).decision).toBe('beyond');
  });

  it('decides nothing from no samples', () => {
    expect(decideP99([], 10)).toEqual({ decision: 'undecided' });
  });
});

/**
 * A load generator that costs `costMs` of its own time per request sent: every wait on the clock
 * takes that much longer for each request sent since the last one. Below 1 / costMs requests per
 * ms it keeps to its schedule; above, it falls further behind with every request.
 */
function costlyGenerator(clock: VirtualClock, costMs: number) {
  let sentSinceSleep = 0;
  return {
    clock: {
      now: () => clock.now(),
      sleep: (ms: number) => {
        const extra = sentSinceSleep * costMs;
        sentSinceSleep = 0;
        return clock.sleep(ms + extra);
      },
    },
    wrap<T extends { infer(): Promise<unknown> }>(target: T): T {
      const infer = target.infer.bind(target);
      return Object.assign(Object.create(target) as T, {
        infer: () => {
          sentSinceSleep++;
          return infer();
        },
      });
    },
  };
}

describe('trialAtRate', () => {
  /**
   * A trial at 1,000 rps against a fake that answers every request after exactly what `latency`
   * says (as many at once as arrive), judged against a 10 ms bound.
   */
  async function trial(latency: LatencyModel, { minMs = 250, maxMs = 3000, boundMs = 10 } = {}) {
    const clock = new VirtualClock();
    const target = new FakeExecutor(clock, latency, 1, { workers: Infinity });
    const outcome = await trialAtRate(target, 1000, boundMs, minMs, maxMs, uniformRandom(3), clock);
    const slow = outcome.latenciesMs.filter((l) => l > boundMs).length;
    return { outcome, slow, tookMs: clock.now() };
  }

  it('holds when the p99 is shown within: one slow request in 500 is decided within at 473 samples', async () => {
    // With one sample above the bound, the p99's upper bound is fast once u ≤ n − 1, that is once
    // P(B ≤ n − 2) ≥ 0.95: n = 473 (P = 0.95020; at 472, 0.94979). The lead-in's answers (the first
    // 300 ms, about 300 requests) are not judged: the slow request is the 401st sent, about the
    // 100th judged, and the next one, the 901st, about the 600th.
    const { outcome, slow } = await trial(slowWhen((i) => i % 500 === 400));
    expect(outcome.decision).toBe('within');
    expect(slow).toBe(1);
    expect(outcome.latenciesMs.length).toBeGreaterThanOrEqual(473);
    expect(outcome.latenciesMs.length).toBeLessThan(550);
    // Latency counts from the scheduled send: the fast ones are 1 ms, plus at most the 1 ms the
    // sender's timer may be late.
    expect(outcome.p99UpperMs).toBeLessThanOrEqual(2);
    expect(outcome.detail).toMatch(
      /^1000 rps: p99 [\d.]+ ms from \d+ samples, within 10 ms with 95% confidence$/,
    );
  });

  it('fails when the p99 is shown beyond: one slow request in 20 is decided beyond', async () => {
    const { outcome, slow, tookMs } = await trial(slowWhen((i) => i % 20 === 10));
    expect(outcome.decision).toBe('beyond');
    expect(outcome.detail).toMatch(
      /^1000 rps: p99 50(\.\d+)? ms from \d+ samples, beyond 10 ms with 95% confidence$/,
    );
    // Decided and abandoned at the first check with enough slow answers: well before maxMs.
    expect(slow).toBeGreaterThanOrEqual(2);
    expect(tookMs).toBeLessThan(1000);
  });

  it('stays undecided when exactly 1% is slow, and says so when maxMs runs out', async () => {
    // k = n/100 slow: the u-th smallest (n − u < n/100 for these n) is slow and the l-th
    // (n − l > n/100) is fast, for every n the trial reaches.
    const { outcome, tookMs } = await trial(
      slowWhen((i) => i % 100 === 50),
      { maxMs: 2000 },
    );
    expect(outcome.decision).toBe('undecided');
    expect(outcome.detail).toMatch(
      /^1000 rps: p99 [\d.]+ ms from \d+ samples, not decided against 10 ms within the time it had$/,
    );
    expect(tookMs).toBeGreaterThanOrEqual(2000);
  });

  it('does not hold within before minMs, however early the p99 is shown within', async () => {
    const { outcome, tookMs } = await trial(serviceTime(1), { minMs: 1500 });
    expect(outcome.decision).toBe('within');
    expect(tookMs).toBeGreaterThanOrEqual(1500);
    expect(outcome.latenciesMs.length).toBeGreaterThan(1200);
  });

  it('calls a backlog left behind beyond, whatever the percentiles say', async () => {
    // Requests started in the last 8 ms of a 1,000 ms trial (which starts after a 100 ms quota
    // period of rest) take 100 ms: answered later than sending's end plus the 10 ms bound, more than
    // 1% of those sent, yet too few to show the p99 beyond (1,000 samples need 16 above, l = 985).
    const stallAtEnd: LatencyModel = (_rows, startMs) => (startMs >= 1092 ? 100 : 1);
    const { outcome, slow } = await trial(stallAtEnd, { minMs: 1000, maxMs: 1000 });
    expect(slow).toBeGreaterThan(0.01 * outcome.latenciesMs.length);
    expect(decideP99(outcome.latenciesMs, 10).decision).toBe('undecided');
    expect(outcome.decision).toBe('beyond');
    expect(outcome.detail).toBe(
      `1000 rps: a backlog (${slow} answers later than 10 ms after sending stopped)`,
    );
  });

  it('gives no verdict when the load generator falls behind its schedule and the rate does not hold, and says by how much', async () => {
    // 1.5 ms a request: this generator can send about 667 a second; 1,000 is beyond it.
    const clock = new VirtualClock();
    const generator = costlyGenerator(clock, 1.5);
    const target = generator.wrap(new FakeExecutor(clock, serviceTime(0.1), 1, { workers: Infinity }));
    const outcome = await trialAtRate(target, 1000, 40, 250, 3000, uniformRandom(3), generator.clock);
    expect(outcome).toMatchObject({ decision: 'undecided', generatorBehind: true });
    expect(outcome.detail).toMatch(
      /^1000 rps: the load generator fell behind \((\d+) of (\d+) requests sent more than 4\.0 ms late, up to (\d+) ms\): no verdict on the server at this rate$/,
    );
    // Late, but the latencies (which count its lateness) are still within a looser bound: that holds.
    const slack = await trialAtRate(target, 700, 500, 250, 3000, uniformRandom(3), generator.clock);
    expect(slack).toMatchObject({ decision: 'within' });
    expect(slack.generatorBehind).toBeUndefined();
    // Within its means it keeps to the schedule: a verdict on the server.
    const calm = await trialAtRate(target, 100, 40, 250, 8000, uniformRandom(3), generator.clock);
    expect(calm).toMatchObject({ decision: 'within' });
    expect(calm.generatorBehind).toBeUndefined();
  });

  it('calls failed requests beyond, and names the first error', async () => {
    const clock = new VirtualClock();
    const target = new FakeExecutor(clock, serviceTime(1), 1, {
      failure: new Error('503 overloaded'),
      failFrom: 100,
    });
    const outcome = await trialAtRate(target, 1000, 10, 250, 3000, uniformRandom(3), clock);
    expect(outcome.decision).toBe('beyond');
    expect(outcome.detail).toMatch(/^1000 rps: \d+ of \d+ requests failed \(503 overloaded\)$/);
  });
});

const ONE: ServingSetting = { maxBatchSize: 1, maxQueueDelayMs: 0 };

/** searchRateAtBound on fake servers: the outcome, its progress lines, the servers and the virtual time. */
async function searchAt(
  latency: LatencyModel,
  boundMs: number,
  {
    setting = ONE,
    budgetMs = 4000,
    keepOpen = false,
    fake = {},
  }: {
    setting?: ServingSetting;
    budgetMs?: number;
    keepOpen?: boolean;
    fake?: Parameters<typeof fakeExecutors>[2];
  } = {},
) {
  const clock = new VirtualClock();
  const executors = fakeExecutors(clock, latency, fake);
  const progress: string[] = [];
  const outcome = await searchRateAtBound(
    setting,
    gateAt(boundMs, setting.maxBatchSize),
    budgetMs,
    (line) => progress.push(line),
    { clock, startExecutor: executors.startExecutor },
    { keepOpen },
  );
  return { outcome, result: outcome.result, progress, executors, tookMs: clock.now() };
}

describe('searchRateAtBound', () => {
  it('measures the capacity saturated, and holds the highest step of it whose p99 is shown within the bound', async () => {
    const { result, outcome, progress, executors } = await searchAt(serviceTime(1), 100, {
      budgetMs: 8000,
      fake: { readyMs: 250, peakMemoryBytes: () => 300 * MIB },
    });
    // One worker at 1 ms a request completes 1,000 a second; 95% of it is the highest step.
    expect(result).toMatchObject({
      maxBatchSize: 1,
      maxQueueDelayMs: 0,
      capacityRps: 1000,
      rps: 950,
      decision: 'within',
    });
    expect(result.p99UpperMs).toBeLessThanOrEqual(100);
    expect(result.p99Ms).toBeLessThanOrEqual(result.p99UpperMs!);
    // At least 299 samples: fewer give no upper bound of the p99.
    expect(result.samples).toBeGreaterThanOrEqual(299);
    expect(outcome.heldLatenciesMs).toHaveLength(result.samples);
    expect(outcome).toMatchObject({ readyMs: 250, peakMemoryBytes: 300 * MIB });
    expect(outcome.target).toBeUndefined();
    expect(progress.at(-1)).toMatch(
      /^throughput: batch 1: capacity 1000 rps, 950 rps at p99 [\d.]+ ms \(≤ [\d.]+ ms with 95% confidence, \d+ samples\)$/,
    );
    expect(executors.started.map((s) => s.setting)).toEqual([ONE]);
    expect(executors.started[0].executor.isClosed).toBe(true);
  });

  // Every step up held: no rate above the held one was refused, so there is nothing to report.
  it('says nothing did not hold when every rate it tried held', async () => {
    const { result, progress } = await searchAt(serviceTime(1), 100);
    expect(
      progress.filter((line) => / rps: p99 /.test(line)).every((line) => line.includes('within 100 ms')),
    ).toBe(true);
    expect(result.detail).toBeUndefined();
  });

  it('steps down past the rates shown beyond the bound, then halves the gap to the lowest refused rate down to 3% of the capacity', async () => {
    // One server at 1 ms a request: Poisson arrivals at 70% of its capacity queue past 6 ms at p99;
    // at 55% they do not.
    const { result, progress } = await searchAt(serviceTime(1), 6, { budgetMs: 16_000 });
    expect(result).toMatchObject({ capacityRps: 1000, decision: 'within' });
    expect(result.p99UpperMs).toBeLessThanOrEqual(6);
    const rates = progress
      .filter((line) => / rps: p99 /.test(line))
      .map((line) => /: (\d+) rps: .*, (within|beyond|not decided)/.exec(line)!.slice(1));
    // Down from 70% to the first that holds; no step up reaches past 700 rps, which was refused:
    // halving [550, 700] instead while the gap is wider than 30 rps (3% of 1,000).
    expect(rates.slice(0, 2)).toEqual([
      ['700', 'beyond'],
      ['550', 'within'],
    ]);
    let held = 550;
    let refused = 700;
    for (const [rate, decision] of rates.slice(2)) {
      expect(Number(rate)).toBe(Math.round((held + refused) / 2));
      if (decision === 'within') held = (held + refused) / 2;
      else refused = (held + refused) / 2;
    }
    expect(refused - held).toBeLessThanOrEqual(30);
    expect(rates.length).toBe(5); // 150 → 75 → 37.5 → 18.75: three halvings
    expect(result.rps).toBeCloseTo(held, 6);
    expect(result.detail).toMatch(
      /^the next rate did not hold: \d+ rps: p99 [\d.]+ ms from \d+ samples, beyond 6 ms/,
    );
    expect(result.generatorBound).toBeUndefined();
  });

  it('holds the highest rate the load generator could offer, and calls the figure generator-bound', async () => {
    // The server holds 95% of its 1,000 rps within 100 ms; this generator offers about 667 rps at most.
    const clock = new VirtualClock();
    const generator = costlyGenerator(clock, 1.5);
    const executors = fakeExecutors(clock, serviceTime(1));
    const progress: string[] = [];
    const outcome = await searchRateAtBound(ONE, gateAt(100), 16_000, (line) => progress.push(line), {
      clock: generator.clock,
      startExecutor: async (setting) => generator.wrap(await executors.startExecutor(setting)),
    });
    expect(outcome.result).toMatchObject({ decision: 'within', generatorBound: true });
    // Its lateness counts as latency, so a rate it sent late may still hold: up to about its means.
    expect(outcome.result.rps).toBeGreaterThanOrEqual(550);
    expect(outcome.result.rps).toBeLessThan(850);
    expect(outcome.result.detail).toMatch(
      /^the next rate did not hold: \d+ rps: the load generator fell behind/,
    );
    // No rate above the first one the generator could not offer was tried.
    const behind = progress.filter((line) => line.includes('the load generator fell behind'));
    expect(behind.length).toBeGreaterThan(0);
  });

  it('measures nothing when the load generator falls behind at every rate, and says so', async () => {
    // A generator that wakes 5 ms late every time: every rate is sent late, by more than the 2 ms
    // a 5 ms bound tolerates, and the lateness alone breaks the bound; counted from when each
    // request really left, the 0.1 ms server is well within it.
    const clock = new VirtualClock();
    const late = { now: () => clock.now(), sleep: (ms: number) => clock.sleep(ms + 5) };
    const executors = fakeExecutors(clock, serviceTime(0.1));
    const progress: string[] = [];
    const { result } = await searchRateAtBound(ONE, gateAt(5), 8000, (line) => progress.push(line), {
      clock: late,
      startExecutor: executors.startExecutor,
    });
    expect(result).toMatchObject({ rps: 0, decision: 'undecided', generatorBound: true });
    expect(result.detail).toMatch(/^\d+ rps: the load generator fell behind/);
    const trials = progress.filter((line) => / rps: /.test(line) && !line.includes('capacity'));
    expect(trials.length).toBeGreaterThan(0);
    expect(trials.every((line) => line.includes('the load generator fell behind'))).toBe(true);
  });

  it('lets a rate stand as beyond when it is beyond the bound even counted from when each request left', async () => {
    // The same late generator, against a 1 ms server at 5 ms: 700 rps queues past 5 ms at p99 however
    // its requests are counted, so that rate is the server's and says so.
    const clock = new VirtualClock();
    const late = { now: () => clock.now(), sleep: (ms: number) => clock.sleep(ms + 5) };
    const target = new FakeExecutor(clock, serviceTime(1));
    const trial = await trialAtRate(target, 700, 5, 250, 3000, uniformRandom(3), late);
    expect(trial.decision).toBe('beyond');
    expect(trial.generatorBehind).toBeUndefined();
    expect(trial.detail).toMatch(
      /^700 rps: p99 [\d.]+ ms from \d+ samples, beyond 5 ms with 95% confidence$/,
    );
  });

  it('holds nothing and tries no rate when a lone request is shown beyond the bound', async () => {
    const { result, outcome, progress } = await searchAt(serviceTime(1), 0.5);
    expect(result).toMatchObject({ rps: 0, decision: 'beyond', stable: false });
    expect(result.p99UpperMs).toBeUndefined();
    // Latency only grows with load: a request alone over the bound rules out every rate.
    expect(result.detail).toMatch(
      /^a request alone: p99 1\.00 ms from \d+ samples, beyond 0\.5 ms with 95% confidence, so no rate can hold$/,
    );
    expect(progress.filter((line) => / rps: p99 /.test(line))).toEqual([]);
    expect(outcome.heldLatenciesMs).toEqual([]);
    expect(progress.at(-1)).toBe(
      `throughput: batch 1: capacity 1000 rps, no rate shown within 0.5 ms (${result.detail})`,
    );
  });

  it('ends the search when the budget leaves no room for a trial', async () => {
    const { result, progress, tookMs, executors } = await searchAt(serviceTime(1), 20, { budgetMs: 300 });
    expect(result).toMatchObject({ rps: 0, samples: 0, decision: 'undecided', p99Ms: Infinity });
    expect(result.detail).toBe('no rate was tried within the budget');
    expect(progress.at(-1)).toBe(
      'throughput: batch 1: capacity 1000 rps, no rate shown within 20 ms (no rate was tried within the budget)',
    );
    expect(tookMs).toBeLessThanOrEqual(300);
    expect(executors.started[0].executor.isClosed).toBe(true);
  });

  it('starts the server with the setting, and leaves it running for the caller when asked to', async () => {
    const setting = { maxBatchSize: 4, maxQueueDelayMs: queueDelayFor(4, 20) };
    const { outcome, executors, progress } = await searchAt(serviceTime(1, 0.1), 20, {
      setting,
      keepOpen: true,
    });
    expect(executors.started.map((s) => s.setting)).toEqual([setting]);
    expect(outcome.target).toBe(executors.started[0].executor);
    expect(executors.started[0].executor.isClosed).toBe(false);
    expect(progress[0]).toMatch(/^throughput: batch 4 \(queue delay 4 ms\): saturated capacity \d+ rps/);
  });

  it('closes the server when inference fails, and lets the failure through', async () => {
    const clock = new VirtualClock();
    const executors = fakeExecutors(clock, serviceTime(1), { failure: new Error('connection refused') });
    await expect(
      searchRateAtBound(
        ONE,
        gateAt(20),
        4000,
        () => undefined,
        { clock, startExecutor: executors.startExecutor },
        { keepOpen: true },
      ),
    ).rejects.toThrow('connection refused');
    expect(executors.started[0].executor.isClosed).toBe(true);
  });

  it('reports requests failing during the trials as not holding, naming the error, and closes the server', async () => {
    // Every request fails from the first trial on: counted on a run without failures, since the
    // probe, the warm-up and the capacity come first.
    const clock = new VirtualClock();
    const healthy = fakeExecutors(clock, serviceTime(1));
    let beforeTrials = 0;
    await searchRateAtBound(
      ONE,
      gateAt(20),
      4000,
      (line) => {
        if (line.includes('trying rates')) beforeTrials = healthy.started[0].executor.answered;
      },
      { clock, startExecutor: healthy.startExecutor },
    );
    expect(beforeTrials).toBeGreaterThan(0);
    const { result, executors } = await searchAt(serviceTime(1), 20, {
      fake: { failure: new Error('503 overloaded'), failFrom: beforeTrials },
    });
    expect(result).toMatchObject({ rps: 0, decision: 'beyond' });
    expect(result.detail).toMatch(/^100 rps: (\d+) of \1 requests failed \(503 overloaded\)$/);
    expect(executors.started[0].executor.isClosed).toBe(true);
  });
});

/** searchServingSettings on fake servers: the outcome, its progress, the servers and the virtual time. */
async function searchSettings(
  latency: LatencyModel,
  {
    boundMs = 100,
    maxBatchSize = 8,
    budgetMs = 8000,
    model = IRIS,
    memoryLimitBytes,
    generatorCeilingRps = 1e6,
    fake = {},
    settingExtraMs = 0,
  }: {
    boundMs?: number;
    maxBatchSize?: number;
    budgetMs?: number;
    model?: typeof IRIS;
    memoryLimitBytes?: number;
    generatorCeilingRps?: number;
    fake?: Parameters<typeof fakeExecutors>[2];
    settingExtraMs?: number;
  } = {},
) {
  const clock = new VirtualClock();
  const executors = fakeExecutors(clock, latency, fake);
  const progress: string[] = [];
  const outcome = await searchServingSettings(
    model,
    gateAt(boundMs, maxBatchSize),
    memoryLimitBytes,
    generatorCeilingRps,
    budgetMs,
    (line) => progress.push(line),
    { clock, startExecutor: executors.startExecutor },
    settingExtraMs,
  );
  return { ...outcome, progress, executors, tookMs: clock.now() };
}

const settingsOf = (results: readonly BatchSettingResult[]) =>
  results.map((r) => [r.maxBatchSize, r.maxQueueDelayMs]);

describe('searchServingSettings', () => {
  it('probes every batch size saturated, searches rates on the best only, then its shorter queue delay at the rate held', async () => {
    // A fixed 1 ms per batch and 0.1 ms per row: bigger batches spread the fixed cost.
    const { throughput, chosen, executors, progress } = await searchSettings(serviceTime(1, 0.1), {
      budgetMs: 24_000,
    });
    expect(settingsOf(throughput.settings)).toEqual([
      [1, 0],
      [4, 5],
      [8, 5],
      [8, 1.25],
    ]);
    expect(executors.started.map((s) => [s.setting.maxBatchSize, s.setting.maxQueueDelayMs])).toEqual(
      settingsOf(throughput.settings),
    );
    // Capacity grows with the batch: 1 / 1.1 ms, 4 / 1.4 ms, 8 / 1.8 ms.
    expect(throughput.settings.map((s) => Math.round(s.capacityRps / 100) * 100)).toEqual([
      900, 2900, 4400, 4400,
    ]);
    // The smaller batches were only probed: no rate was tried on them.
    expect(throughput.settings.slice(0, 2)).toEqual([
      expect.objectContaining({ decision: 'not searched', rps: 0, samples: 0 }),
      expect.objectContaining({ decision: 'not searched', rps: 0, samples: 0 }),
    ]);
    expect(throughput.settings[0].detail).toMatch(
      /^no rate searched: batch 8 served \d+ rps saturated, and the search went there$/,
    );
    const trials = progress.filter((line) => / rps: p99 /.test(line));
    expect(trials.length).toBeGreaterThan(2);
    expect(trials.every((line) => line.startsWith('throughput: batch 8 '))).toBe(true);
    // The shorter delay is tried at the rate batch 8 held, and nothing else.
    const shorter = trials.filter((line) => line.includes('queue delay 1.25 ms'));
    expect(shorter).toHaveLength(1);
    expect(shorter[0]).toContain(`: ${throughput.settings[2].rps.toFixed(0)} rps: p99`);
    // The fake does not wait for batches to fill, so the shorter delay holds the same rate: it serves.
    expect(throughput.settings.slice(2).every((s) => s.decision === 'within' && s.rps > 0)).toBe(true);
    expect(throughput.settings[3].rps).toBe(throughput.settings[2].rps);
    expect(chosen.result).toMatchObject({ maxBatchSize: 8, maxQueueDelayMs: 1.25 });
    expect(chosen.result).toBe(chooseSetting(throughput.settings));
    expect(throughput).toMatchObject({
      latencyBoundMs: 100,
      rps: chosen.result.rps,
      decision: 'within',
      stable: chosen.result.stable,
      generatorBound: false,
    });
    expect(throughput.skipped).toBeUndefined();
    expect(chosen.heldLatenciesMs).toHaveLength(chosen.result.samples);
  });

  it('gives the best batch size more of the budget than a search on every setting would: its held rate is 95% of its capacity', async () => {
    const { throughput } = await searchSettings(serviceTime(1, 0.1), { maxBatchSize: 32, budgetMs: 10_000 });
    const searched = throughput.settings.find((s) => s.decision === 'within')!;
    expect(searched.maxBatchSize).toBe(32);
    expect(searched.rps / searched.capacityRps).toBeCloseTo(0.95, 6);
  });

  it('keeps the chosen server running for the operating point when it is the last, and closes every other', async () => {
    const { chosen, executors } = await searchSettings(serviceTime(1, 0.1));
    const last = executors.started.at(-1)!.executor;
    expect(chosen.target).toBe(last);
    expect(last.isClosed).toBe(false);
    expect(executors.started.slice(0, -1).every((s) => s.executor.isClosed)).toBe(true);
    await last.close();
  });

  it('searches the smallest batch whose capacity is within 5% of the best, on a server started again, and tries no shorter delay', async () => {
    // The time is all per row: batching gains almost nothing and would only add queueing delay.
    const { throughput, chosen, executors } = await searchSettings(serviceTime(0.01, 1));
    expect(settingsOf(throughput.settings)).toEqual([
      [1, 0],
      [4, 5],
      [8, 5],
    ]);
    expect(chosen.result).toMatchObject({ maxBatchSize: 1, decision: 'within' });
    expect(throughput.settings.slice(1).map((s) => s.decision)).toEqual(['not searched', 'not searched']);
    // Batch 1's probe server was closed for the next probe: the search starts it again and keeps it.
    expect(executors.started.map((s) => s.setting.maxBatchSize)).toEqual([1, 4, 8, 1]);
    expect(chosen.target).toBe(executors.started[3].executor);
    expect(executors.started.slice(0, 3).every((s) => s.executor.isClosed)).toBe(true);
    await chosen.target!.close();
  });

  it('holds no rate and searches none when a request alone is beyond the bound at every batch size', async () => {
    const { throughput, chosen, executors, progress } = await searchSettings(serviceTime(1, 0.1), {
      boundMs: 0.5,
    });
    expect(throughput.settings.map((s) => s.decision)).toEqual(['beyond', 'beyond', 'beyond']);
    expect(throughput).toMatchObject({ rps: 0, decision: 'beyond' });
    expect(chosen.result).toBe(throughput.settings[0]);
    expect(chosen.target).toBeUndefined();
    expect(executors.started.every((s) => s.executor.isClosed)).toBe(true);
    expect(progress.filter((line) => / rps: p99 /.test(line))).toEqual([]);
    expect(progress.at(-1)).toBe(
      'throughput: no batch size holds a rate: a request alone is beyond 0.5 ms on each',
    );
  });

  it('does not try batch sizes whose memory is forecast over the limit, and says so', async () => {
    // A server peaks at 200 MiB plus 100 MiB a row of its batch size.
    const { throughput, progress, executors, peakMemoryBytes } = await searchSettings(serviceTime(1, 0.1), {
      maxBatchSize: 32,
      budgetMs: 24_000,
      memoryLimitBytes: 1024 * MIB,
      fake: { peakMemoryBytes: (setting) => (200 + 100 * setting.maxBatchSize) * MIB },
    });
    // After 1 (300 MiB) and 4 (600 MiB): 100 MiB a row, so 16 → 1,800 MiB and 32 → 3,400 MiB.
    expect(throughput.skipped).toEqual([
      { maxBatchSize: 16, forecastBytes: 1800 * MIB, memoryLimitBytes: 1024 * MIB },
      { maxBatchSize: 32, forecastBytes: 3400 * MIB, memoryLimitBytes: 1024 * MIB },
    ]);
    expect(progress).toContain(
      'throughput: batch 16, 32 not tried: batch 16 is forecast to peak at 1800 MiB, over the 1024 MiB memory limit',
    );
    expect(executors.started.every((s) => s.setting.maxBatchSize <= 4)).toBe(true);
    expect(settingsOf(throughput.settings)).toEqual([
      [1, 0],
      [4, 5],
      [4, 1.25],
    ]);
    expect(peakMemoryBytes).toBe(600 * MIB);
  });

  it('tries every batch size without a memory limit, and reports the first server start and the highest peak', async () => {
    const { throughput, readyMs, peakMemoryBytes } = await searchSettings(serviceTime(1, 0.1), {
      maxBatchSize: 32,
      fake: { readyMs: 420, peakMemoryBytes: (setting) => (200 + 100 * setting.maxBatchSize) * MIB },
    });
    expect(throughput.skipped).toBeUndefined();
    expect(throughput.settings.map((s) => s.maxBatchSize).slice(0, 4)).toEqual([1, 4, 16, 32]);
    expect(readyMs).toBe(420);
    expect(peakMemoryBytes).toBe(3400 * MIB);
  });

  it('probes only the batch sizes the budget affords, the largest first, and no shorter delay without room for it', async () => {
    const sizes = async (budgetMs: number) =>
      settingsOf(
        (await searchSettings(serviceTime(1, 0.1), { maxBatchSize: 32, budgetMs })).throughput.settings,
      );
    // 30% of the budget probes, at least 600 ms each: 2,000 ms affords one probe, 4,000 ms two.
    expect(await sizes(2000)).toEqual([[32, 5]]);
    expect(await sizes(4000)).toEqual([
      [1, 0],
      [32, 5],
    ]);
  });

  it.each([
    ['every rate holds', serviceTime(1, 0.1), 100, [2000, 8000]],
    ['no rate holds', serviceTime(1), 0.5, [2000, 8000]],
    ['the machine slows down', (_rows: number, startMs: number) => 1 + startMs / 1000, 20, [2000, 8000]],
    ['exactly 1% is slow, so no rate is ever decided', slowWhen((i) => i % 100 === 50, 30), 10, [2000, 8000]],
    ['a request takes 50 ms', serviceTime(50), 500, [2000, 30_000]],
    // As the benchmark worker does for a slow model: a setting costs the time to decide a trial,
    // so the budget affords fewer settings.
    ['a request takes 200 ms', serviceTime(200), 2000, [8000, 30_000], 60_000],
  ])('keeps to the budget when %s', async (_name, latency, boundMs, budgets, settingExtraMs = 0) => {
    for (const budgetMs of budgets) {
      const { tookMs, throughput } = await searchSettings(latency, {
        boundMs,
        maxBatchSize: 32,
        budgetMs,
        settingExtraMs: Math.min(settingExtraMs, budgetMs),
      });
      expect(throughput.settings.length).toBeGreaterThan(0);
      // Measured: at most 0.89 of the budget; trials may drain answers past the deadline.
      expect(tookMs).toBeLessThanOrEqual(budgetMs * 1.1);
    }
  });

  it('calls the capacity generator-bound when it reaches 90% of the load generator ceiling', async () => {
    const batch1 = { ...IRIS, batchable: false };
    const { throughput } = await searchSettings(serviceTime(1), { model: batch1 });
    const capacity = throughput.settings[0].capacityRps;
    expect(capacity).toBe(1000);
    const at = async (generatorCeilingRps: number) =>
      (await searchSettings(serviceTime(1), { model: batch1, generatorCeilingRps })).throughput
        .generatorBound;
    expect(await at(1000)).toBe(true);
    expect(await at(1111)).toBe(true); // 0.9 × 1,111 = 999.9
    expect(await at(1112)).toBe(false); // 0.9 × 1,112 = 1,000.8
    expect(await at(5000)).toBe(false);
  });
});

describe('measureOperatingPoint', () => {
  const BATCH4: ServingSetting = { maxBatchSize: 4, maxQueueDelayMs: 1.25 };

  /** The search's outcome for `setting`: held at `rps` with `held` samples, its server still up or not. */
  function searched(
    setting: ServingSetting,
    {
      rps = 2000,
      held = [] as number[],
      target,
    }: { rps?: number; held?: number[]; target?: FakeExecutor } = {},
  ): SettingOutcome {
    return {
      result: {
        ...setting,
        capacityRps: rps / 0.85,
        rps,
        p99Ms: 1,
        samples: held.length,
        decision: 'within',
        stable: true,
      },
      readyMs: 100,
      peakMemoryBytes: 0,
      heldLatenciesMs: held,
      ...(target ? { target } : {}),
    };
  }

  /**
   * measureOperatingPoint at `rateRps` against fakes that answer each request after exactly what
   * `latency` says; on the search's server (`onSearchServer`, held at `heldRps`) or a fresh one.
   */
  async function operate(
    latency: LatencyModel,
    {
      rateRps = 1000,
      limits = [{ p: 99 as const, limitMs: 10 }],
      budgetMs = 20_000,
      held = [] as number[],
      heldRps = 2000,
      onSearchServer = false,
    }: {
      rateRps?: number;
      limits?: Parameters<typeof measureOperatingPoint>[2];
      budgetMs?: number;
      held?: number[];
      heldRps?: number;
      onSearchServer?: boolean;
    } = {},
  ) {
    const clock = new VirtualClock();
    const executors = fakeExecutors(clock, latency, { workers: Infinity, peakMemoryBytes: () => 123 * MIB });
    const target = onSearchServer
      ? new FakeExecutor(clock, latency, BATCH4.maxBatchSize, {
          workers: Infinity,
          peakMemoryBytes: 123 * MIB,
        })
      : undefined;
    const progress: string[] = [];
    const measured = await measureOperatingPoint(
      searched(BATCH4, { rps: heldRps, held, ...(target ? { target } : {}) }),
      rateRps,
      limits,
      budgetMs,
      gateAt(10, 4),
      (line) => progress.push(line),
      { clock, startExecutor: executors.startExecutor },
    );
    return { ...measured, progress, executors, target, tookMs: clock.now() };
  }

  const fastMany = (n: number) => Array.from({ length: n }, () => 1);

  it('starts a server with the chosen setting when the search closed its own, and stops once the limits are decided', async () => {
    const { latency, lone, peakMemoryBytes, executors, progress, tookMs } = await operate(serviceTime(1));
    expect(executors.started.map((s) => s.setting)).toEqual([BATCH4]);
    expect(executors.started[0].executor.isClosed).toBe(true);
    // A lone request: 100 ms windows of 1 ms requests until the p99 is decided, at 299 samples or more.
    expect(lone).toMatchObject({
      samples: 300,
      p50Ms: 1,
      p99Ms: 1,
      p99: { estimateMs: 1, upperMs: 1, samples: 300 },
    });
    // At the operating rate: at least 1 s (ten quota periods; 1,000 requests at 1,000 rps), then
    // decided: well before the budget.
    expect(latency).toMatchObject({ rateRps: 1000, confidence: 0.95 });
    expect(latency.samples).toBeGreaterThanOrEqual(299);
    expect(latency.samples).toBeLessThan(3400); // 3 s of load (thirty quota periods), and at most a tenth more before the next look
    expect(latency.bounds.p99.upperMs).toBeLessThanOrEqual(2);
    expect(latency.bounds.p99.samples).toBe(latency.samples);
    expect(tookMs).toBeLessThan(4500); // the warm-up, 300 lone requests, 3 s of load and its drain
    expect(peakMemoryBytes).toBe(123 * MIB);
    expect(progress).toEqual([
      'latency: a lone request: p50 1.00 ms, p99 1.00 ms (300 samples)',
      expect.stringMatching(
        /^latency: at the operating rate 1000 rps: p50 [\d.]+ ms, p99 [\d.]+ ms \(\d+ samples\)$/,
      ),
    ]);
  });

  it('stops at once when a limit is shown beyond, before the minimum time', async () => {
    const { latency, tookMs } = await operate(serviceTime(50));
    expect(latency.bounds.p99.lowerMs).toBeGreaterThan(10);
    expect(latency.samples).toBeLessThan(299);
    // The lone requests take 2.5 s (an eighth of the budget); the operating rate then stops within 200 ms and a drain.
    expect(tookMs).toBeLessThan(20_000 / 8 + 200 + 50 + 2 * 200 + 1000);
  });

  it('runs until every limit is decided: a p99 needs far more samples than a p50', async () => {
    // One request in 200 takes 50 ms: the p50 is decided at once, the p99 only when the samples
    // above its upper rank (n − u) outnumber the slow ones (about n / 200): about 900 samples.
    const oneIn200 = slowWhen((i) => i % 200 === 150);
    const p50 = await operate(oneIn200, { limits: [{ p: 50, limitMs: 10 }] });
    const both = await operate(oneIn200, {
      limits: [
        { p: 50, limitMs: 10 },
        { p: 99, limitMs: 10 },
      ],
    });
    expect(p50.latency.samples).toBeLessThan(3400); // 3 s of load (thirty quota periods), and at most a tenth more before the next look
    expect(p50.latency.bounds.p50.upperMs).toBeLessThanOrEqual(2);
    expect(both.latency.samples).toBeGreaterThan(800);
    expect(both.latency.bounds.p50.upperMs).toBeLessThanOrEqual(2);
    // Stopped because decided after its 3 s, long before the 20 s budget (2.5 s of it lone requests).
    expect(both.tookMs).toBeLessThan(20_000 / 8 + 3000 + 1000);
  });

  // The slowest requests are the ones still in flight when the limits look decided: they are waited
  // for (and counted at their age if the drain ends first), never dropped.
  it('does not call a p99 within by dropping a request already known to be above the limit', async () => {
    const run = await operate(
      slowWhen((i) => i % 200 === 150),
      {
        onSearchServer: true,
        heldRps: 500,
        limits: [
          { p: 50, limitMs: 10 },
          { p: 99, limitMs: 10 },
        ],
      },
    );
    // What every request sent at the operating rate took (the lone ones came first): each one is
    // counted, the slow one still in flight when the limits looked decided included, so the
    // reported decision is the decision over everything sent.
    const sent = run.target!.batchLog.slice(run.lone.samples).map((b) => b.inferMs);
    expect(run.latency.samples).toBe(sent.length);
    expect(Math.max(...sent)).toBeGreaterThan(10);
    expect(decideBounds(run.latency.bounds.p99, 10)).toBe(decideP99(sent, 10).decision);
  });

  it('on the search server, pools the held rate for upper bounds only', async () => {
    const oneIn200 = slowWhen((i) => i % 200 === 150);
    const pooled = await operate(oneIn200, { onSearchServer: true, held: fastMany(1000) });
    // 3 s at 1,000 rps: ~3,000 own samples with about fifteen slow, and 1,000 held ones: within.
    expect(pooled.latency.samples).toBeLessThan(3400); // 3 s of load (thirty quota periods), and at most a tenth more before the next look
    expect(pooled.latency.bounds.p99).toMatchObject({ samples: pooled.latency.samples + 1000 });
    expect(pooled.latency.bounds.p99.upperMs).toBeLessThanOrEqual(2);
    // The search's server is used and closed; none is started.
    expect(pooled.executors.started).toEqual([]);
    expect(pooled.target?.isClosed).toBe(true);
    // Held at a lower rate than the operating one, or on another server, the held samples are not pooled.
    const lower = await operate(oneIn200, { onSearchServer: true, held: fastMany(1000), heldRps: 900 });
    const fresh = await operate(oneIn200, { held: fastMany(1000) });
    for (const alone of [lower, fresh]) {
      expect(alone.latency.samples).toBeGreaterThan(800);
      expect(alone.latency.bounds.p99.samples).toBe(alone.latency.samples);
    }
  });

  it('never lets held samples raise a lower bound: slow held samples leave the p99 undecided, not beyond', async () => {
    // 299 held samples at 50 ms against fast own ones: pooled for the lower bound too they would
    // show the p99 beyond (the l-th of ~600 is among the slow); for the upper bound only, the
    // upper bound is 50 ms and the lower a fast one: undecided until the budget ends.
    const slowHeld = Array.from({ length: 299 }, () => 50);
    const { latency, tookMs } = await operate(serviceTime(1), {
      onSearchServer: true,
      held: slowHeld,
      budgetMs: 3000,
    });
    expect(latency.bounds.p99.upperMs).toBe(50);
    expect(latency.bounds.p99.lowerMs).toBeLessThanOrEqual(2);
    expect(latency.bounds.p99.samples).toBe(latency.samples + 299);
    expect(tookMs).toBeGreaterThan(3000 - 150 - 10 - 50);
  });

  it('reports a lone request p99 against hand-computed order statistics: 40 samples have a lower bound only', async () => {
    // On the search's server (no warm-up), the first 40 requests take 300, 301, … 339 ms. The lone
    // requests run in closed-loop rounds of 5 for an eighth of 96 s: rounds end at 1,510, 3,045, …
    // 11,095 and 12,780 ms, so 8 rounds, 40 samples, all below the 2,000 ms limit and undecided.
    // Nearest rank p99 of 40: the 40th (339 ms). Lower rank: P(B ≤ 37) = 0.0075 ≤ 0.05 <
    // P(B ≤ 38) = 0.0607 for B ~ Binomial(40, 0.99), so l = 38: 337 ms. No upper bound below 299.
    const staircase: LatencyModel = (_rows, _startMs, index) => (index < 40 ? 300 + index : 1);
    const { lone, latency } = await operate(staircase, {
      onSearchServer: true,
      budgetMs: 96_000,
      limits: [{ p: 99, limitMs: 2000 }],
    });
    expect(lone.samples).toBe(40);
    expect(lone.p99).toEqual({ estimateMs: 339, lowerMs: 337, samples: 40 });
    // The operating rate then decides the p99 within 2,000 ms from its own samples.
    expect(latency.bounds.p99.upperMs).toBeLessThanOrEqual(2);
  });

  it('fails when requests fail at the operating rate, naming the first error, and closes the server', async () => {
    // On the search's server the 300 lone requests come first; from the 400th on, every one fails.
    const clock = new VirtualClock();
    const target = new FakeExecutor(clock, serviceTime(1), 4, {
      workers: Infinity,
      failure: new Error('503 overloaded'),
      failFrom: 400,
    });
    const env = { clock, startExecutor: fakeExecutors(clock, serviceTime(1)).startExecutor };
    await expect(
      measureOperatingPoint(
        searched(BATCH4, { target }),
        1000,
        [{ p: 99, limitMs: 10 }],
        20_000,
        gateAt(10, 4),
        () => undefined,
        env,
      ),
    ).rejects.toThrow(/^at the operating rate 1000 rps, \d+ of \d+ requests failed: 503 overloaded$/);
    expect(target.isClosed).toBe(true);
  });

  it('lets a failure before the operating rate through, and closes the server it started', async () => {
    const clock = new VirtualClock();
    const executors = fakeExecutors(clock, serviceTime(1), { failure: new Error('connection refused') });
    await expect(
      measureOperatingPoint(searched(BATCH4), 1000, [], 20_000, gateAt(10, 4), () => undefined, {
        clock,
        startExecutor: executors.startExecutor,
      }),
    ).rejects.toThrow('connection refused');
    expect(executors.started[0].executor.isClosed).toBe(true);
  });
});

describe('the search and the operating point on one server', () => {
  // A trial shown beyond abandons its requests in flight; the server still has them queued, so the
  // next measurement on that server waits for them first.
  it('measures a lone request on the kept server without the last trial’s backlog', async () => {
    const clock = new VirtualClock();
    const executors = fakeExecutors(clock, serviceTime(1));
    const env = { clock, startExecutor: executors.startExecutor };
    const gate = gateAt(6);
    const search = await searchServingSettings(
      { ...IRIS, batchable: false },
      gate,
      undefined,
      1e6,
      12_000,
      () => undefined,
      env,
    );
    expect(search.throughput.settings[0].detail).toMatch(
      /^the next rate did not hold: \d+ rps: .* beyond 6 ms/,
    );
    expect(search.chosen.target).toBeDefined();
    const { lone } = await measureOperatingPoint(
      search.chosen,
      300,
      [{ p: 99, limitMs: 5 }],
      4000,
      gate,
      () => undefined,
      env,
    );
    expect(lone.maxMs).toBeLessThan(1.5);
  });
});
