/**
 * Models and datasets for the gate's integration tests, written into a directory with the
 * deterministic ONNX builder; and the measurements a gate run reports, for the judgement and
 * renderer tests.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { quantileBounds } from '../../lib/gate/confidence';
import {
  type GateMeasurements,
  type LatencyMeasurement,
  type PercentileBounds,
} from '../../lib/gate/gate-report';
import { latencyStats, logHistogram, stability, windowStats } from '../../lib/gate/statistics';
import { encodeModel, type ModelSpec } from '../../tools/onnx/model-builder';

export const IRIS_DIR = path.resolve(__dirname, '../../examples/iris/model');

function write(dir: string, name: string, spec: ModelSpec): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, encodeModel(spec));
  return file;
}

/** x [batch, n] through k chained n×n MatMuls: the work grows linearly with k. */
export function chainedMatMulModel(dir: string, k: number, n: number): string {
  const weights = Array.from({ length: n * n }, (_, i) => (((i * 7919) % 101) - 50) / (50 * n));
  const nodes = Array.from({ length: k }, (_, i) => ({
    op: 'MatMul',
    inputs: [i === 0 ? 'x' : `h${i}`, 'w'],
    outputs: [i === k - 1 ? 'y' : `h${i + 1}`],
  }));
  return write(dir, `matmul-${k}x${n}.onnx`, {
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', n] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', n] }],
    nodes,
    initializers: [{ name: 'w', type: 'float32', dims: [n, n], values: weights }],
  });
}

/**
 * `x` float32 [batch, n] through `k` chained MatMuls with one [n, n] weight that is not a
 * constant to onnxruntime: it is added to a zero computed from the input (ReduceMax(x) × 0), so
 * the session does not pre-pack it once per MatMul at load. The result is a model that loads in
 * milliseconds yet takes as long per request as `k` asks (2,200 × 1,024: about 90 ms on one core
 * here), and batches well (a batch of 32 about 3× the rows per second of one at a time).
 */
export function heavyMatMulModel(dir: string, k: number, n: number): string {
  const weights = Array.from({ length: n * n }, (_, i) => (((i * 7919) % 101) - 50) / (50 * n));
  return write(dir, `heavy-matmul-${k}x${n}.onnx`, {
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', n] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', n] }],
    nodes: [
      { op: 'ReduceMax', inputs: ['x'], outputs: ['m'], attributes: { keepdims: { int: 0 } } },
      { op: 'Mul', inputs: ['m', 'zero'], outputs: ['z'] },
      { op: 'Add', inputs: ['w', 'z'], outputs: ['wz'] },
      ...Array.from({ length: k }, (_, i) => ({
        op: 'MatMul',
        inputs: [i === 0 ? 'x' : `h${i}`, 'wz'],
        outputs: [i === k - 1 ? 'y' : `h${i + 1}`],
      })),
    ],
    initializers: [
      { name: 'w', type: 'float32', dims: [n, n], values: weights },
      { name: 'zero', type: 'float32', dims: [], values: [0] },
    ],
  });
}

/** Two float inputs added together. */
export function twoInputModel(dir: string): string {
  return write(dir, 'two-inputs.onnx', {
    inputs: [
      { name: 'a', type: 'float32', shape: ['batch', 4] },
      { name: 'b', type: 'float32', shape: ['batch', 4] },
    ],
    outputs: [{ name: 'sum', type: 'float32', shape: ['batch', 4] }],
    nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['sum'] }],
  });
}

/** An int64 scalar input (not batchable) next to a float input. */
export function int64ScalarModel(dir: string): string {
  return write(dir, 'int64-scalar.onnx', {
    inputs: [
      { name: 'x', type: 'float32', shape: [2, 3] },
      { name: 'steps', type: 'int64', shape: [] },
    ],
    outputs: [
      { name: 'y', type: 'float32', shape: [2, 3] },
      { name: 'steps_out', type: 'int64', shape: [] },
    ],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['y'] },
      { op: 'Identity', inputs: ['steps'], outputs: ['steps_out'] },
    ],
  });
}

/** A bool input negated. */
export function boolModel(dir: string): string {
  return write(dir, 'bool.onnx', {
    inputs: [{ name: 'mask', type: 'bool', shape: ['batch', 3] }],
    outputs: [{ name: 'inverted', type: 'bool', shape: ['batch', 3] }],
    nodes: [{ op: 'Not', inputs: ['mask'], outputs: ['inverted'] }],
  });
}

/** A sequence model whose length dimension is symbolic: needs gate.inputShapes. */
export function symbolicSeqModel(dir: string): string {
  return write(dir, 'symbolic-seq.onnx', {
    inputs: [{ name: 'tokens', type: 'float32', shape: ['batch', 'seq', 8] }],
    outputs: [{ name: 'pooled', type: 'float32', shape: ['batch', 8] }],
    nodes: [
      {
        op: 'ReduceMean',
        inputs: ['tokens'],
        outputs: ['pooled'],
        attributes: { axes: { ints: [1] }, keepdims: { int: 0 } },
      },
    ],
  });
}

/** A model that loads but fails at run time: Reshape of [batch, 4] to [3, 5]. */
export function failingModel(dir: string): string {
  return write(dir, 'fails-at-run-time.onnx', {
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', 4] }],
    outputs: [{ name: 'y', type: 'float32', shape: [3, 5] }],
    nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
    initializers: [{ name: 'shape', type: 'int64', dims: [2], values: [3, 5] }],
  });
}

/**
 * x [1, 4] reshaped by its int64 input `shape` [2]: runs only when the shape holds 4 elements, as
 * a model runs only with the sample rate or state it was built for. Random integers (0 to 9)
 * break it; every element pinned to 2 gives [2, 2], which works.
 */
export function shapeInputModel(dir: string): string {
  return write(dir, 'shape-input.onnx', {
    inputs: [
      { name: 'x', type: 'float32', shape: [1, 4] },
      { name: 'shape', type: 'int64', shape: [2] },
    ],
    outputs: [{ name: 'y', type: 'float32', shape: ['rows', 'cols'] }],
    nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
  });
}

/** The Iris model with one Gemm weight changed: same signature, different outputs. */
export function perturbedIrisModel(dir: string): string {
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(IRIS_DIR, 'iris.onnx')));
  const weight = model.graph!.initializer!.find((t) => t.dims!.length === 2)!;
  const values = new Float32Array(new Uint8Array(weight.rawData!).slice().buffer);
  values[0] += 0.5;
  weight.rawData = new Uint8Array(values.buffer);
  const file = path.join(dir, 'iris-perturbed.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return file;
}

/** The Iris eval set with its labels rotated (each row gets the next row's class). */
export function shuffledLabelsDataset(dir: string): string {
  const rows = fs
    .readFileSync(path.join(IRIS_DIR, 'eval.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { inputs: unknown; label: number });
  const file = path.join(dir, 'eval-shuffled.jsonl');
  fs.writeFileSync(
    file,
    rows.map((row) => JSON.stringify({ ...row, label: (row.label + 1) % 3 })).join('\n') + '\n',
  );
  return file;
}

// ---------------------------------------------------------------------------------------------
// Measurements: what a gate run reports, for the judgement and the renderers.

/** Every field optional, recursively; arrays are replaced whole. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

const MIB = 2 ** 20;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `base` with `overrides` merged in, plain objects recursively; arrays and other values replace. */
export function deepMerge<T>(base: T, overrides: DeepPartial<T> | undefined): T {
  if (!isPlainObject(base) || !isPlainObject(overrides)) return (overrides ?? base) as T;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    merged[key] = isPlainObject(merged[key]) && isPlainObject(value) ? deepMerge(merged[key], value) : value;
  }
  return merged as T;
}

/**
 * Measurements of a healthy run on 1 CPU held by a CFS quota, 512 MiB in a memory cgroup: a small
 * model served with batch 8 (queue delay 5 ms) at 413 rps within p99 25 ms (70% of its 590 rps
 * saturated capacity), judged at the planned operating rate 289 rps (70% of that). A lone request
 * waits out the queue delay. Override any part, nested objects field by field.
 */
export function gateMeasurements(overrides: DeepPartial<GateMeasurements> = {}): GateMeasurements {
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
      enforcement: {
        cpu: 'quota',
        memory: 'cgroup',
        detail: 'CFS quota 100000 µs per 100000 µs (cgroup v2), memory limit 512 MiB (cgroup v2)',
      },
      generatorCeilingRps: 9800,
    },
    coldStart: { sessionCreateMs: 120, firstInferenceMs: 8, totalMs: 128, processReadyMs: 640 },
    latency: {
      samples: 4812,
      p50Ms: 9.8,
      p90Ms: 14.2,
      p95Ms: 16.1,
      p99Ms: 19.4,
      maxMs: 27.5,
      meanMs: 10.6,
      stable: true,
      spread: 0.03,
      detail: 'last 3 windows agree within 10%: p50 spread 2%, throughput spread 3%',
      rateRps: 289.1,
      bounds: {
        p50: { estimateMs: 9.8, lowerMs: 9.6, upperMs: 10.1, samples: 17157 },
        p95: { estimateMs: 16.1, lowerMs: 15.7, upperMs: 17.9, samples: 17157 },
        p99: { estimateMs: 19.4, lowerMs: 18.7, upperMs: 22.9, samples: 17157 },
      },
      confidence: 0.95,
      windows: [
        { samples: 1196, p50Ms: 9.9, p99Ms: 19.8, rps: 287.2 },
        { samples: 1207, p50Ms: 9.8, p99Ms: 19.1, rps: 290.3 },
        { samples: 1201, p50Ms: 9.7, p99Ms: 19.5, rps: 288.9 },
        { samples: 1208, p50Ms: 9.8, p99Ms: 19.3, rps: 290.6 },
      ],
      histogram: {
        boundsMs: [6, 7.5, 9.4, 11.7, 14.6, 18.3, 22.9, 27.5],
        counts: [212, 1010, 1540, 1105, 560, 310, 60, 15],
      },
    },
    loneLatency: {
      samples: 1500,
      p50Ms: 6.9,
      p90Ms: 7.2,
      p95Ms: 7.4,
      p99Ms: 8.1,
      maxMs: 9.3,
      meanMs: 7,
      p99: { estimateMs: 8.1, lowerMs: 7.8, upperMs: 8.6, samples: 1500 },
    },
    modelAlone: { samples: 20000, p50Ms: 1.7, p90Ms: 1.9, p95Ms: 2, p99Ms: 2.4, maxMs: 4.1, meanMs: 1.75 },
    throughput: {
      latencyBoundMs: 25,
      rps: 413,
      stable: true,
      decision: 'within',
      generatorBound: false,
      settings: [
        {
          maxBatchSize: 1,
          maxQueueDelayMs: 0,
          capacityRps: 210,
          rps: 178.5,
          p99Ms: 19.8,
          p99UpperMs: 22.4,
          samples: 3120,
          decision: 'within',
          stable: true,
        },
        {
          maxBatchSize: 8,
          maxQueueDelayMs: 5,
          capacityRps: 590,
          rps: 413,
          p99Ms: 23.1,
          p99UpperMs: 24.6,
          samples: 12345,
          decision: 'within',
          stable: true,
        },
        {
          maxBatchSize: 32,
          maxQueueDelayMs: 5,
          capacityRps: 610,
          rps: 427,
          p99Ms: 23.8,
          p99UpperMs: 24.9,
          samples: 12810,
          decision: 'within',
          stable: true,
        },
      ],
    },
    peakRssBytes: 180 * MIB,
    modelSizeBytes: 12 * MIB,
    servingConfig: { maxBatchSize: 8, maxQueueDelayMs: 5, intraOpThreads: 1, workers: 1 },
    durationMs: 18000,
  };
  return deepMerge<GateMeasurements>(base, overrides);
}

/** Deterministic latency samples (ms): around 10 ms with a tail, as an open-loop run shows them. */
export function latencySamples(n = 3000, seed = 11): number[] {
  let state = seed;
  const rand = () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  return Array.from({ length: n }, () => 6 + 8 * rand() * rand() + (rand() < 0.02 ? 14 * rand() : 0));
}

/**
 * The latency at an operating rate as the gate computes it from samples: statistics, drift over
 * four windows, the histogram and distribution-free bounds at 95% confidence (every bound from the
 * samples themselves, as when nothing else was pooled).
 */
export function operatingLatency(samplesMs: readonly number[], rateRps: number): LatencyMeasurement {
  const quarter = Math.ceil(samplesMs.length / 4);
  const windowSeconds = quarter / rateRps;
  const windows = [0, 1, 2, 3].map((w) =>
    windowStats(samplesMs.slice(w * quarter, (w + 1) * quarter), windowSeconds),
  );
  const sorted = Float64Array.from(samplesMs).sort();
  const bounds = (p: number): PercentileBounds => {
    const b = quantileBounds(sorted, p, 0.95);
    return {
      estimateMs: b.estimate,
      ...(b.lower !== undefined ? { lowerMs: b.lower } : {}),
      ...(b.upper !== undefined ? { upperMs: b.upper } : {}),
      samples: b.samples,
    };
  };
  return {
    ...latencyStats(samplesMs),
    ...stability(windows),
    rateRps,
    bounds: { p50: bounds(50), p95: bounds(95), p99: bounds(99) },
    confidence: 0.95,
    windows,
    histogram: logHistogram(samplesMs),
  };
}
