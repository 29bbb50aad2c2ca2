import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type GateSpec } from '../lib/core';
import {
  GATE_CACHE_FORMAT_VERSION,
  canonicalJson,
  defaultCacheDir,
  findGpuReport,
  gateCacheKey,
  gpuCacheKey,
  gpuEntryDir,
  gpuLookupKey,
  readCachedReport,
  readGpuReport,
  writeCachedReport,
  writeGpuReport,
  type GateCacheKeyInput,
  type GpuCacheKeyInput,
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

describe('GPU keys', () => {
  function gpuInput(): GpuCacheKeyInput {
    const { cpuModel: _cpu, enforcement: _enforcement, ...rest } = input();
    return { ...rest, gpu: 'a10g', provider: 'cuda' };
  }
  const A10G = { product: 'NVIDIA A10G', driverVersion: '550.127.05' };

  it('differ by GPU name, product and driver; the lookup key by GPU name only', () => {
    const key = gpuCacheKey(gpuInput(), A10G);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(gpuCacheKey(reversed(gpuInput()), A10G)).toBe(key);
    expect(gpuCacheKey(gpuInput(), { ...A10G, driverVersion: '560.35.03' })).not.toBe(key);
    expect(gpuCacheKey(gpuInput(), { ...A10G, product: 'NVIDIA A10' })).not.toBe(key);
    expect(gpuCacheKey({ ...gpuInput(), gpu: 'l4' }, A10G)).not.toBe(key);
    expect(gpuCacheKey({ ...gpuInput(), provider: 'tensorrt' }, A10G)).not.toBe(key);
    const lookup = gpuLookupKey(gpuInput());
    expect(lookup).not.toBe(key);
    expect(gpuLookupKey({ ...gpuInput(), gpu: 'l4' })).not.toBe(lookup);
    // What decides the numbers still changes both.
    for (const other of [
      { ...gpuInput(), sha256: 'cd'.repeat(32) },
      { ...gpuInput(), resources: { cpuMillis: 2000, memoryBytes: 512 * 2 ** 20 } },
      { ...gpuInput(), onnxruntimeVersion: '1.31.0' },
      { ...gpuInput(), serverEnv: { MODELFAB_MODEL_NAME: 'iris' } },
      { ...gpuInput(), targetUtilization: 0.5 },
      { ...gpuInput(), gate: { ...gate(), latencyP99Ms: 30 } },
    ]) {
      expect(gpuLookupKey(other)).not.toBe(lookup);
      expect(gpuCacheKey(other, A10G)).not.toBe(key);
    }
  });

  it('do not hold the host CPU or its enforcement, and are not the CPU key', () => {
    const cpuKey = gateCacheKey(input());
    expect(gateCacheKey({ ...input(), cpuModel: 'Other CPU' })).not.toBe(cpuKey);
    // The GPU key's input has no CPU model or enforcement to vary: two hosts with different CPUs
    // and enforcement compute the same GPU key from the same service.
    const gpuKeys = [
      input(),
      { ...input(), cpuModel: 'Other CPU', enforcement: { cpu: 'none', memory: 'none' } },
    ].map(({ cpuModel: _c, enforcement: _e, ...rest }) =>
      gpuCacheKey({ ...rest, gpu: 'a10g', provider: 'cuda' }, A10G),
    );
    expect(gpuKeys[0]).toBe(gpuKeys[1]);
    expect(gpuKeys[0]).not.toBe(cpuKey);
  });

  it('key datasets by content, not by path, so two checkouts share entries', () => {
    const elsewhere = fs.mkdtempSync(path.join(dir, 'checkout-'));
    const copy = (file: string) => {
      const target = path.join(elsewhere, path.basename(file));
      fs.copyFileSync(file, target);
      return target;
    };
    const g = gate();
    const moved: GateSpec = {
      ...g,
      accuracy: { ...g.accuracy!, dataset: copy(evalFile) },
      parity: { ...g.parity!, dataset: copy(goldenFile) },
      inputDataset: copy(inputsFile),
    };
    expect(gpuLookupKey({ ...gpuInput(), gate: moved })).toBe(gpuLookupKey(gpuInput()));
    fs.appendFileSync(moved.parity!.dataset, '{"inputs":{"x":[2]},"outputs":{"y":[0.1]}}\n');
    expect(gpuLookupKey({ ...gpuInput(), gate: moved })).not.toBe(gpuLookupKey(gpuInput()));
  });
});

describe('GPU entries on disk', () => {
  const A10G = { product: 'NVIDIA A10G', driverVersion: '550.127.05' };
  const lookupKey = 'e'.repeat(64);
  /** A report measured on `device` at `measuredAt`. */
  function gpuReport(device: typeof A10G, measuredAt: string, passed = true): GateReport {
    const r = report();
    return {
      ...r,
      passed,
      measurements: {
        ...r.measurements,
        environment: {
          gpu: { name: 'a10g', ...device, memoryMiB: 23028, provider: 'cuda', measuredAt },
        },
      } as unknown as GateReport['measurements'],
    };
  }
  let n = 0;
  const fresh = () => path.join(dir, `gpu-cache-${n++}`);

  it('live in gpu/<lookup key>/<key>.gate.json, read back by both keys', () => {
    const cacheDir = fresh();
    const keys = { lookupKey, key: '1'.repeat(64) };
    expect(findGpuReport(cacheDir, lookupKey)).toBeUndefined();
    writeGpuReport(cacheDir, keys, gpuReport(A10G, '2026-11-20T10:00:00.000Z'));
    expect(fs.readdirSync(gpuEntryDir(cacheDir, lookupKey))).toEqual([`${'1'.repeat(64)}.gate.json`]);
    expect(gpuEntryDir(cacheDir, lookupKey)).toBe(path.join(cacheDir, 'gpu', lookupKey));
    expect(readGpuReport(cacheDir, keys)?.cached).toBe(true);
    expect(findGpuReport(cacheDir, lookupKey)).toEqual({
      key: keys.key,
      report: { ...gpuReport(A10G, '2026-11-20T10:00:00.000Z'), cached: true },
    });
    // Not a CPU entry, and not under another lookup key.
    expect(readCachedReport(cacheDir, keys.key)).toBeUndefined();
    expect(findGpuReport(cacheDir, 'f'.repeat(64))).toBeUndefined();
    expect(readGpuReport(cacheDir, { lookupKey: 'f'.repeat(64), key: keys.key })).toBeUndefined();
  });

  it('give a synth the most recently measured report whatever the driver', () => {
    const cacheDir = fresh();
    writeGpuReport(
      cacheDir,
      { lookupKey, key: '2'.repeat(64) },
      gpuReport(A10G, '2026-11-20T10:00:00.000Z', true),
    );
    writeGpuReport(
      cacheDir,
      { lookupKey, key: '3'.repeat(64) },
      gpuReport({ ...A10G, driverVersion: '560.35.03' }, '2026-11-22T10:00:00.000Z', false),
    );
    writeGpuReport(
      cacheDir,
      { lookupKey, key: '4'.repeat(64) },
      gpuReport(A10G, '2026-11-21T10:00:00.000Z', true),
    );
    const found = findGpuReport(cacheDir, lookupKey);
    expect(found?.key).toBe('3'.repeat(64));
    expect(found?.report.measurements.environment.gpu?.driverVersion).toBe('560.35.03');
    expect(found?.report.passed).toBe(false);
  });

  it('pass over what is not a whole GPU entry of this lookup key', () => {
    const cacheDir = fresh();
    const folder = gpuEntryDir(cacheDir, lookupKey);
    fs.mkdirSync(folder, { recursive: true });
    fs.writeFileSync(path.join(folder, `${'5'.repeat(64)}.gate.json`), 'not json {');
    fs.writeFileSync(
      path.join(folder, `${'6'.repeat(64)}.gate.json`),
      JSON.stringify({
        formatVersion: GATE_CACHE_FORMAT_VERSION,
        key: '6'.repeat(64),
        lookupKey: 'f'.repeat(64),
        report: gpuReport(A10G, '2026-11-23T00:00:00.000Z'),
      }),
    );
    // A report measured on the CPU, under a GPU key: never a GPU service's report.
    fs.writeFileSync(
      path.join(folder, `${'7'.repeat(64)}.gate.json`),
      JSON.stringify({
        formatVersion: GATE_CACHE_FORMAT_VERSION,
        key: '7'.repeat(64),
        lookupKey,
        report: { ...report(), measurements: { environment: {} } },
      }),
    );
    fs.writeFileSync(path.join(folder, 'README'), 'x');
    expect(findGpuReport(cacheDir, lookupKey)).toBeUndefined();
  });

  it('refuse a report that does not say which GPU measured it, and keys that are not sha256s', () => {
    expect(() => writeGpuReport(fresh(), { lookupKey, key: '8'.repeat(64) }, report())).toThrow(
      'a GPU cache entry needs a report measured on a GPU (measurements.environment.gpu)',
    );
    expect(() => findGpuReport(dir, '../x')).toThrow(/received "..\/x"/);
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
