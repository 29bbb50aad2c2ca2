/**
 * The gate of a service placed on a GPU pool: a report measured on the pool's GPU, found in the
 * cache on a machine without that GPU and used; a measurement on this machine's GPU with the CUDA
 * provider when it has one and the provider's libraries; otherwise a refusal naming the GPU, what
 * this machine has, the `modelfab bench --gpu` command and MODELFAB_GATE=skip. Never CPU numbers.
 * nvidia-smi and onnxruntime-node's GPU libraries are given by a fake host; this machine has
 * neither, so the one run that reaches the benchmark worker shows the CUDA provider failing to load.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import * as cdk8s from '../lib/cdk8s';
import {
  defaultModelName,
  gatePropsOf,
  type GateProps,
  type GateSpec,
  ModelfabValidationError,
  PropsChecker,
  resolveGate,
} from '../lib/core';
import {
  benchGpuRefusal,
  gateRunReport,
  type DetectedGpu,
  findGpuReport,
  type GateGpu,
  type GateReport,
  type GateRun,
  gateOutcomeSync,
  gpuBenchCommand,
  gpuCacheKey,
  gpuGateRefusal,
  gpuKeyInput,
  gpuLookupKey,
  type GpuHost,
  gpuPlan,
  parseNvidiaSmi,
  renderGateMarkdown,
  runGateSync,
  workerEnvironment,
  writeGpuReport,
} from '../lib/gate';
import { probeGpuProvider } from '../lib/gate/gpu-probe';
import { servedServerEnv } from '../lib/gate/served-environment';
import { inspectModel } from '../lib/model';
import { gpuProviderAvailability, type GpuProviderAvailability } from '../lib/runtime';
import { serverEntryFile } from '../lib/server/bundle-server';
import { GPU_POOL, GPU_SERVICE } from './support/gpu-fixtures';
import * as fx from './support/gate-fixtures';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-gpu-gate-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const IRIS = path.join(fx.IRIS_DIR, 'iris.onnx');
const EVAL = path.join(fx.IRIS_DIR, 'eval.jsonl');
const MIB = 2 ** 20;
const A10G_SMI = 'NVIDIA A10G, 550.127.05, 23028\n';
const MISSING: GpuProviderAvailability = {
  available: false,
  problem: "onnxruntime's CUDA provider cannot load: onnxruntime-node's GPU libraries are not installed (…)",
};
const cudaInstalled = gpuProviderAvailability('cuda').available;

/** A host with nvidia-smi's `csv` and the provider's `availability`, counting what it was asked. */
function fakeHost(csv: string, availability: GpuProviderAvailability = { available: true }) {
  const asked = { gpus: 0, provider: 0 };
  const host: GpuHost = {
    detectGpus: () => {
      asked.gpus++;
      return parseNvidiaSmi(csv);
    },
    providerAvailability: () => {
      asked.provider++;
      return availability;
    },
  };
  return { host, asked };
}

/** The run the pipeline makes for GPU_SERVICE placed on an a10g pool (2 CPU, 4 GiB, a Triton image). */
function gpuRun(props: GateProps, cacheDir: string): GateRun & { gpu: 'a10g' } {
  return {
    constructPath: 'prod/detector',
    modelName: defaultModelName(IRIS),
    model: inspectModel(IRIS),
    gate: resolveGate(new PropsChecker('prod/detector'), props, process.cwd()),
    resources: { cpuMillis: 2000, memoryBytes: 4096 * MIB },
    server: { entry: serverEntryFile(), env: {} },
    cacheDir,
    gpu: 'a10g',
  };
}

const MEASURED_ON: GateGpu = {
  name: 'a10g',
  product: 'NVIDIA A10G',
  driverVersion: '550.127.05',
  memoryMiB: 23028,
  provider: 'cuda',
  measuredAt: '2026-11-20T09:30:00.000Z',
};

/**
 * Stores, as `modelfab bench --gpu a10g` on a GPU runner would, a report of `run` measured on an
 * A10G (p99 19.4 ms at the operating rate).
 */
function commitGpuReport(run: GateRun & { gpu: 'a10g' }, gpu: GateGpu = MEASURED_ON): GateReport {
  const measurements = fx.gateMeasurements({
    environment: { gpu, cpuLimitMillis: 2000, memoryLimitBytes: 4096 * MIB },
  });
  const report = gateRunReport(run, measurements, false);
  const input = gpuKeyInput(run, 'a10g', 'cuda');
  writeGpuReport(run.cacheDir!, { lookupKey: gpuLookupKey(input), key: gpuCacheKey(input, gpu) }, report);
  return report;
}

/** What was written to stderr while `fn` ran. */
function stderrOf<T>(fn: () => T): { result: T; stderr: string } {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    return { result: fn(), stderr: lines.join('') };
  } finally {
    spy.mockRestore();
  }
}

const fresh = () => fs.mkdtempSync(path.join(scratch, 'cache-'));

describe('gatePropsOf', () => {
  it('gives props that resolve to the same gate, datasets relative, defaults left out', () => {
    const check = new PropsChecker('t');
    const full = resolveGate(
      check,
      {
        latencyP99Ms: 20,
        latencyP50Ms: 5,
        minThroughputRps: 300,
        accuracy: { dataset: EVAL, metric: 'topk', k: 2, min: 0.9 },
        parity: { dataset: path.join(fx.IRIS_DIR, 'expected.jsonl'), atol: 1e-5 },
        maxColdStartMs: 2000,
        inputShapes: { x: [1, 4] },
        requestEncoding: 'binary',
        budgetSeconds: 10,
        seed: 7,
      },
      scratch,
    );
    const props = gatePropsOf(full, process.cwd());
    expect(props.accuracy?.dataset).toBe('examples/iris/model/eval.jsonl');
    expect(props).not.toHaveProperty('maxBatchSize');
    expect(resolveGate(check, props, process.cwd())).toEqual(full);
    const empty: GateSpec = resolveGate(check, {}, process.cwd());
    expect(gatePropsOf(empty, process.cwd())).toEqual({});
  });
});

describe('gpuBenchCommand', () => {
  it('is the bench command that measures the same gate, resources and server environment', () => {
    const run = gpuRun({ latencyP99Ms: 20, accuracy: { dataset: EVAL, min: 0.9 } }, '/unused');
    expect(
      gpuBenchCommand({
        modelPath: run.model.path,
        gpu: 'a10g',
        gate: run.gate,
        resources: run.resources,
        serverEnv: { TZ: 'UTC', MODELFAB_DRAIN_SECONDS: '20' },
        targetUtilization: 0.6,
        cacheDir: path.join(process.cwd(), '.modelfab-cache'),
      }),
    ).toBe(
      `npx modelfab bench examples/iris/model/iris.onnx --gpu a10g --cpu 2 --memory 4Gi --gate '{"latencyP99Ms":20,"accuracy":{"dataset":"examples/iris/model/eval.jsonl","metric":"top1","min":0.9}}' --env MODELFAB_DRAIN_SECONDS=20 --env TZ=UTC --target-utilization 0.6 --cache-dir .modelfab-cache`,
    );
  });
});

describe('gpuGateRefusal', () => {
  const base = {
    gpu: 'a10g' as const,
    command: 'npx modelfab bench m.onnx --gpu a10g',
    cacheDir: '/repo/.modelfab-cache',
  };
  const ways =
    "on a machine with a10g GPUs and onnxruntime-node's GPU libraries, run from this directory: npx modelfab bench m.onnx --gpu a10g; then bring its cache here (commit /repo/.modelfab-cache/gpu/, or restore it in CI into /repo/.modelfab-cache; MODELFAB_CACHE_DIR sets where the gate cache is); or set MODELFAB_GATE=skip to skip the gate (the Deployment is annotated as skipped)";

  it('on a machine without a GPU names the GPU, what is here, the command and MODELFAB_GATE=skip', () => {
    expect(gpuGateRefusal({ ...base, detected: [] })).toBe(
      `gate cannot measure a service placed on a10g GPUs here: CPU figures never pass a GPU service's thresholds, the gate cache /repo/.modelfab-cache holds no report measured on a10g GPUs for this model, gate and resources, and this machine has no NVIDIA GPU (nvidia-smi found none, or is not installed); ${ways}`,
    );
  });

  it('on a machine with another GPU says which', () => {
    expect(gpuGateRefusal({ ...base, detected: parseNvidiaSmi('NVIDIA L4, 550.127.05, 23034\n') })).toBe(
      `gate cannot measure a service placed on a10g GPUs here: CPU figures never pass a GPU service's thresholds, the gate cache /repo/.modelfab-cache holds no report measured on a10g GPUs for this model, gate and resources, and this machine has only NVIDIA L4; ${ways}`,
    );
  });

  it('on a machine with the GPU but not the provider libraries says so and how to install them', () => {
    expect(gpuGateRefusal({ ...base, detected: parseNvidiaSmi(A10G_SMI), provider: MISSING })).toBe(
      `gate cannot measure a service placed on a10g GPUs here: this machine has NVIDIA A10G (driver 550.127.05), but ${MISSING.available ? '' : MISSING.problem}; CPU figures never pass a GPU service's thresholds, so the gate does not fall back to the CPU; install the libraries and synth again, or ${ways}`,
    );
  });

  it('lets a machine with the GPU and the provider measure', () => {
    expect(
      gpuGateRefusal({ ...base, detected: parseNvidiaSmi(A10G_SMI), provider: { available: true } }),
    ).toBeUndefined();
  });
});

describe('benchGpuRefusal', () => {
  it('refuses a machine without the GPU, or without the provider libraries', () => {
    expect(benchGpuRefusal('a10g', [], undefined)).toBe(
      '--gpu a10g: this machine has no NVIDIA GPU (nvidia-smi found none, or is not installed); run this command on a machine with a10g GPUs, or leave out --gpu to measure on the CPU',
    );
    expect(benchGpuRefusal('h100', parseNvidiaSmi(A10G_SMI), undefined)).toBe(
      '--gpu h100: this machine has only NVIDIA A10G; run this command on a machine with h100 GPUs, or leave out --gpu to measure on the CPU',
    );
    expect(benchGpuRefusal('a10g', parseNvidiaSmi(A10G_SMI), MISSING)).toBe(
      `--gpu a10g: this machine has NVIDIA A10G (driver 550.127.05), but ${MISSING.available ? '' : MISSING.problem}; the benchmark does not fall back to the CPU`,
    );
    expect(benchGpuRefusal('a10g', parseNvidiaSmi(A10G_SMI), { available: true })).toBeUndefined();
  });
});

describe('the gate of a GPU service', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('uses a report measured on its GPU from the cache, on a machine without a GPU, and says which', () => {
    const run = gpuRun({ latencyP99Ms: 25 }, fresh());
    commitGpuReport(run);
    const { host, asked } = fakeHost('');
    const { result, stderr } = stderrOf(() => gateOutcomeSync(run, {}, host));
    expect(result.status).toBe('passed');
    expect(result.status !== 'skipped' && result.report.cached).toBe(true);
    expect(result.status !== 'skipped' && result.report.measurements.environment.gpu).toEqual(MEASURED_ON);
    expect(stderr).toBe(
      `modelfab gate: [prod/detector] a10g report from the cache (${run.cacheDir}): measured on NVIDIA A10G (driver 550.127.05) with onnxruntime's CUDA provider at 2026-11-20T09:30:00.000Z; accuracy and parity on the CPU provider\n`,
    );
    // Nothing about this machine was asked: the report decides.
    expect(asked).toEqual({ gpus: 0, provider: 0 });
  });

  it('fails from the cached report when it misses a threshold, naming the GPU that measured it', () => {
    const run = gpuRun({ latencyP99Ms: 10 }, fresh());
    commitGpuReport(run);
    const { result } = stderrOf(() => gateOutcomeSync(run, {}, fakeHost('').host));
    expect(result.status).toBe('failed');
    const message = result.status === 'failed' ? result.report.verdicts.find((v) => !v.pass)!.message : '';
    expect(message).toMatch(
      /^latency p99 19\.4 ms > latencyP99Ms 10 .*2 CPU, onnxruntime 1\.30\.0, NVIDIA A10G \(driver 550\.127\.05, CUDA\)/,
    );
  });

  it('takes the report of any driver, the latest measured, and none of another gate', () => {
    const run = gpuRun({ latencyP99Ms: 25 }, fresh());
    commitGpuReport(run);
    commitGpuReport(run, {
      ...MEASURED_ON,
      driverVersion: '560.35.03',
      measuredAt: '2026-11-21T08:00:00.000Z',
    });
    const { result } = stderrOf(() => gateOutcomeSync(run, {}, fakeHost('').host));
    expect(result.status !== 'skipped' && result.report.measurements.environment.gpu?.driverVersion).toBe(
      '560.35.03',
    );
    const other = { ...run, gate: resolveGate(new PropsChecker('x'), { latencyP99Ms: 21 }, process.cwd()) };
    expect(() => stderrOf(() => gateOutcomeSync(other, {}, fakeHost('').host))).toThrow(
      ModelfabValidationError,
    );
  });

  it('refuses on a machine without the GPU, with the command that makes the report it looks for', () => {
    const run = gpuRun({ latencyP99Ms: 25 }, fresh());
    const { host, asked } = fakeHost('');
    let message = '';
    try {
      gateOutcomeSync(run, {}, host);
    } catch (error) {
      expect(error).toBeInstanceOf(ModelfabValidationError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/^\[prod\/detector\] gate cannot measure a service placed on a10g GPUs here: /);
    expect(message).toContain('this machine has no NVIDIA GPU');
    expect(message).toContain(
      // The cache is outside this directory (a temporary one): named as it is.
      `run from this directory: npx modelfab bench examples/iris/model/iris.onnx --gpu a10g --cpu 2 --memory 4Gi --gate '{"latencyP99Ms":25}' --cache-dir ${run.cacheDir}; then bring its cache here (commit ${run.cacheDir}/gpu/`,
    );
    expect(message).toContain('or set MODELFAB_GATE=skip to skip the gate');
    expect(asked).toEqual({ gpus: 1, provider: 0 });
    // The report that command stores is the one this gate then finds.
    commitGpuReport(run);
    expect(stderrOf(() => gateOutcomeSync(run, {}, host)).result.status).toBe('passed');
  });

  it('refuses on a machine with the GPU whose CUDA provider cannot load', () => {
    const { host, asked } = fakeHost(A10G_SMI, MISSING);
    expect(() => gateOutcomeSync(gpuRun({ latencyP99Ms: 20 }, fresh()), {}, host)).toThrow(
      /^\[prod\/detector\] gate cannot measure a service placed on a10g GPUs here: this machine has NVIDIA A10G \(driver 550\.127\.05\), but onnxruntime's CUDA provider cannot load: .*MODELFAB_GATE=skip/,
    );
    expect(asked).toEqual({ gpus: 1, provider: 1 });
  });

  it("measures on this machine's GPU of that name with the CUDA provider, selected by its index", () => {
    const smi = 'NVIDIA L4, 550.127.05, 23034\nNVIDIA A10G, 550.127.05, 23028\n';
    const plan = gpuPlan(gpuRun({}, fresh()), fakeHost(smi).host);
    const device: DetectedGpu = {
      index: 1,
      product: 'NVIDIA A10G',
      name: 'a10g',
      driverVersion: '550.127.05',
      memoryMiB: 23028,
    };
    expect(plan).toEqual({ measure: { device, provider: 'cuda' } });
    const measure = 'measure' in plan ? plan.measure : undefined;
    expect(workerEnvironment(measure, { PATH: '/bin' })).toEqual({
      PATH: '/bin',
      CUDA_DEVICE_ORDER: 'PCI_BUS_ID',
      CUDA_VISIBLE_DEVICES: '1',
    });
    expect(workerEnvironment(undefined, { PATH: '/bin' })).toEqual({ PATH: '/bin' });
    // The server the worker starts runs the model with that provider.
    const setting = { maxBatchSize: 4, maxQueueDelayMs: 1 };
    const env = { env: { TZ: 'UTC' }, modelPath: IRIS, modelName: 'iris', intraOpThreads: 2 };
    expect(servedServerEnv({ ...env, executionProvider: 'cuda' }, setting)).toMatchObject({
      TZ: 'UTC',
      MODELFAB_EXECUTION_PROVIDER: 'cuda',
      MODELFAB_INTRA_OP_THREADS: '2',
      MODELFAB_MAX_BATCH_SIZE: '4',
    });
    expect(servedServerEnv(env, setting).MODELFAB_EXECUTION_PROVIDER).toBe('cpu');
  });

  it('skips with MODELFAB_GATE=skip without asking about GPUs', () => {
    const { host, asked } = fakeHost('');
    const { result } = stderrOf(() => gateOutcomeSync(gpuRun({}, fresh()), { MODELFAB_GATE: 'skip' }, host));
    expect(result.status).toBe('skipped');
    expect(asked).toEqual({ gpus: 0, provider: 0 });
  });

  it('is never measured on the CPU, nor a CPU service on a GPU', () => {
    expect(() => runGateSync(gpuRun({}, fresh()))).toThrow(
      '[prod/detector] gate could not run: a service placed on a10g GPUs is measured on a10g GPUs only, never on the CPU',
    );
    const device = parseNvidiaSmi(A10G_SMI)[0] as DetectedGpu & { name: 'a10g' };
    const { gpu: _gpu, ...cpuRun } = gpuRun({}, fresh());
    expect(() => runGateSync(cpuRun, { device, provider: 'cuda' })).toThrow(
      '[prod/detector] gate could not run: a service without a placement is measured on the CPU, not on NVIDIA A10G',
    );
  });

  it.skipIf(cudaInstalled)(
    'on a machine with the GPU, runs the benchmark worker on CUDA, which fails here where its libraries are not installed, and caches nothing',
    () => {
      const run = gpuRun({ budgetSeconds: 3 }, fresh());
      const { result: attempt } = stderrOf(() => {
        try {
          gateOutcomeSync(run, {}, fakeHost(A10G_SMI).host);
          return 'measured';
        } catch (error) {
          return (error as Error).message;
        }
      });
      expect(attempt).toMatch(
        /^\[prod\/detector\] gate could not run: onnxruntime's CUDA provider could not create a session on NVIDIA A10G \(driver 550\.127\.05\): .*Failed to load shared library; CPU figures never pass a GPU service's thresholds, so nothing was measured; install onnxruntime-node's GPU libraries with: ONNXRUNTIME_NODE_INSTALL=cuda12 node /,
      );
      expect(findGpuReport(run.cacheDir!, gpuLookupKey(gpuKeyInput(run, 'a10g', 'cuda')))).toBeUndefined();
    },
  );
});

describe('probeGpuProvider', () => {
  it('creates a session with the GPU provider and releases it', async () => {
    const created: unknown[] = [];
    let released = 0;
    await probeGpuProvider(
      IRIS,
      2,
      'tensorrt',
      { product: 'NVIDIA A10G', driverVersion: '550.127.05' },
      (file, options) => {
        created.push([file, options.executionProviders, options.intraOpNumThreads]);
        return Promise.resolve({
          release: () => {
            released++;
            return Promise.resolve();
          },
        });
      },
    );
    expect(created).toEqual([
      [
        IRIS,
        [
          { name: 'tensorrt', deviceId: 0 },
          { name: 'cuda', deviceId: 0 },
        ],
        2,
      ],
    ]);
    expect(released).toBe(1);
  });

  it("rethrows onnxruntime's refusal naming the provider, the GPU and the install command", async () => {
    await expect(
      probeGpuProvider(IRIS, 1, 'cuda', { product: 'NVIDIA A10G', driverVersion: '550.127.05' }, () =>
        Promise.reject(
          new Error('CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version'),
        ),
      ),
    ).rejects.toThrow(
      /^onnxruntime's CUDA provider could not create a session on NVIDIA A10G \(driver 550\.127\.05\): CUDA failure 35: .*; install onnxruntime-node's GPU libraries with: ONNXRUNTIME_NODE_INSTALL=cuda12 node .*install\.js/,
    );
  });
});

describe('a GPU report in the reports', () => {
  it('says which GPU, driver and provider measured the served path, and that correctness ran on the CPU', () => {
    const run = gpuRun({ latencyP99Ms: 20 }, fresh());
    const markdown = renderGateMarkdown(commitGpuReport(run));
    expect(markdown).toContain('| GPU | NVIDIA A10G (a10g, driver 550.127.05, 23,028 MiB) |');
    expect(markdown).toContain(
      "| execution provider | CUDA for the served path (latency, throughput, memory, the server's cold start); CPU for accuracy, parity, the model alone and the in-process cold start |",
    );
    expect(markdown).toContain('| measured at | 2026-11-20T09:30:00.000Z |');
  });
});

describe('InferenceService on a GPU pool (cdk8s)', () => {
  const saved = process.env.MODELFAB_CACHE_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.MODELFAB_CACHE_DIR;
    else process.env.MODELFAB_CACHE_DIR = saved;
  });

  it('synthesizes from a report measured on its GPU and committed to the cache, with its reports', () => {
    const cacheDir = fresh();
    commitGpuReport(gpuRun({ latencyP99Ms: 25 }, cacheDir));
    process.env.MODELFAB_CACHE_DIR = cacheDir;
    const outdir = fs.mkdtempSync(path.join(scratch, 'out-'));
    const app = new App({ outdir });
    const chart = new Chart(app, 'prod', { namespace: 'ml' });
    const pool = new cdk8s.AutoscaledGpuPool(chart, 'gpu', GPU_POOL);
    const { stderr } = stderrOf(
      () =>
        new cdk8s.InferenceService(chart, 'detector', {
          ...GPU_SERVICE,
          placement: pool.placement(),
          gate: { latencyP99Ms: 25 },
        }),
    );
    app.synth();
    expect(stderr).toContain('[prod/detector] a10g report from the cache');
    const deployment = (chart.toJson() as Array<{ kind: string; spec: any }>).find(
      (o) => o.kind === 'Deployment',
    )!;
    expect((deployment as any).metadata.annotations['modelfab.dev/gate']).toBe('passed');
    const json = JSON.parse(
      fs.readFileSync(path.join(outdir, 'prod-detector.gate.json'), 'utf8'),
    ) as GateReport;
    expect(json.measurements.environment.gpu?.product).toBe('NVIDIA A10G');
  });
});
