/**
 * The quality gate end to end: a real benchmark worker process, real onnxruntime, real files.
 * These runs prove the wiring (worker process, report, cache, synth, messages); the decisions they
 * rest on (the latency windows, the throughput search, the verdicts) are tested exactly, on a
 * virtual clock, in gate-measure-performance.test.ts and gate-check.test.ts, and the correctness
 * phase in gate-measure-correctness.test.ts. Budgets are the smallest that prove the wiring, and one
 * measured Iris report serves every synth test that needs a passing gate, through the gate cache.
 * Thresholds that must pass are generous. It measures, so it runs alone (vitest.config.mts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { InferenceService, type InferenceServiceProps } from '../lib/cdk8s';
import { defaultModelName, type GateProps, PropsChecker, resolveGate } from '../lib/core';
import { type GateReport, runGate, runGateSync } from '../lib/gate';
import { inspectModel } from '../lib/model';
import { serverEntryFile } from '../lib/server/bundle-server';
import * as fx from './support/gate-fixtures';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-gate-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const IRIS = path.join(fx.IRIS_DIR, 'iris.onnx');
const EVAL = path.join(fx.IRIS_DIR, 'eval.jsonl');
const EXPECTED = path.join(fx.IRIS_DIR, 'expected.jsonl');

/** Runs the gate on a model with a fresh cache unless one is given. */
function gate(
  modelPath: string,
  props: GateProps,
  cacheDir = fs.mkdtempSync(path.join(scratch, 'cache-')),
): GateReport {
  const model = inspectModel(modelPath);
  return runGateSync({
    constructPath: 'test/svc',
    modelName: defaultModelName(modelPath),
    model,
    gate: resolveGate(
      new PropsChecker('test/svc'),
      { budgetSeconds: 3, maxBatchSize: 4, ...props },
      process.cwd(),
    ),
    resources: { cpuMillis: 1000, memoryBytes: 512 * 2 ** 20 },
    server: { entry: serverEntryFile(), env: {} },
    cacheDir,
  });
}

/**
 * A realistic gate on the Iris model, measured once (at collection) into IRIS_CACHE: the synth
 * tests below declare the same gate and resources, so they read this report from the cache.
 */
const IRIS_CACHE = fs.mkdtempSync(path.join(scratch, 'iris-cache-'));
const IRIS_GATE: GateProps = {
  // 50 ms: well clear of what a 1-CPU quota's stalls add to Iris's p99 on a busy CI runner, so
  // these tests check the wiring, not the runner's luck.
  latencyP99Ms: 50,
  minThroughputRps: 50,
  accuracy: { dataset: EVAL, min: 0.9 },
  parity: { dataset: EXPECTED, atol: 1e-5, rtol: 1e-4 },
  maxColdStartMs: 5000,
  maxModelSizeMb: 1,
  maxMemoryMb: 2048,
  // Two batch sizes and the shorter queue delay, each with room for a trial or two.
  budgetSeconds: 4,
  maxBatchSize: 2,
};

// The resources the Iris gate is measured with: synth tests with IRIS_GATE read its report.
const base: InferenceServiceProps = {
  model: IRIS,
  image: 'ghcr.io/acme/iris:1.0.0',
  resources: { cpu: '1', memory: '512Mi' },
};
process.env.MODELFAB_CACHE_DIR = IRIS_CACHE;
afterAll(() => delete process.env.MODELFAB_CACHE_DIR);

function synth(props: Partial<InferenceServiceProps>) {
  const outdir = fs.mkdtempSync(path.join(scratch, 'out-'));
  const app = new App({ outdir });
  const chart = new Chart(app, 'prod', { namespace: 'ml' });
  const service = new InferenceService(chart, 'iris', { ...base, ...props });
  return { app, chart, service, outdir, synth: () => app.synth(), objects: () => chart.toJson() };
}

describe('gate on the Iris model', () => {
  // Measured through synth, as users run it: the server gets the Deployment's environment, and
  // the report lands in IRIS_CACHE for the synth tests below.
  const report = synth({ gate: IRIS_GATE }).service.gateReport as GateReport;

  it('passes a realistic gate, every threshold with its verdict', () => {
    expect(report.verdicts.filter((v) => !v.pass)).toEqual([]);
    expect(report.verdicts.map((v) => v.threshold).sort()).toEqual(
      [
        'accuracy.min',
        'latencyP99Ms', // at the operating rate
        'latencyP99Ms', // a lone request
        'maxColdStartMs',
        'maxMemoryMb',
        'maxModelSizeMb',
        'minThroughputRps',
        'parity',
      ].sort(),
    );
    expect(report.passed).toBe(true);
  });

  it('measures what DESIGN.md lists, on the served path, honestly labelled', () => {
    const m = report.measurements;
    expect(m.environment).toMatchObject({
      onnxruntimeVersion: '1.30.0',
      intraOpThreads: 1,
      cpuLimitMillis: 1000,
    });
    expect(['quota', 'affinity', 'none']).toContain(m.environment.enforcement.cpu);
    expect(m.environment.enforcement.detail).not.toBe('');
    expect(m.environment.generatorCeilingRps).toBeGreaterThan(0);
    expect(m.coldStart.sessionCreateMs).toBeGreaterThan(0);
    expect(m.coldStart.totalMs).toBeCloseTo(m.coldStart.sessionCreateMs + m.coldStart.firstInferenceMs, 6);
    // A process start pays node, onnxruntime and the model: more than the session alone.
    expect(m.coldStart.processReadyMs).toBeGreaterThan(m.coldStart.sessionCreateMs);
    expect(m.latency.samples).toBe(m.latency.windows.reduce((n, w) => n + w.samples, 0));
    expect(m.latency.p50Ms).toBeLessThanOrEqual(m.latency.p99Ms);
    expect(m.latency.p99Ms).toBeLessThanOrEqual(m.latency.maxMs);
    expect(m.latency.rateRps).toBeCloseTo(m.throughput.rps * 0.7, 6); // the default target utilization
    expect(m.latency.bounds.p99.upperMs).toBeLessThanOrEqual(50);
    expect(m.loneLatency.samples).toBeGreaterThan(0);
    expect(m.modelAlone.p50Ms).toBeLessThan(m.loneLatency.p50Ms); // no HTTP, no server
    // Batch sizes 1 and 2 (maxBatchSize); a 4 s budget affords a probe of the largest at least.
    const sizes = m.throughput.settings.map((s) => s.maxBatchSize);
    expect(sizes).toContain(2);
    expect(sizes.every((size) => size === 1 || size === 2)).toBe(true);
    const chosen = m.throughput.settings.find((s) => s.rps === m.throughput.rps)!;
    expect(m.servingConfig).toMatchObject({
      maxBatchSize: chosen.maxBatchSize,
      maxQueueDelayMs: chosen.maxQueueDelayMs,
    });
    expect(chosen.decision).toBe('within');
    expect(chosen.rps).toBeLessThanOrEqual(chosen.capacityRps);
    expect(m.accuracy).toMatchObject({ metric: 'top1', output: 'probabilities', samples: 45 });
    expect(m.accuracy!.value).toBeGreaterThanOrEqual(0.9);
    expect(m.parity).toMatchObject({ mismatches: 0, samples: 45 });
    expect(m.peakRssBytes).toBeGreaterThan(10 * 2 ** 20);
    expect(m.modelSizeBytes).toBe(fs.statSync(IRIS).size);
  });

  it('serves a second run with the same inputs from the cache, without measuring', () => {
    const again = synth({ gate: IRIS_GATE }).service.gateReport as GateReport;
    expect(again.cached).toBe(true);
    expect(again.measurements).toEqual(report.measurements);
  });
});

describe('gate honesty', () => {
  it('shows latency growing with the work a model does (32 chained 1024×1024 MatMuls against Iris)', () => {
    const iris = synth({ gate: IRIS_GATE }).service.gateReport as GateReport; // from the cache
    const heavy = gate(fx.chainedMatMulModel(scratch, 32, 1024), {
      budgetSeconds: 3,
      maxBatchSize: 1,
    }).measurements;
    const light = iris.measurements;
    // 33M multiply-adds a request against a few dozen. In process the difference shows nearly
    // whole; served, a fixed cost per request (HTTP, 1,024 numbers of JSON each way, a thread
    // hand-off) sits on top, but the added work still shows: at least half of what the model alone
    // added (machine noise moves figures by ~25%).
    expect(heavy.modelAlone.p50Ms).toBeGreaterThan(light.modelAlone.p50Ms * 4);
    const added = heavy.modelAlone.p50Ms - light.modelAlone.p50Ms;
    expect(heavy.loneLatency.p50Ms - light.loneLatency.p50Ms).toBeGreaterThan(added / 2);
  });
});

describe('gate failures', () => {
  it('names the inputs and their shapes when the model fails at run time', () => {
    expect(() => gate(fx.failingModel(scratch), { budgetSeconds: 3 })).toThrow(
      /\[test\/svc\] gate could not run: .*"x".*\[1, ?4\]/,
    );
  });

  it('says how to give the values a model needs when it fails on generated inputs', () => {
    expect(() => gate(fx.shapeInputModel(scratch), { budgetSeconds: 3 })).toThrow(
      /\[test\/svc\] gate could not run: .*"shape" \(int64 \[2\]\).*fix them with gate\.inputValues \(e\.g\. \{ shape: <value> \}\) or benchmark real requests with gate\.inputDataset/s,
    );
  });
});

describe('runGate (without blocking, for Pulumi)', () => {
  /** The first test's first run lands here; the second test reads it back. */
  const ASYNC_CACHE = fs.mkdtempSync(path.join(scratch, 'async-shared-'));
  /** Runs the gate without blocking, with a fresh cache unless one is given. */
  function run(
    modelPath: string,
    props: GateProps,
    cacheDir = fs.mkdtempSync(path.join(scratch, 'async-cache-')),
  ) {
    return runGate({
      constructPath: 'test/async',
      modelName: defaultModelName(modelPath),
      model: inspectModel(modelPath),
      gate: resolveGate(
        new PropsChecker('test/async'),
        { budgetSeconds: 3, maxBatchSize: 1, ...props },
        process.cwd(),
      ),
      resources: { cpuMillis: 1000, memoryBytes: 512 * 2 ** 20 },
      server: { entry: serverEntryFile(), env: {} },
      cacheDir,
    });
  }

  it('runs the benchmarks of one program one at a time, so they do not measure each other', async () => {
    const started = performance.now();
    const [a, b] = await Promise.all([
      run(IRIS, { latencyP99Ms: 50 }, ASYNC_CACHE),
      run(IRIS, { latencyP99Ms: 40 }),
    ]);
    const wallMs = performance.now() - started;
    expect([a.cached, b.cached]).toEqual([false, false]);
    expect(a.measurements.latency.samples).toBeGreaterThan(0);
    expect(b.measurements.latency.samples).toBeGreaterThan(0);
    // Had they overlapped, the two would have taken less than the sum of their own durations.
    expect(wallMs).toBeGreaterThanOrEqual(a.measurements.durationMs + b.measurements.durationMs);
  }, 60_000);

  it('rejects with the same message as the blocking run when the model fails, and keeps the queue going', async () => {
    await expect(run(fx.failingModel(scratch), {})).rejects.toThrow(
      /\[test\/async\] gate could not run: .*"x".*\[1, ?4\]/,
    );
    // The next run in the queue still runs (here from the cache: the queue holds lookups too).
    const next = await run(IRIS, { latencyP99Ms: 50 }, ASYNC_CACHE);
    expect(next.cached).toBe(true);
    expect(next.passed).toBe(true);
  }, 60_000);
});

describe('InferenceService with a gate', () => {
  it('wires the verdict, the digest, the tuned serving config and the capacity plan into the manifests', () => {
    const {
      objects,
      outdir,
      synth: run,
      service,
    } = synth({
      gate: IRIS_GATE,
      slo: { targetRps: 20_000, targetUtilization: 0.7 }, // the default: the cached report's
      autoscaling: { maxReplicas: 1000 },
    });
    run();
    const report = service.gateReport as GateReport;
    expect(report.cached).toBe(true); // the Iris gate's measurement, read from the cache
    const deployment = objects().find((o) => o.kind === 'Deployment');
    expect(deployment.metadata.annotations['modelfab.dev/gate']).toBe('passed');
    expect(deployment.metadata.annotations['modelfab.dev/gate-summary']).toMatch(
      /p99 .* ms at \d+ rps \(lone request .* ms\); \d+ rps\/replica served at p99 <= 50 ms/,
    );
    const env = deployment.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({
      name: 'MODELFAB_MAX_BATCH_SIZE',
      value: String(report.measurements.servingConfig.maxBatchSize),
    });
    expect(env).toContainEqual({
      name: 'MODELFAB_MAX_QUEUE_DELAY_MS',
      value: String(report.measurements.servingConfig.maxQueueDelayMs),
    });
    const hpa = objects().find((o) => o.kind === 'HorizontalPodAutoscaler');
    const planned = Math.ceil(20_000 / (report.measurements.throughput.rps * 0.7));
    expect(report.capacity!.replicas).toBe(planned);
    expect(hpa.spec.minReplicas).toBe(Math.max(planned, 2));
    expect(fs.readdirSync(outdir).sort()).toEqual([
      'prod-iris.gate.json',
      'prod-iris.gate.md',
      'prod-iris.gate.svg',
      'prod.k8s.yaml',
    ]);
    expect(JSON.parse(fs.readFileSync(path.join(outdir, 'prod-iris.gate.json'), 'utf8')).passed).toBe(true);
  });

  it('fails synth on unattainable thresholds with the path, metric, measured value and threshold', () => {
    const { synth: run } = synth({
      gate: { latencyP99Ms: 0.0001, minThroughputRps: 1e9, budgetSeconds: 3, maxBatchSize: 1 },
    });
    expect(run).toThrow(
      /\[prod\/iris\] gate failed: latency p99 [\d.]+ ms > latencyP99Ms 0\.0001 \(at the operating rate [\d.,]+ rps, >= [\d.]+ ms .*with 95% confidence from [\d,]+ samples; 1 CPU, onnxruntime 1\.30\.0/,
    );
    expect(run).toThrow(
      /throughput (not shown at p99 <= 0\.0001 ms|[\d.,]+ rps < minThroughputRps 1,?000,?000,?000)/,
    );
  });

  it('fails synth when the capacity plan exceeds maxReplicas', () => {
    const { synth: run } = synth({
      // The Iris gate's report, from the cache: the plan needs the rate its search found.
      gate: IRIS_GATE,
      slo: { targetRps: 1e9 },
      autoscaling: { maxReplicas: 3 },
    });
    expect(run).toThrow(
      /\[prod\/iris\] capacity plan failed: slo\.targetRps 1000000000 needs \d+ replicas .* above autoscaling\.maxReplicas 3/,
    );
  });

  it('skips the benchmark with MODELFAB_GATE=skip, loudly, and says so in the manifests', () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    process.env.MODELFAB_GATE = 'skip';
    try {
      const { objects, outdir, synth: run } = synth({ gate: { latencyP99Ms: 0.0001 } });
      run();
      const deployment = objects().find((o) => o.kind === 'Deployment');
      expect(deployment.metadata.annotations['modelfab.dev/gate']).toBe('skipped');
      expect(stderr.mock.calls.map(([text]) => String(text)).join('')).toMatch(
        /WARNING \[prod\/iris\] skipped \(MODELFAB_GATE=skip\)/,
      );
      expect(fs.readdirSync(outdir)).toEqual(['prod.k8s.yaml']);
    } finally {
      delete process.env.MODELFAB_GATE;
      stderr.mockRestore();
    }
  });

  it('rejects an unknown MODELFAB_GATE value instead of guessing', () => {
    process.env.MODELFAB_GATE = 'off';
    try {
      expect(() => synth({ gate: {} })).toThrow(
        /\[prod\/iris\] MODELFAB_GATE="off" is not understood; set MODELFAB_GATE=skip/,
      );
    } finally {
      delete process.env.MODELFAB_GATE;
    }
  });
});
