/**
 * Runs the gate for one service from the synth or Pulumi program: a cache hit costs no benchmark; a
 * miss starts the benchmark worker as a child process and waits for it, blocking (cdk8s synth is
 * synchronous) or not (Pulumi's async component initialisation). A service placed on a GPU pool is
 * measured on that GPU only (see gpu-gate.ts): its reports are cached under GPU keys, and it never
 * runs without the GPU to measure on.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  GATE_DEFAULTS,
  type GateSpec,
  type GpuExecutionProvider,
  type GpuName,
  ModelfabValidationError,
  type SloSpec,
} from '../core';
import { type ModelInfo } from '../model';
import { onnxruntimeVersion } from '../runtime';
import { buildGateReport } from './build-report';
import {
  defaultCacheDir,
  findGpuReport,
  gateCacheKey,
  gpuCacheKey,
  type GpuCacheKeyInput,
  gpuLookupKey,
  readCachedReport,
  readGpuReport,
  writeCachedReport,
  writeGpuReport,
} from './cache';
import { describeGpuMeasurement, type NamedGpu } from './gpu-gate';
import { type GateMeasurements, type GateReport } from './gate-report';
import { type GateWorkerRequest } from './measure-model';
import { type CpuEnforcement, detectEnforcement } from './resource-budget';

export interface GateRun {
  /** Construct path or resource name, for messages. */
  readonly constructPath: string;
  /** The served model's name (`/v2/models/<name>`). */
  readonly modelName: string;
  readonly model: ModelInfo;
  readonly gate: GateSpec;
  readonly slo?: SloSpec;
  /**
   * The planned utilization the operating rate is measured at, where there is no `slo` (the
   * command line's `--target-utilization`).
   * @default the SLO's targetUtilization, else 0.7
   */
  readonly targetUtilization?: number;
  /** The container's limits: the server runs inside them, with as many intra-op threads as the CPU limit. */
  readonly resources: { readonly cpuMillis: number; readonly memoryBytes: number };
  /**
   * The server the image runs: its bundle's entry (`build/server/main.js`) and the environment
   * the Deployment gives it (the gate sets the serving settings it searches, and loopback ports).
   */
  readonly server: { readonly entry: string; readonly env: Readonly<Record<string, string>> };
  /** @default defaultCacheDir() */
  readonly cacheDir?: string;
  /**
   * The GPU the service is placed on: its served path is measured on that GPU (here, with a
   * {@link GpuMeasurement}), or its report comes from the cache (measured elsewhere); never on the CPU.
   * @default - a CPU service
   */
  readonly gpu?: GpuName;
  /**
   * Measure even when the cache holds a report for this run; the result is cached all the same
   * (`modelfab bench --gpu --no-cache`).
   * @default false
   */
  readonly remeasure?: boolean;
}

/** A GPU service measured on this machine: the GPU (from nvidia-smi) and the provider to run on it. */
export interface GpuMeasurement {
  readonly device: NamedGpu;
  readonly provider: GpuExecutionProvider;
}

/**
 * `MODELFAB_GATE_CPU_ENFORCEMENT` (`auto`, `quota`, `affinity`, `none`): forces how the server is
 * held to the CPU limit, for machines where cgroups are writable but should not be used.
 */
export function cpuEnforcementPreference(env: NodeJS.ProcessEnv = process.env): 'auto' | CpuEnforcement {
  const value = (env.MODELFAB_GATE_CPU_ENFORCEMENT ?? '').trim() || 'auto';
  if (value === 'auto' || value === 'quota' || value === 'affinity' || value === 'none') return value;
  throw new ModelfabValidationError(
    'MODELFAB_GATE_CPU_ENFORCEMENT',
    'env',
    `MODELFAB_GATE_CPU_ENFORCEMENT must be auto, quota, affinity or none, received ${JSON.stringify(value)}`,
  );
}

/** The utilization the operating rate is planned at: the SLO's, else its default. */
function targetUtilizationOf(run: GateRun): number {
  return run.slo?.targetUtilization ?? run.targetUtilization ?? GATE_DEFAULTS.targetUtilization;
}

/** How to start the worker: the compiled file, or the TypeScript source through tsx when running from sources. */
export function gateWorkerCommand(): { readonly command: string; readonly args: readonly string[] } {
  const fromSources = __filename.endsWith('.ts');
  const worker = path.join(__dirname, fromSources ? 'worker.ts' : 'worker.js');
  const loader = fromSources ? ['--import', pathToFileURL(require.resolve('tsx')).href] : [];
  return { command: process.execPath, args: [...loader, worker] };
}

/** The cache key inputs of a GPU service's report (see cache.ts): no CPU model, no CPU enforcement. */
export function gpuKeyInput(run: GateRun, gpu: GpuName, provider: GpuExecutionProvider): GpuCacheKeyInput {
  return {
    sha256: run.model.sha256,
    gate: run.gate,
    resources: run.resources,
    onnxruntimeVersion: onnxruntimeVersion(),
    serverEnv: run.server.env,
    targetUtilization: targetUtilizationOf(run),
    gpu,
    provider,
  };
}

/** The utilization a run plans at (its SLO's, else the default), for the command that measures it elsewhere. */
export function runTargetUtilization(run: GateRun): number {
  return targetUtilizationOf(run);
}

/**
 * A report for this GPU service measured on its GPU with `provider`, by any GPU product and driver,
 * from the cache (the most recent one; see {@link findGpuReport}), judged against this run's gate;
 * undefined when there is none. Says on stderr which GPU and driver measured it, and when.
 */
export function cachedGpuReport(
  run: GateRun & { readonly gpu: GpuName },
  provider: GpuExecutionProvider,
): GateReport | undefined {
  const cacheDir = run.cacheDir ?? defaultCacheDir();
  const found = findGpuReport(cacheDir, gpuLookupKey(gpuKeyInput(run, run.gpu, provider)));
  const gpu = found?.report.measurements.environment.gpu;
  if (!found || !gpu) return undefined;
  process.stderr.write(
    `modelfab gate: [${run.constructPath}] ${run.gpu} report from the cache (${cacheDir}): measured on ${describeGpuMeasurement(gpu)} at ${gpu.measuredAt}; accuracy and parity on the CPU provider\n`,
  );
  return gateRunReport(run, found.report.measurements, true);
}

function cacheKeyOf(run: GateRun): string {
  return gateCacheKey({
    sha256: run.model.sha256,
    gate: run.gate,
    resources: run.resources,
    onnxruntimeVersion: onnxruntimeVersion(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    serverEnv: run.server.env,
    enforcement: detectEnforcement({ prefer: cpuEnforcementPreference() }),
    targetUtilization: targetUtilizationOf(run),
  });
}

/** The report of `run` for what it measured: its model, gate and SLO, judged by {@link buildGateReport}. */
export function gateRunReport(run: GateRun, measurements: GateMeasurements, cached: boolean): GateReport {
  return buildGateReport({
    model: {
      name: run.modelName,
      path: run.model.path,
      sha256: run.model.sha256,
      sizeBytes: run.model.sizeBytes,
    },
    gate: run.gate,
    ...(run.slo ? { slo: run.slo } : {}),
    measurements,
    cached,
  });
}

function gateError(run: GateRun, detail: string): ModelfabValidationError {
  return new ModelfabValidationError(run.constructPath, 'gate', `gate could not run: ${detail}`);
}

/** Where a run's report is cached: under its CPU key, or under its GPU keys. */
interface CacheSlot {
  readonly cacheDir: string;
  readonly read: () => GateReport | undefined;
  readonly write: (report: GateReport) => void;
}

/** The cache slot of a run: the CPU's, or, measuring on a GPU, that GPU product and driver's. */
function cacheSlot(run: GateRun, gpu: GpuMeasurement | undefined): CacheSlot {
  const cacheDir = run.cacheDir ?? defaultCacheDir();
  if (gpu === undefined) {
    const key = cacheKeyOf(run);
    return {
      cacheDir,
      read: () => readCachedReport(cacheDir, key),
      write: (result) => writeCachedReport(cacheDir, key, result),
    };
  }
  const input = gpuKeyInput(run, gpu.device.name, gpu.provider);
  const keys = { lookupKey: gpuLookupKey(input), key: gpuCacheKey(input, gpu.device) };
  return {
    cacheDir,
    read: () => readGpuReport(cacheDir, keys),
    write: (result) => writeGpuReport(cacheDir, keys, result),
  };
}

/**
 * Refuses a run that would measure a GPU service anywhere but on its GPU: CPU figures never pass a
 * GPU service's thresholds (gate-outcome.ts decides where it is measured; this keeps any other
 * caller from measuring it on the CPU).
 */
function checkPlacement(run: GateRun, gpu: GpuMeasurement | undefined): void {
  if (run.gpu === undefined && gpu === undefined) return;
  if (run.gpu !== undefined && gpu?.device.name === run.gpu) return;
  throw gateError(
    run,
    run.gpu === undefined
      ? `a service without a placement is measured on the CPU, not on ${gpu!.device.product}`
      : `a service placed on ${run.gpu} GPUs is measured on ${run.gpu} GPUs only, ${gpu ? `not on ${gpu.device.product}` : 'never on the CPU'}`,
  );
}

/** The cached report for this run, or undefined on a miss (then it says on stderr that it benchmarks). */
function lookUp(
  run: GateRun,
  gpu: GpuMeasurement | undefined,
): { readonly slot: CacheSlot; readonly hit?: GateReport } {
  checkPlacement(run, gpu);
  const slot = cacheSlot(run, gpu);
  const hit = run.remeasure ? undefined : slot.read();
  if (hit) {
    process.stderr.write(
      `modelfab gate: [${run.constructPath}] cached result for model ${run.model.sha256.slice(0, 12)}${gpu ? ` on ${gpu.device.product} (driver ${gpu.device.driverVersion})` : ''}\n`,
    );
    return { slot, hit: gateRunReport(run, hit.measurements, true) };
  }
  process.stderr.write(
    `modelfab gate: [${run.constructPath}] benchmarking ${run.model.path} (budget ${run.gate.budgetSeconds} s)${gpu ? ` on ${describeGpuMeasurement({ ...gpu.device, provider: gpu.provider })}` : ''}\n`,
  );
  return { slot };
}

function workerInput(run: GateRun, gpu: GpuMeasurement | undefined): string {
  const request: GateWorkerRequest = {
    modelPath: run.model.path,
    modelName: run.modelName,
    gate: run.gate,
    cpuMillis: run.resources.cpuMillis,
    memoryBytes: run.resources.memoryBytes,
    targetUtilization: targetUtilizationOf(run),
    server: run.server,
    cpuEnforcement: cpuEnforcementPreference(),
    ...(gpu ? { gpu: { device: gpu.device, provider: gpu.provider } } : {}),
  };
  return JSON.stringify(request);
}

/**
 * The worker's environment: this process's, and for a GPU run the GPU it measures on as the only
 * one CUDA sees (nvidia-smi's index, in the PCI bus order nvidia-smi lists), so that it is device 0
 * for the worker and the server it starts.
 */
export function workerEnvironment(
  gpu: GpuMeasurement | undefined,
  env: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  if (gpu === undefined) return env;
  return { ...env, CUDA_DEVICE_ORDER: 'PCI_BUS_ID', CUDA_VISIBLE_DEVICES: String(gpu.device.index) };
}

/** The worker keeps to its budget; this only stops a hung one. */
function workerTimeoutMs(run: GateRun): number {
  return (run.gate.budgetSeconds * 3 + 120) * 1000;
}

/** The report from the worker's last stdout line, cached; `exit` describes how the worker ended. */
function settle(run: GateRun, slot: CacheSlot, stdout: string, exit: string): GateReport {
  const lastLine = stdout.trim().split('\n').pop() ?? '';
  let answer: { ok: true; measurements: GateMeasurements } | { ok: false; error: string };
  try {
    answer = JSON.parse(lastLine) as typeof answer;
  } catch {
    throw gateError(
      run,
      `the benchmark worker exited with ${exit} without a result; its output: ${JSON.stringify(stdout.slice(-500))}`,
    );
  }
  if (!answer.ok) throw gateError(run, answer.error);
  const result = gateRunReport(run, answer.measurements, false);
  slot.write(result);
  return result;
}

/**
 * The gate's report for this run: from the cache when the same model, gate, resources, runtime and
 * CPU (or GPU and driver) were measured before; else the benchmark worker runs while this process
 * waits (cdk8s). A GPU service (`run.gpu`) needs `gpu`, this machine's GPU of that name.
 */
export function runGateSync(run: GateRun, gpu?: GpuMeasurement): GateReport {
  const lookup = lookUp(run, gpu);
  if (lookup.hit) return lookup.hit;
  const { command, args } = gateWorkerCommand();
  const child = spawnSync(command, args, {
    input: workerInput(run, gpu),
    env: workerEnvironment(gpu),
    stdio: ['pipe', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: workerTimeoutMs(run),
    maxBuffer: 64 * 1024 * 1024,
  });
  if (child.error)
    throw gateError(run, `the benchmark worker failed to start or timed out: ${child.error.message}`);
  return settle(run, lookup.slot, child.stdout, child.signal ?? `code ${child.status}`);
}

/** One benchmark at a time in this process: two gates measured at once would slow each other down. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * {@link runGateSync} without blocking the event loop (Pulumi): the worker runs as a child process
 * and the promise settles when it ends. Runs in this process are queued, one benchmark at a time.
 */
export function runGate(run: GateRun, gpu?: GpuMeasurement): Promise<GateReport> {
  const result = queue.then(() => runGateNow(run, gpu));
  queue = result.catch(() => undefined);
  return result;
}

function runGateNow(run: GateRun, gpu: GpuMeasurement | undefined): Promise<GateReport> {
  const lookup = lookUp(run, gpu);
  if (lookup.hit) return Promise.resolve(lookup.hit);
  const { command, args } = gateWorkerCommand();
  return new Promise<GateReport>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], env: workerEnvironment(gpu) });
    const chunks: Buffer[] = [];
    let failure: Error | undefined;
    const timer = setTimeout(() => {
      failure = new Error(`timed out after ${workerTimeoutMs(run) / 1000} s`);
      child.kill('SIGKILL');
    }, workerTimeoutMs(run));
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', (error) => {
      failure = error;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failure) {
        reject(gateError(run, `the benchmark worker failed to start or timed out: ${failure.message}`));
        return;
      }
      try {
        resolve(settle(run, lookup.slot, Buffer.concat(chunks).toString('utf8'), signal ?? `code ${code}`));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error))); // the gate's own errors, type and message kept
      }
    });
    child.stdin.on('error', () => undefined); // a worker that died early is reported on close
    child.stdin.end(workerInput(run, gpu));
  });
}
