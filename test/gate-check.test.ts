import { describe, expect, it } from 'vitest';
import { type GateSpec } from '../lib/core';
import { planCapacity } from '../lib/gate/capacity';
import {
  checkGate,
  formatCpuLimit,
  formatGateFailure,
  formatNumber,
  gradeAccuracy,
  gradeLatency,
  gradeThroughput,
} from '../lib/gate/check-gate';
import { type BatchSettingResult } from '../lib/gate/gate-report';
import { gateMeasurements as measured } from './support/gate-fixtures';

const MIB = 2 ** 20;

/** A gate with nothing declared; tests add thresholds. */
function spec(extra: Partial<GateSpec> = {}): GateSpec {
  return { latencyBoundMs: 25, inputShapes: {}, budgetSeconds: 20, maxBatchSize: 32, seed: 1, ...extra };
}

/** What every verdict at the operating rate says of where it was measured (the fixture's p99). */
const AT_RATE_P99 =
  'at the operating rate 289 rps, >= 18.7 ms and <= 22.9 ms with 95% confidence from 17,157 samples; ' +
  '1 CPU, onnxruntime 1.30.0, CPU held by a CFS quota';

const ACCURACY = {
  metric: 'top1' as const,
  output: 'probabilities',
  value: 0.873,
  samples: 1500,
  dataset: '/data/eval.jsonl',
};

describe('grades', () => {
  it.each([
    [10, 'excellent'],
    [49.99, 'excellent'],
    [50, 'good'],
    [99.9, 'good'],
    [100, 'pass'],
    [199.9, 'pass'],
    [200, 'fail'],
    [Number.NaN, 'fail'],
  ])('latency p99 %d ms is %s', (p99, grade) => {
    expect(gradeLatency(p99)).toBe(grade);
  });

  it.each([
    [5000, 'excellent'],
    [1000.5, 'excellent'],
    [1000, 'good'],
    [500.5, 'good'],
    [500, 'pass'],
    [100.5, 'pass'],
    [100, 'fail'],
    [0, 'fail'],
  ])('throughput %d rps is %s', (rps, grade) => {
    expect(gradeThroughput(rps)).toBe(grade);
  });

  it.each([
    [1, 'excellent'],
    [0.951, 'excellent'],
    [0.95, 'good'],
    [0.91, 'good'],
    [0.9, 'pass'],
    [0.851, 'pass'],
    [0.85, 'fail'],
    [0.2, 'fail'],
  ])('accuracy %d is %s', (fraction, grade) => {
    expect(gradeAccuracy(fraction)).toBe(grade);
  });
});

describe('checkGate', () => {
  it('writes a latency failure as measured > limit, with the operating rate, the bounds, the runtime and the fix', () => {
    const verdicts = checkGate(spec({ latencyP99Ms: 18 }), measured());
    expect(verdicts[0]).toEqual({
      threshold: 'latencyP99Ms',
      metric: 'latency p99',
      measured: 19.4,
      limit: 18,
      unit: 'ms',
      pass: false,
      message: `latency p99 19.4 ms > latencyP99Ms 18 (${AT_RATE_P99}); raise resources.cpu or relax latencyP99Ms`,
    });
    expect(formatGateFailure('prod/iris', verdicts)).toBe(
      `[prod/iris] gate failed: latency p99 19.4 ms > latencyP99Ms 18 (${AT_RATE_P99}); raise resources.cpu or relax latencyP99Ms`,
    );
  });

  it('gives no verdict when nothing is declared', () => {
    expect(checkGate(spec(), measured())).toEqual([]);
  });

  it('gives one verdict per declared threshold, in a fixed order, the lone request after p99', () => {
    const verdicts = checkGate(
      spec({
        maxModelSizeMb: 100,
        maxColdStartMs: 2000,
        maxMemoryMb: 512,
        parity: { dataset: '/data/golden.jsonl', atol: 1e-4, rtol: 1e-3 },
        accuracy: { dataset: '/data/eval.jsonl', metric: 'top1', k: 5, min: 0.8, max: 0.99 },
        minThroughputRps: 300,
        latencyP99Ms: 40,
        latencyP95Ms: 25,
        latencyP50Ms: 15,
      }),
      measured({
        accuracy: ACCURACY,
        parity: {
          maxAbsError: 1e-6,
          maxRelError: 1e-5,
          mismatches: 0,
          elements: 300,
          samples: 100,
          dataset: '/data/golden.jsonl',
        },
      }),
    );
    expect(verdicts.map((v) => [v.threshold, v.metric, v.pass])).toEqual([
      ['latencyP50Ms', 'latency p50', true],
      ['latencyP95Ms', 'latency p95', true],
      ['latencyP99Ms', 'latency p99', true],
      ['latencyP99Ms', 'lone-request latency p99', true],
      ['minThroughputRps', 'throughput', true],
      ['accuracy.min', 'accuracy (top1)', true],
      ['accuracy.max', 'accuracy (top1)', true],
      ['parity', 'parity', true],
      ['maxMemoryMb', 'peak memory', true],
      ['maxColdStartMs', 'cold start', true],
      ['maxModelSizeMb', 'model size', true],
    ]);
    expect(verdicts[0].message).toBe(
      'latency p50 9.8 ms <= latencyP50Ms 15 (at the operating rate 289 rps, >= 9.6 ms and <= 10.1 ms with 95% confidence ' +
        'from 17,157 samples; 1 CPU, onnxruntime 1.30.0, CPU held by a CFS quota)',
    );
  });

  describe('latency, decided with confidence at the operating rate', () => {
    it('passes when the upper bound is within the limit, reading <=', () => {
      // The estimate 19.4 and the upper bound 22.9 are both within 25.
      const [verdict] = checkGate(spec({ latencyP99Ms: 25 }), measured());
      expect(verdict).toMatchObject({
        threshold: 'latencyP99Ms',
        metric: 'latency p99',
        measured: 19.4,
        pass: true,
      });
      expect(verdict.message).toBe(`latency p99 19.4 ms <= latencyP99Ms 25 (${AT_RATE_P99})`);
    });

    it('passes on the upper bound exactly at the limit', () => {
      const m = measured({ latency: { bounds: { p99: { upperMs: 25 } } } });
      expect(checkGate(spec({ latencyP99Ms: 25 }), m)[0].pass).toBe(true);
    });

    it('fails beyond the limit when the lower bound exceeds it, reading > and the fix', () => {
      // The lower bound 18.7 is above 18: the p99 is beyond it with 95% confidence.
      const [verdict] = checkGate(spec({ latencyP99Ms: 18 }), measured());
      expect(verdict.pass).toBe(false);
      expect(verdict.message).toMatch(/^latency p99 19\.4 ms > latencyP99Ms 18 \(/);
      expect(verdict.message).toMatch(/; raise resources\.cpu or relax latencyP99Ms$/);
      expect(verdict.message).not.toMatch(/<= latencyP99Ms|not shown/);
    });

    it('fails as not shown when the bounds straddle the limit, never reading like a pass', () => {
      // Lower bound 18.7 <= 20 < upper bound 22.9: the samples decide neither way.
      const [verdict] = checkGate(spec({ latencyP99Ms: 20 }), measured());
      expect(verdict).toMatchObject({ measured: 19.4, limit: 20, pass: false });
      expect(verdict.message).toBe(
        'latency p99 19.4 ms, not shown within latencyP99Ms 20 with 95% confidence after 17,157 samples ' +
          '(at the operating rate 289 rps, bounds so far >= 18.7 ms and <= 22.9 ms; 1 CPU, onnxruntime 1.30.0, CPU held by a CFS quota): ' +
          'raise gate.budgetSeconds so the gate can take more samples; if it then fails, raise resources.cpu or relax latencyP99Ms',
      );
      // The confidence and the count are said once.
      expect(verdict.message.match(/95% confidence/g)).toHaveLength(1);
      expect(verdict.message).toContain('not shown within');
      expect(verdict.message).toContain('raise gate.budgetSeconds');
      expect(verdict.message).not.toMatch(/19\.4 ms <=/);
    });

    it('fails as not shown, with the count, when too few samples give any bound', () => {
      const [verdict] = checkGate(
        spec({ latencyP99Ms: 2000 }),
        measured({
          latency: {
            bounds: { p99: { estimateMs: 41.5, lowerMs: undefined, upperMs: undefined, samples: 40 } },
          },
        }),
      );
      expect(verdict.pass).toBe(false);
      expect(verdict.message).toMatch(
        /^latency p99 41\.5 ms, not shown within latencyP99Ms 2,000 with 95% confidence after 40 samples \(at the operating rate 289 rps, bounds so far no bound yet; .*\): raise gate\.budgetSeconds/,
      );
    });

    it('checks p50 and p95 against their own bounds', () => {
      const verdicts = checkGate(spec({ latencyP50Ms: 9.5, latencyP95Ms: 17 }), measured());
      expect(verdicts.map((v) => [v.metric, v.measured, v.pass])).toEqual([
        ['latency p50', 9.8, false],
        ['latency p95', 16.1, false],
      ]);
      // p50: lower bound 9.6 > 9.5, beyond; p95: 15.7 <= 17 < 17.9, undecided.
      expect(verdicts[0].message).toMatch(
        /^latency p50 9\.8 ms > latencyP50Ms 9\.5 .*; raise resources\.cpu or relax latencyP50Ms$/,
      );
      expect(verdicts[1].message).toMatch(
        /^latency p95 16\.1 ms, not shown within latencyP95Ms 17 with 95% confidence after 17,157 samples .*if it then fails, raise resources\.cpu or relax latencyP95Ms$/,
      );
    });

    it('does not fail a latency on drift between windows: drift is reported, not judged', () => {
      const m = measured({
        latency: {
          stable: false,
          spread: 0.14,
          detail: 'last 3 windows disagree by more than 10%: p50 spread 14%',
        },
      });
      expect(checkGate(spec({ latencyP99Ms: 25 }), m)[0].pass).toBe(true);
    });

    it('says how the CPU limit was held', () => {
      const affinity = measured({
        environment: {
          enforcement: { cpu: 'affinity', memory: 'none', detail: 'affinity to 1 core (cpus 3)' },
        },
      });
      expect(checkGate(spec({ latencyP99Ms: 25 }), affinity)[0].message).toMatch(
        /1 CPU, onnxruntime 1\.30\.0, CPU held by affinity to whole cores\)$/,
      );
      const none = measured({
        environment: { enforcement: { cpu: 'none', memory: 'none', detail: 'no CPU limit' } },
      });
      expect(checkGate(spec({ latencyP99Ms: 25 }), none)[0].message).toMatch(
        /, CPU not held to the limit\)$/,
      );
    });

    it('adds digits so a measured value never reads like its limit', () => {
      const m = measured({
        latency: { bounds: { p99: { estimateMs: 25.04, lowerMs: 25.01, upperMs: 26 } } },
      });
      expect(checkGate(spec({ latencyP99Ms: 25 }), m)[0].message).toMatch(
        /^latency p99 25\.04 ms > latencyP99Ms 25 /,
      );
    });

    it('fails a NaN measurement as not shown', () => {
      const m = measured({
        latency: { bounds: { p99: { estimateMs: Number.NaN, lowerMs: Number.NaN, upperMs: Number.NaN } } },
      });
      const [verdict] = checkGate(spec({ latencyP99Ms: 25 }), m);
      expect(verdict.pass).toBe(false);
      expect(verdict.message).toMatch(/^latency p99 n\/a ms, not shown within latencyP99Ms 25 /);
    });
  });

  describe('a lone request', () => {
    it('is judged against latencyP99Ms, with the queue delay it waits out', () => {
      const [, lone] = checkGate(spec({ latencyP99Ms: 25 }), measured());
      expect(lone).toEqual({
        threshold: 'latencyP99Ms',
        metric: 'lone-request latency p99',
        measured: 8.1,
        limit: 25,
        unit: 'ms',
        pass: true,
        message:
          'lone-request latency p99 8.1 ms <= latencyP99Ms 25 (one request at a time, queue delay 5 ms included, ' +
          '>= 7.8 ms and <= 8.6 ms with 95% confidence from 1,500 samples; 1 CPU, onnxruntime 1.30.0)',
      });
    });

    it('fails when its lower bound exceeds the limit, naming the queue delay in the fix', () => {
      // A 1.8 ms model behind a 5 ms queue delay cannot answer a lone request within 7.5 ms.
      const verdicts = checkGate(spec({ latencyP99Ms: 7.5 }), measured());
      const lone = verdicts.find((v) => v.metric === 'lone-request latency p99')!;
      expect(lone.pass).toBe(false);
      expect(lone.message).toBe(
        'lone-request latency p99 8.1 ms > latencyP99Ms 7.5 (one request at a time, queue delay 5 ms included, ' +
          '>= 7.8 ms and <= 8.6 ms with 95% confidence from 1,500 samples; 1 CPU, onnxruntime 1.30.0); ' +
          'a request alone may wait out the queue delay: lower gate.maxBatchSize, raise resources.cpu or relax latencyP99Ms',
      );
    });

    it('does not blame a queue delay the serving config does not have', () => {
      const m = measured({
        servingConfig: { maxBatchSize: 1, maxQueueDelayMs: 0 },
        loneLatency: { p99: { estimateMs: 2.6, lowerMs: 2.5, upperMs: 2.9, samples: 1500 } },
      });
      const lone = checkGate(spec({ latencyP99Ms: 2 }), m).find(
        (v) => v.metric === 'lone-request latency p99',
      )!;
      expect(lone.pass).toBe(false);
      expect(lone.message).toMatch(/queue delay 0 ms included/);
      expect(lone.message).toMatch(/\); raise resources\.cpu or relax latencyP99Ms$/);
      expect(lone.message).not.toMatch(/wait out/);
    });

    it('fails only when shown beyond: too few samples for a lower bound do not fail it', () => {
      const m = measured({
        loneLatency: { p99: { estimateMs: 30, lowerMs: undefined, upperMs: undefined, samples: 80 } },
      });
      const lone = checkGate(spec({ latencyP99Ms: 25 }), m).find(
        (v) => v.metric === 'lone-request latency p99',
      )!;
      expect(lone.pass).toBe(true);
      // Above the limit by its estimate: it says so instead of printing `30 ms <= 25`.
      expect(lone.message).toBe(
        'lone-request latency p99 30 ms, above latencyP99Ms 25 but not shown beyond it (one request at a time, queue delay 5 ms included, ' +
          'no bound yet with 95% confidence from 80 samples; 1 CPU, onnxruntime 1.30.0); a lone request fails the gate only when shown beyond the bound',
      );
    });

    it('gives no verdict without latencyP99Ms', () => {
      expect(checkGate(spec({ latencyP50Ms: 15 }), measured()).map((v) => v.metric)).toEqual(['latency p50']);
    });
  });

  describe('throughput at the bound', () => {
    const CONTEXT =
      'served over HTTP, 1 CPU, onnxruntime 1.30.0, CPU held by a CFS quota, max batch 8, queue delay 5 ms, 12,345 samples, ' +
      'p99 shown within the bound with 95% confidence';

    it('checks the rate held within the bound, with a throughput-specific fix', () => {
      const [verdict] = checkGate(spec({ minThroughputRps: 500 }), measured());
      expect(verdict).toMatchObject({
        threshold: 'minThroughputRps',
        metric: 'throughput',
        measured: 413,
        limit: 500,
        unit: 'rps',
        pass: false,
      });
      expect(verdict.message).toBe(
        `throughput 413 rps < minThroughputRps 500 at p99 <= 25 ms (${CONTEXT}); ` +
          'raise resources.cpu, allow batching (gate.maxBatchSize, now 32) or lower minThroughputRps',
      );
      const [passed] = checkGate(spec({ minThroughputRps: 400 }), measured());
      expect(passed.pass).toBe(true);
      expect(passed.message).toBe(`throughput 413 rps >= minThroughputRps 400 at p99 <= 25 ms (${CONTEXT})`);
    });

    it('advises batching only for a model that can batch', () => {
      // The search tried only batch 1 although maxBatchSize allowed 32: the model has no batch dim.
      const batchOne = measured().throughput.settings[0];
      expect(batchOne).toMatchObject({ maxBatchSize: 1, rps: 178.5 });
      const onlyOne = measured({
        throughput: { rps: 178.5, settings: [batchOne] },
        servingConfig: { maxBatchSize: 1, maxQueueDelayMs: 0 },
      });
      expect(checkGate(spec({ minThroughputRps: 500 }), onlyOne)[0].message).toMatch(
        /; raise resources\.cpu or lower minThroughputRps \(the model has no batch dimension, so batching cannot help\)$/,
      );
      // Batching turned off by the user is still worth suggesting.
      expect(checkGate(spec({ minThroughputRps: 500, maxBatchSize: 1 }), onlyOne)[0].message).toMatch(
        /allow batching \(gate\.maxBatchSize, now 1\)/,
      );
    });

    it('does not fail a held rate on drift between windows', () => {
      const m = measured({ throughput: { stable: false } });
      expect(checkGate(spec({ minThroughputRps: 400 }), m)[0].pass).toBe(true);
    });

    it('says when the load generator, not the server, was the bound', () => {
      const m = measured({ environment: { generatorCeilingRps: 640 }, throughput: { generatorBound: true } });
      const [verdict] = checkGate(spec({ minThroughputRps: 400 }), m);
      expect(verdict.pass).toBe(true);
      expect(verdict.message).toMatch(
        /with 95% confidence, bound by the load generator: the server may serve more\)$/,
      );
      expect(checkGate(spec({ minThroughputRps: 400 }), measured())[0].message).not.toContain(
        'load generator',
      );
    });

    it('fails as not shown when no rate held within the bound, with why and what to do', () => {
      const failed: BatchSettingResult = {
        maxBatchSize: 8,
        maxQueueDelayMs: 5,
        capacityRps: 590,
        rps: 0,
        p99Ms: 24.8,
        samples: 260,
        decision: 'undecided',
        stable: false,
        detail: '502 rps: p99 24.80 ms from 260 samples, not decided against 25 ms within the time it had',
      };
      const m = measured({
        throughput: { rps: 0, decision: 'undecided', stable: false, settings: [failed] },
      });
      const [verdict] = checkGate(spec({ minThroughputRps: 100 }), m);
      expect(verdict).toMatchObject({ threshold: 'minThroughputRps', measured: 0, limit: 100, pass: false });
      expect(verdict.message).toBe(
        'throughput not shown at p99 <= 25 ms with 95% confidence ' +
          '(502 rps: p99 24.80 ms from 260 samples, not decided against 25 ms within the time it had; 1 CPU, onnxruntime 1.30.0): ' +
          'raise gate.budgetSeconds so the gate can take more samples; if it then fails, ' +
          'raise resources.cpu, allow batching (gate.maxBatchSize, now 32) or lower minThroughputRps',
      );
      expect(verdict.message).not.toMatch(/>=/);
    });

    it('does not ask for more budget when every rate tried was shown beyond the bound', () => {
      const beyond: BatchSettingResult = {
        maxBatchSize: 8,
        maxQueueDelayMs: 5,
        capacityRps: 590,
        rps: 0,
        p99Ms: 61.2,
        samples: 40,
        decision: 'beyond',
        stable: false,
        detail: '59 rps: p99 61.20 ms from 40 samples, beyond 25 ms with 95% confidence',
      };
      const m = measured({ throughput: { rps: 0, decision: 'beyond', stable: false, settings: [beyond] } });
      const [verdict] = checkGate(spec({ minThroughputRps: 100 }), m);
      expect(verdict.pass).toBe(false);
      expect(verdict.message).toMatch(
        /: every rate tried was shown beyond the bound; raise resources\.cpu, allow batching/,
      );
      expect(verdict.message).not.toMatch(/budgetSeconds/);
    });

    it('says the server was not measured when the load generator fell behind even at the lowest rate', () => {
      const behind: BatchSettingResult = {
        maxBatchSize: 8,
        maxQueueDelayMs: 5,
        capacityRps: 590,
        rps: 0,
        p99Ms: 12.1,
        samples: 300,
        decision: 'undecided',
        stable: false,
        generatorBound: true,
        detail:
          '59 rps: the load generator fell behind (12 of 400 requests sent more than 2.5 ms late, up to 31 ms): no verdict on the server at this rate',
      };
      const m = measured({
        throughput: { rps: 0, decision: 'undecided', stable: false, settings: [behind] },
      });
      const [verdict] = checkGate(spec({ minThroughputRps: 100 }), m);
      expect(verdict.pass).toBe(false);
      expect(verdict.message).toBe(
        'throughput not shown at p99 <= 25 ms with 95% confidence ' +
          '(59 rps: the load generator fell behind (12 of 400 requests sent more than 2.5 ms late, up to 31 ms): no verdict on the server at this rate; 1 CPU, onnxruntime 1.30.0): ' +
          'the load generator fell behind its own schedule even at the lowest rate tried, so the server was not measured; ' +
          'run the gate where nothing else is using the CPUs (or on a machine with more cores than resources.cpu), or set MODELFAB_GATE=skip to skip it',
      );
      expect(verdict.message).not.toMatch(/budgetSeconds|raise resources\.cpu/);
    });

    it('fails as not shown when no setting was measured at all', () => {
      const m = measured({ throughput: { rps: 0, decision: 'undecided', settings: [] } });
      const [verdict] = checkGate(spec({ minThroughputRps: 100 }), m);
      expect(verdict.pass).toBe(false);
      expect(verdict.message).toMatch(
        /^throughput not shown at p99 <= 25 ms with 95% confidence \(no rate was tried; /,
      );
    });
  });

  it('checks accuracy.min and accuracy.max', () => {
    const gate = spec({ accuracy: { dataset: '/data/eval.jsonl', metric: 'top1', k: 5, min: 0.9 } });
    const [low] = checkGate(gate, measured({ accuracy: ACCURACY }));
    expect(low).toMatchObject({
      threshold: 'accuracy.min',
      metric: 'accuracy (top1)',
      measured: 0.873,
      limit: 0.9,
      pass: false,
    });
    expect(low.message).toBe(
      'accuracy (top1) 0.873 < accuracy.min 0.9 (1,500 samples of eval.jsonl, output "probabilities"); ' +
        "retrain or fix preprocessing, and check the dataset (/data/eval.jsonl) matches the model's inputs and labels; or lower accuracy.min",
    );
    const regression = spec({ accuracy: { dataset: '/data/eval.jsonl', metric: 'mae', k: 5, max: 0.5 } });
    const mae = { ...ACCURACY, metric: 'mae' as const, value: 0.61, output: 'price' };
    const [high] = checkGate(regression, measured({ accuracy: mae }));
    expect(high).toMatchObject({ threshold: 'accuracy.max', metric: 'accuracy (mae)', pass: false });
    expect(high.message).toMatch(/^accuracy \(mae\) 0.61 > accuracy.max 0.5 .*or raise accuracy.max$/);
    expect(checkGate(regression, measured({ accuracy: { ...mae, value: 0.5 } }))[0].pass).toBe(true);
    const topk = spec({ accuracy: { dataset: '/d.jsonl', metric: 'topk', k: 3, min: 0.5 } });
    expect(checkGate(topk, measured({ accuracy: { ...ACCURACY, metric: 'topk', k: 3 } }))[0].metric).toBe(
      'accuracy (top3)',
    );
  });

  it('fails a declared accuracy that was not measured', () => {
    const [verdict] = checkGate(
      spec({ accuracy: { dataset: '/d.jsonl', metric: 'top1', k: 5, min: 0.5 } }),
      measured(),
    );
    expect(verdict.pass).toBe(false);
    expect(verdict.message).toMatch(/was not measured/);
  });

  it('passes parity with no mismatch and fails it naming the worst element', () => {
    const gate = spec({ parity: { dataset: '/data/golden.jsonl', atol: 1e-4, rtol: 1e-3 } });
    const parity = {
      maxAbsError: 0.0021,
      maxRelError: 0.004,
      mismatches: 3,
      elements: 450,
      samples: 150,
      dataset: '/data/golden.jsonl',
      worst: { line: 12, output: 'probabilities', index: 1, actual: 0.5021, expected: 0.5 },
    };
    const [failed] = checkGate(gate, measured({ parity }));
    expect(failed).toMatchObject({
      threshold: 'parity',
      metric: 'parity',
      measured: 3,
      limit: 0,
      pass: false,
    });
    expect(failed.message).toBe(
      'parity 3 of 450 elements outside atol 0.0001 + rtol 0.001 × |expected| (150 samples of golden.jsonl, 1 CPU, onnxruntime 1.30.0, ' +
        'max abs error 0.0021, max rel error 0.004); worst: line 12, output "probabilities"[1] is 0.5021, expected 0.5; ' +
        'check the export (opset, dtypes) and preprocessing match the training framework, or relax parity.atol/parity.rtol',
    );
    const [passed] = checkGate(gate, measured({ parity: { ...parity, mismatches: 0 } }));
    expect(passed.pass).toBe(true);
    expect(passed.message).not.toMatch(/worst/);
  });

  it('checks the server process memory, cold start and model size in MiB and ms', () => {
    const verdicts = checkGate(
      spec({ maxMemoryMb: 512, maxColdStartMs: 2000, maxModelSizeMb: 100 }),
      measured({
        peakRssBytes: 612.4 * MIB,
        coldStart: { sessionCreateMs: 2100, firstInferenceMs: 210, totalMs: 2310, processReadyMs: 2950 },
        modelSizeBytes: 120 * MIB,
      }),
    );
    expect(verdicts.map((v) => v.message)).toEqual([
      'peak memory 612 MiB > maxMemoryMb 512 (peak memory of the server process, 1 CPU, onnxruntime 1.30.0); use a smaller or quantized model or raise maxMemoryMb (and resources.memory with it)',
      "cold start 2,950 ms > maxColdStartMs 2,000 (the server process from start to ready, of which the session's creation took 2,100 ms " +
        'and a first inference 210 ms in process; 1 CPU, onnxruntime 1.30.0, CPU held by a CFS quota); use a smaller model, raise resources.cpu or relax maxColdStartMs',
      'model size 120 MiB > maxModelSizeMb 100 (125,829,120 bytes); shrink the model (quantize or prune it) or raise maxModelSizeMb',
    ]);
    expect(verdicts[0].measured).toBeCloseTo(612.4, 9);
  });

  it('writes the CPU limit as 1 CPU, 1.5 CPU or 500m CPU', () => {
    expect(formatCpuLimit(1000)).toBe('1 CPU');
    expect(formatCpuLimit(2000)).toBe('2 CPU');
    expect(formatCpuLimit(1500)).toBe('1.5 CPU');
    expect(formatCpuLimit(1250)).toBe('1.25 CPU');
    expect(formatCpuLimit(500)).toBe('500m CPU');
    expect(formatCpuLimit(250)).toBe('250m CPU');
    const [verdict] = checkGate(
      spec({ latencyP99Ms: 25 }),
      measured({ environment: { cpuLimitMillis: 500, onnxruntimeVersion: '1.22.1' } }),
    );
    expect(verdict.message).toMatch(/; 500m CPU, onnxruntime 1\.22\.1, CPU held by a CFS quota\)$/);
  });
});

describe('formatNumber', () => {
  it.each([
    [31.2, '31.2'],
    [31.25, '31.3'],
    [4812, '4,812'],
    [1234567.8, '1,234,568'],
    [0.873, '0.873'],
    [0.0021, '0.0021'],
    [1.5, '1.5'],
    [2, '2'],
    [0, '0'],
    [-12.34, '-12.3'],
    [2.1e-7, '2.1e-7'],
    [Number.NaN, 'n/a'],
    [Infinity, '∞'],
  ])('%d reads %s', (value, text) => {
    expect(formatNumber(value)).toBe(text);
  });
});

describe('formatGateFailure', () => {
  it('lists every failed verdict, one per line, and no passed one', () => {
    const verdicts = checkGate(
      spec({ latencyP50Ms: 100, latencyP99Ms: 18, minThroughputRps: 500, maxMemoryMb: 100 }),
      measured(),
    );
    const text = formatGateFailure('prod/iris', verdicts);
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\[prod\/iris\] gate failed: latency p99 19\.4 ms > latencyP99Ms 18 /);
    expect(lines[1]).toMatch(/^ {2}throughput 413 rps < minThroughputRps 500 /);
    expect(lines[2]).toMatch(/^ {2}peak memory 180 MiB > maxMemoryMb 100 /);
    expect(text).not.toMatch(/latency p50|lone-request/);
  });

  it('says the gate passed when nothing failed', () => {
    expect(formatGateFailure('a/b', checkGate(spec({ latencyP99Ms: 50 }), measured()))).toBe(
      '[a/b] gate passed',
    );
  });
});

describe('planCapacity', () => {
  it('sizes replicas as ceil(target / (per-replica × utilization))', () => {
    expect(planCapacity({ targetRps: 2000, targetUtilization: 0.7 }, 400)).toEqual({
      targetRps: 2000,
      targetUtilization: 0.7,
      perReplicaRps: 400,
      replicas: 8, // 2000 / 280 = 7.14
    });
    expect(planCapacity({ targetRps: 280, targetUtilization: 0.7 }, 400).replicas).toBe(1);
    expect(planCapacity({ targetRps: 2800, targetUtilization: 0.7 }, 400).replicas).toBe(10);
    expect(planCapacity({ targetRps: 2801, targetUtilization: 0.7 }, 400).replicas).toBe(11);
    expect(planCapacity({ targetRps: 1000, targetUtilization: 1 }, 1000).replicas).toBe(1);
  });

  it('plans at least one replica', () => {
    expect(planCapacity({ targetRps: 1, targetUtilization: 0.7 }, 10_000).replicas).toBe(1);
  });

  it('refuses a capacity that could not be measured', () => {
    expect(() => planCapacity({ targetRps: 100, targetUtilization: 0.7 }, 0)).toThrow(
      /capacity could not be measured: one replica sustained 0 rps/,
    );
    expect(() => planCapacity({ targetRps: 100, targetUtilization: 0.7 }, Number.NaN)).toThrow(
      /could not be measured/,
    );
    expect(() => planCapacity({ targetRps: 100, targetUtilization: 0 }, 10)).toThrow(/received 0/);
    expect(() => planCapacity({ targetRps: -1, targetUtilization: 0.7 }, 10)).toThrow(/received -1/);
  });
});
