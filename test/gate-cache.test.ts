import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type GateSpec } from '../lib/core';
import {
  GATE_CACHE_FORMAT_VERSION,
  canonicalJson,
  defaultCacheDir,
  gateCacheKey,
  readCachedReport,
  writeCachedReport,
  type GateCacheKeyInput,
} from '../lib/gate/cache';
import { type GateReport } from '../lib/gate/gate-report';

let dir: string;
let evalFile: string;
let goldenFile: string;
let inputsFile: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-cache-'));
  evalFile = path.join(dir, 'eval.jsonl');
  goldenFile = path.join(dir, 'golden.jsonl');
  inputsFile = path.join(dir, 'inputs.jsonl');
  fs.writeFileSync(evalFile, '{"inputs":{"x":[1]},"label":0}\n');
  fs.writeFileSync(goldenFile, '{"inputs":{"x":[1]},"outputs":{"y":[0.5]}}\n');
  fs.writeFileSync(inputsFile, '{"inputs":{"x":[1]}}\n');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function gate(): GateSpec {
  return {
    latencyP99Ms: 25,
    latencyBoundMs: 25,
    minThroughputRps: 300,
    accuracy: { dataset: evalFile, metric: 'top1', k: 5, min: 0.9 },
    parity: { dataset: goldenFile, atol: 1e-4, rtol: 1e-3 },
    inputShapes: { x: [1, 4], y: [1, 2] },
    inputDataset: inputsFile,
    budgetSeconds: 20,
    maxBatchSize: 32,
    seed: 1,
  };
}

function input(): GateCacheKeyInput {
  return {
    sha256: 'ab'.repeat(32),
    gate: gate(),
    resources: { cpuMillis: 1000, memoryBytes: 512 * 2 ** 20 },
    onnxruntimeVersion: '1.30.0',
    cpuModel: 'Test CPU',
    serverEnv: { MODELFAB_MODEL_NAME: 'iris', MODELFAB_DRAIN_SECONDS: '20' },
    enforcement: { cpu: 'quota', memory: 'cgroup' },
    targetUtilization: 0.7,
  };
}

/** A report-shaped object; the cache does not look inside measurements. */
function report(): GateReport {
  return {
    schemaVersion: 1,
    model: { name: 'iris', path: '/m/iris.onnx', sha256: 'ab'.repeat(32), sizeBytes: 100 },
    gate: gate(),
    measurements: { durationMs: 1 } as unknown as GateReport['measurements'],
    verdicts: [],
    grades: { latency: 'excellent', throughput: 'pass' },
    passed: true,
    cached: false,
  };
}

/** Every key of an object, recursively, in reverse order. */
function reversed<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).reverse())
    out[key] = reversed((value as Record<string, unknown>)[key]);
  return out as T;
}

describe('gateCacheKey', () => {
  it('is a sha256 in hex and deterministic', () => {
    const key = gateCacheKey(input());
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(gateCacheKey(input())).toBe(key);
  });

  it('does not depend on key order or on undefined properties', () => {
    const base = gateCacheKey(input());
    const i = input();
    expect(JSON.stringify(reversed(i.gate))).not.toBe(JSON.stringify(i.gate));
    expect(gateCacheKey(reversed(i))).toBe(base);
    expect(gateCacheKey({ ...i, gate: { ...i.gate, maxMemoryMb: undefined } })).toBe(base);
  });

  it.each<[string, (i: GateCacheKeyInput) => GateCacheKeyInput]>([
    ['the model digest', (i) => ({ ...i, sha256: 'cd'.repeat(32) })],
    ['a threshold', (i) => ({ ...i, gate: { ...i.gate, latencyP99Ms: 26 } })],
    ['a new threshold', (i) => ({ ...i, gate: { ...i.gate, maxMemoryMb: 512 } })],
    [
      'a nested threshold',
      (i) => ({ ...i, gate: { ...i.gate, accuracy: { ...i.gate.accuracy!, min: 0.91 } } }),
    ],
    ['an input shape', (i) => ({ ...i, gate: { ...i.gate, inputShapes: { x: [1, 5], y: [1, 2] } } })],
    ['the budget', (i) => ({ ...i, gate: { ...i.gate, budgetSeconds: 30 } })],
    ['the seed', (i) => ({ ...i, gate: { ...i.gate, seed: 2 } })],
    ['the cpu limit', (i) => ({ ...i, resources: { ...i.resources, cpuMillis: 2000 } })],
    ['the memory limit', (i) => ({ ...i, resources: { ...i.resources, memoryBytes: 2 ** 30 } })],
    ['the onnxruntime version', (i) => ({ ...i, onnxruntimeVersion: '1.31.0' })],
    ['the cpu model', (i) => ({ ...i, cpuModel: 'Other CPU' })],
    ['a server setting', (i) => ({ ...i, serverEnv: { ...i.serverEnv, MODELFAB_MAX_QUEUE_SIZE: '64' } })],
    [
      'a user variable the server sees',
      (i) => ({ ...i, serverEnv: { ...i.serverEnv, OMP_NUM_THREADS: '1' } }),
    ],
    ['how the cpu limit is enforced', (i) => ({ ...i, enforcement: { ...i.enforcement, cpu: 'affinity' } })],
    [
      'how the memory limit is enforced',
      (i) => ({ ...i, enforcement: { ...i.enforcement, memory: 'none' } }),
    ],
    ['the planned utilization', (i) => ({ ...i, targetUtilization: 0.5 })],
  ])('changes with %s', (_name, change) => {
    expect(gateCacheKey(change(input()))).not.toBe(gateCacheKey(input()));
  });

  it.each([
    ['accuracy.dataset', () => evalFile],
    ['parity.dataset', () => goldenFile],
    ['inputDataset', () => inputsFile],
  ])('changes when the content of %s changes, at the same path', (_name, fileOf) => {
    const file = fileOf();
    const original = fs.readFileSync(file);
    try {
      const before = gateCacheKey(input());
      fs.appendFileSync(file, '{"inputs":{"x":[2]},"label":1,"outputs":{"y":[0.1]}}\n');
      expect(gateCacheKey(input())).not.toBe(before);
      fs.writeFileSync(file, original);
      expect(gateCacheKey(input())).toBe(before);
    } finally {
      fs.writeFileSync(file, original);
    }
  });

  it('keys a dataset that cannot be read rather than failing', () => {
    const i = input();
    const missing = { ...i, gate: { ...i.gate, inputDataset: path.join(dir, 'missing.jsonl') } };
    expect(gateCacheKey(missing)).toMatch(/^[0-9a-f]{64}$/);
    expect(gateCacheKey(missing)).not.toBe(gateCacheKey(i));
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: undefined, b: null } })).toBe(
      '{"a":{"b":null,"d":[3,1]},"b":1}',
    );
  });
});

describe('the cache on disk', () => {
  let cacheDir: string;
  let n = 0;
  afterEach(() => {
    n++;
  });
  const fresh = () => path.join(dir, `cache-${n}`, 'nested');

  it('misses, then hits after a write, marking the report cached', () => {
    cacheDir = fresh();
    const key = gateCacheKey(input());
    expect(readCachedReport(cacheDir, key)).toBeUndefined();
    writeCachedReport(cacheDir, key, report());
    const hit = readCachedReport(cacheDir, key);
    expect(hit).toEqual({ ...report(), cached: true });
    expect(readCachedReport(cacheDir, 'f'.repeat(64))).toBeUndefined();
  });

  it('stores the report as not cached, under a format version and the key', () => {
    cacheDir = fresh();
    const key = 'a'.repeat(64);
    writeCachedReport(cacheDir, key, { ...report(), cached: true });
    const entry = JSON.parse(fs.readFileSync(path.join(cacheDir, `${key}.gate.json`), 'utf8'));
    expect(entry.formatVersion).toBe(GATE_CACHE_FORMAT_VERSION);
    expect(entry.key).toBe(key);
    expect(entry.report.cached).toBe(false);
  });

  it.each([
    ['garbage', 'not json {'],
    ['a truncated entry', '{"formatVersion":1,"key":"'],
    ['json of another shape', '[1,2,3]'],
    ['another format version', JSON.stringify({ formatVersion: 999, key: 'b'.repeat(64), report: report() })],
    [
      'another key',
      JSON.stringify({ formatVersion: GATE_CACHE_FORMAT_VERSION, key: 'c'.repeat(64), report: report() }),
    ],
    [
      'a report of another schema',
      JSON.stringify({
        formatVersion: GATE_CACHE_FORMAT_VERSION,
        key: 'b'.repeat(64),
        report: { schemaVersion: 2 },
      }),
    ],
    ['an empty file', ''],
  ])('treats %s as a miss', (_name, content) => {
    cacheDir = fresh();
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(path.join(cacheDir, `${'b'.repeat(64)}.gate.json`), content);
    expect(readCachedReport(cacheDir, 'b'.repeat(64))).toBeUndefined();
  });

  it('treats an unreadable entry (a directory) as a miss', () => {
    cacheDir = fresh();
    fs.mkdirSync(path.join(cacheDir, `${'d'.repeat(64)}.gate.json`), { recursive: true });
    expect(readCachedReport(cacheDir, 'd'.repeat(64))).toBeUndefined();
  });

  it('writes atomically: overwrites leave one entry per key and no temporary files', () => {
    cacheDir = fresh();
    const keys = ['1', '2', '3'].map((c) => c.repeat(64));
    for (let round = 0; round < 5; round++) {
      for (const key of keys) writeCachedReport(cacheDir, key, { ...report(), passed: round % 2 === 0 });
    }
    expect(fs.readdirSync(cacheDir).sort()).toEqual(keys.map((k) => `${k}.gate.json`));
    expect(readCachedReport(cacheDir, keys[0])?.passed).toBe(true);
  });

  it('rejects a key that is not a sha256, so it cannot name another path', () => {
    expect(() => readCachedReport(dir, '../x')).toThrow(/received "..\/x"/);
    expect(() => writeCachedReport(dir, 'ABC', report())).toThrow(/64 lower-case hex/);
  });
});

describe('defaultCacheDir', () => {
  const saved = process.env.MODELFAB_CACHE_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.MODELFAB_CACHE_DIR;
    else process.env.MODELFAB_CACHE_DIR = saved;
  });

  it('is MODELFAB_CACHE_DIR when set, else .modelfab-cache in the current directory', () => {
    process.env.MODELFAB_CACHE_DIR = '/tmp/somewhere';
    expect(defaultCacheDir()).toBe('/tmp/somewhere');
    delete process.env.MODELFAB_CACHE_DIR;
    expect(defaultCacheDir()).toBe(path.join(process.cwd(), '.modelfab-cache'));
    process.env.MODELFAB_CACHE_DIR = '';
    expect(defaultCacheDir()).toBe(path.join(process.cwd(), '.modelfab-cache'));
  });
});
