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
import { type GateMeasurements } from '../lib/gate/gate-report';

const MIB = 2 ** 20;

/** A gate with nothing declared; tests add thresholds. */
function spec(extra: Partial<GateSpec> = {}): GateSpec {
  return { latencyBoundMs: 100, inputShapes: {}, budgetSeconds: 20, maxBatchSize: 32, seed: 1, ...extra };
}

type Overrides = { [K in keyof GateMeasurements]?: Partial<GateMeasurements[K]> };

/** Measurements of a healthy 1-CPU run; override any part. */
function measured(o: Overrides = {}): GateMeasurements {
  const base: GateMeasurements = {
    environment: {
      cpuModel: 'Test CPU',
      cores: 8,
      onnxruntimeVersion: '1.30.0',
      nodeVersion: 'v20.19.0',
      platform: 'linux-x64',
      intraOpThreads: 1,
      cpuLimitMillis: 1000,
      memoryLimitBytes: 512 * MIB,
    },
    coldStart: { sessionCreateMs: 120, firstInferenceMs: 8, totalMs: 128 },
    latency: {
      samples: 4812,
      p50Ms: 12.1,
      p90Ms: 18,
      p95Ms: 20.4,
      p99Ms: 31.2,
      maxMs: 40,
      meanMs: 13,
      stable: true,
      spread: 0.03,
      detail: 'last 3 windows agree within 10%: p50 spread 3%, throughput spread 2%',
      windows: [],
      histogram: { boundsMs: [], counts: [] },
    },
    throughput: {
      latencyBoundMs: 25,
      rps: 412.5,
      stable: true,
      settings: [
        { maxBatchSize: 1, maxQueueDelayMs: 0, rps: 150, p99Ms: 24, samples: 3000, stable: true },
        { maxBatchSize: 8, maxQueueDelayMs: 2, rps: 412.5, p99Ms: 24.8, samples: 12345, stable: true },
      ],
    },
    peakRssBytes: 180 * MIB,
    modelSizeBytes: 12 * MIB,
    servingConfig: { maxBatchSize: 8, maxQueueDelayMs: 2, intraOpThreads: 1, workers: 1 },
    durationMs: 18000,
  };
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(o)) {
    const current = merged[key];
    merged[key] =
      typeof current === 'object' && current !== null && typeof value === 'object'
        ? { ...current, ...value }
        : value;
  }
  return merged as unknown as GateMeasurements;
}

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
  it('writes the message of DESIGN.md exactly', () => {
    const verdicts = checkGate(spec({ latencyP99Ms: 25, latencyBoundMs: 25 }), measured());
    expect(verdicts).toEqual([
      {
        threshold: 'latencyP99Ms',
        metric: 'latency p99',
        measured: 31.2,
        limit: 25,
        unit: 'ms',
        pass: false,
        message:
          'latency p99 31.2 ms > latencyP99Ms 25 (1 CPU, onnxruntime 1.30.0, 4,812 samples, stable); raise resources.cpu or relax latencyP99Ms',
      },
    ]);
    expect(formatGateFailure('prod/iris', verdicts)).toBe(
      '[prod/iris] gate failed: latency p99 31.2 ms > latencyP99Ms 25 (1 CPU, onnxruntime 1.30.0, 4,812 samples, stable); raise resources.cpu or relax latencyP99Ms',
    );
  });

  it('gives no verdict when nothing is declared', () => {
    expect(checkGate(spec(), measured())).toEqual([]);
  });

  it('gives one verdict per declared threshold, in a fixed order', () => {
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
    expect(verdicts.map((v) => [v.threshold, v.pass])).toEqual([
      ['latencyP50Ms', true],
      ['latencyP95Ms', true],
      ['latencyP99Ms', true],
      ['minThroughputRps', true],
      ['accuracy.min', true],
      ['accuracy.max', true],
      ['parity', true],
      ['maxMemoryMb', true],
      ['maxColdStartMs', true],
      ['maxModelSizeMb', true],
    ]);
    expect(verdicts[0].message).toBe(
      'latency p50 12.1 ms <= latencyP50Ms 15 (1 CPU, onnxruntime 1.30.0, 4,812 samples, stable)',
    );
  });

  it('checks p50 and p95 against their own percentiles', () => {
    const verdicts = checkGate(spec({ latencyP50Ms: 12, latencyP95Ms: 20 }), measured());
    expect(verdicts.map((v) => [v.metric, v.measured, v.pass])).toEqual([
      ['latency p50', 12.1, false],
      ['latency p95', 20.4, false],
    ]);
    expect(verdicts[1].message).toBe(
      'latency p95 20.4 ms > latencyP95Ms 20 (1 CPU, onnxruntime 1.30.0, 4,812 samples, stable); raise resources.cpu or relax latencyP95Ms',
    );
  });

  it('fails an unstable latency even within its limit, in words that do not read like a pass, and says to raise budgetSeconds', () => {
    const [verdict] = checkGate(
      spec({ latencyP99Ms: 50 }),
      measured({
        latency: {
          stable: false,
          detail: 'last 3 windows disagree by more than 10%: p50 spread 14%, throughput spread 2%',
        },
      }),
    );
    expect(verdict.pass).toBe(false);
    expect(verdict.message).toBe(
      'latency p99 31.2 ms, not shown within latencyP99Ms 50: the result was unstable ' +
        '(last 3 windows disagree by more than 10%: p50 spread 14%, throughput spread 2%) ' +
        '(1 CPU, onnxruntime 1.30.0, 4,812 samples, unstable); raise gate.budgetSeconds or quiet the machine',
    );
  });

  it('on an unstable latency over its limit, says both what to do about stability and about the limit', () => {
    const [verdict] = checkGate(
      spec({ latencyP99Ms: 25 }),
      measured({ latency: { stable: false, detail: 'x' } }),
    );
    expect(verdict.pass).toBe(false);
    expect(verdict.message).toMatch(
      /> latencyP99Ms 25 .*unstable\).*raise gate.budgetSeconds or quiet the machine; if it still fails, raise resources.cpu or relax latencyP99Ms$/,
    );
  });

  it('checks throughput at the bound with a throughput-specific fix', () => {
    const [verdict] = checkGate(spec({ minThroughputRps: 500 }), measured());
    expect(verdict).toMatchObject({
      threshold: 'minThroughputRps',
      metric: 'throughput',
      measured: 412.5,
      limit: 500,
      unit: 'rps',
      pass: false,
    });
    expect(verdict.message).toBe(
      'throughput 413 rps < minThroughputRps 500 at p99 <= 25 ms (1 CPU, onnxruntime 1.30.0, max batch 8, 12,345 samples, stable); ' +
        'raise resources.cpu, allow batching (gate.maxBatchSize, now 32) or lower minThroughputRps',
    );
    expect(checkGate(spec({ minThroughputRps: 400 }), measured())[0].pass).toBe(true);
  });

  it('advises batching only for a model that can batch', () => {
    // The search tried only batch 1 although maxBatchSize allowed 32: the model has no batch dim.
    const unbatchable = measured();
    const onlyOne = {
      ...unbatchable,
      throughput: {
        ...unbatchable.throughput,
        settings: unbatchable.throughput.settings.filter((s) => s.maxBatchSize === 1),
      },
    };
    expect(checkGate(spec({ minThroughputRps: 500 }), onlyOne)[0].message).toMatch(
      /; raise resources\.cpu or lower minThroughputRps \(the model has no batch dimension, so batching cannot help\)$/,
    );
    // Batching turned off by the user is still worth suggesting.
    expect(checkGate(spec({ minThroughputRps: 500, maxBatchSize: 1 }), onlyOne)[0].message).toMatch(
      /allow batching \(gate\.maxBatchSize, now 1\)/,
    );
  });

  it('fails an unstable throughput', () => {
    const [verdict] = checkGate(spec({ minThroughputRps: 100 }), measured({ throughput: { stable: false } }));
    expect(verdict.pass).toBe(false);
    expect(verdict.message).toBe(
      'throughput 413 rps, not shown within minThroughputRps 100 at p99 <= 25 ms: the result was unstable ' +
        '(the throughput at the latency bound varied by more than 10% between windows) ' +
        '(1 CPU, onnxruntime 1.30.0, max batch 8, 12,345 samples, unstable); raise gate.budgetSeconds or quiet the machine',
    );
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

  it('checks memory, cold start and model size in MiB and ms', () => {
    const verdicts = checkGate(
      spec({ maxMemoryMb: 512, maxColdStartMs: 2000, maxModelSizeMb: 100 }),
      measured({
        peakRssBytes: 612.4 * MIB,
        coldStart: { sessionCreateMs: 2100, firstInferenceMs: 210, totalMs: 2310 },
        modelSizeBytes: 120 * MIB,
      }),
    );
    expect(verdicts.map((v) => v.message)).toEqual([
      'peak memory 612 MiB > maxMemoryMb 512 (peak rss of the benchmark process, 1 CPU, onnxruntime 1.30.0); use a smaller or quantized model or raise maxMemoryMb (and resources.memory with it)',
      'cold start 2,310 ms > maxColdStartMs 2,000 (session create 2,100 ms + first inference 210 ms, 1 CPU, onnxruntime 1.30.0); use a smaller model, raise resources.cpu or relax maxColdStartMs',
      'model size 120 MiB > maxModelSizeMb 100 (125,829,120 bytes); shrink the model (quantize or prune it) or raise maxModelSizeMb',
    ]);
    expect(verdicts[0].measured).toBeCloseTo(612.4, 9);
  });

  it('adds digits so a measured value never reads like its limit', () => {
    const [verdict] = checkGate(spec({ latencyP99Ms: 25 }), measured({ latency: { p99Ms: 25.04 } }));
    expect(verdict.message).toMatch(/^latency p99 25.04 ms > latencyP99Ms 25 /);
    expect(checkGate(spec({ latencyP99Ms: 25 }), measured({ latency: { p99Ms: 25 } }))[0].pass).toBe(true);
  });

  it('fails a NaN measurement', () => {
    const [verdict] = checkGate(spec({ latencyP99Ms: 25 }), measured({ latency: { p99Ms: Number.NaN } }));
    expect(verdict.pass).toBe(false);
    expect(verdict.message).toMatch(/^latency p99 n\/a ms > latencyP99Ms 25/);
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
    expect(verdict.message).toMatch(/\(500m CPU, onnxruntime 1.22.1, 4,812 samples, stable\)/);
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
      spec({ latencyP50Ms: 100, latencyP99Ms: 25, minThroughputRps: 500, maxMemoryMb: 100 }),
      measured(),
    );
    const text = formatGateFailure('prod/iris', verdicts);
    const lines = text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\[prod\/iris\] gate failed: latency p99 31.2 ms > latencyP99Ms 25 /);
    expect(lines[1]).toMatch(/^ {2}throughput 413 rps < minThroughputRps 500 /);
    expect(lines[2]).toMatch(/^ {2}peak memory 180 MiB > maxMemoryMb 100 /);
    expect(text).not.toMatch(/latency p50/);
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
