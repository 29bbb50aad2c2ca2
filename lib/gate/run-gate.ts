/**
 * Runs the gate for one service from the synth or Pulumi program: a cache hit costs no benchmark; a
 * miss starts the benchmark worker as a child process and waits for it, blocking (cdk8s synth is
 * synchronous) or not (Pulumi's async component initialisation).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { GATE_DEFAULTS, type GateSpec, ModelfabValidationError, type SloSpec } from '../core';
import { type ModelInfo } from '../model';
import type { GpuName } from '../core/gpu';
import { onnxruntimeVersion } from '../runtime';
import { buildGateReport } from './build-report';
import { defaultCacheDir, gateCacheKey, readCachedReport, writeCachedReport } from './cache';
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
  /** The container's limits: the server runs inside them, with as many intra-op threads as the CPU limit. */
  readonly resources: { readonly cpuMillis: number; readonly memoryBytes: number };
  /**
   * The server the image runs: its bundle's entry (`build/server/main.js`) and the environment
   * the Deployment gives it (the gate sets the serving settings it searches, and loopback ports).
   */
  readonly server: { readonly entry: string; readonly env: Readonly<Record<string, string>> };
  /** @default defaultCacheDir() */
  readonly cacheDir?: string;
  /** The GPU the service is placed on: the gate refuses (it measures on the CPU only). @default - a CPU service */
  readonly gpu?: GpuName;
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
  return run.slo?.targetUtilization ?? GATE_DEFAULTS.targetUtilization;
}

/** How to start the worker: the compiled file, or the TypeScript source through tsx when running from sources. */
export function gateWorkerCommand(): { readonly command: string; readonly args: readonly string[] } {
  const fromSources = __filename.endsWith('.ts');
  const worker = path.join(__dirname, fromSources ? 'worker.ts' : 'worker.js');
  const loader = fromSources ? ['--import', pathToFileURL(require.resolve('tsx')).href] : [];
  return { command: process.execPath, args: [...loader, worker] };
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

function report(run: GateRun, measurements: GateMeasurements, cached: boolean): GateReport {
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

/** The cached report for this run, or undefined on a miss (then it says on stderr that it benchmarks). */
function lookUp(run: GateRun): {
  readonly cacheDir: string;
  readonly key: string;
  readonly hit?: GateReport;
} {
  const cacheDir = run.cacheDir ?? defaultCacheDir();
  const key = cacheKeyOf(run);
  const hit = readCachedReport(cacheDir, key);
  if (hit) {
    process.stderr.write(
      `modelfab gate: [${run.constructPath}] cached result for model ${run.model.sha256.slice(0, 12)}\n`,
    );
    return { cacheDir, key, hit: report(run, hit.measurements, true) };
  }
  process.stderr.write(
    `modelfab gate: [${run.constructPath}] benchmarking ${run.model.path} (budget ${run.gate.budgetSeconds} s)\n`,
  );
  return { cacheDir, key };
}

function workerInput(run: GateRun): string {
  const request: GateWorkerRequest = {
    modelPath: run.model.path,
    modelName: run.modelName,
    gate: run.gate,
    cpuMillis: run.resources.cpuMillis,
    memoryBytes: run.resources.memoryBytes,
    targetUtilization: targetUtilizationOf(run),
    server: run.server,
    cpuEnforcement: cpuEnforcementPreference(),
  };
  return JSON.stringify(request);
}

/** The worker keeps to its budget; this only stops a hung one. */
function workerTimeoutMs(run: GateRun): number {
  return (run.gate.budgetSeconds * 3 + 120) * 1000;
}

/** The report from the worker's last stdout line, cached; `exit` describes how the worker ended. */
function settle(
  run: GateRun,
  lookup: { readonly cacheDir: string; readonly key: string },
  stdout: string,
  exit: string,
): GateReport {
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
  const result = report(run, answer.measurements, false);
  writeCachedReport(lookup.cacheDir, lookup.key, result);
  return result;
}

/**
 * The gate's report for this run: from the cache when the same model, gate, resources, runtime and
 * CPU were measured before; else the benchmark worker runs while this process waits (cdk8s).
 */
export function runGateSync(run: GateRun): GateReport {
  const lookup = lookUp(run);
  if (lookup.hit) return lookup.hit;
  const { command, args } = gateWorkerCommand();
  const child = spawnSync(command, args, {
    input: workerInput(run),
    stdio: ['pipe', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: workerTimeoutMs(run),
    maxBuffer: 64 * 1024 * 1024,
  });
  if (child.error)
    throw gateError(run, `the benchmark worker failed to start or timed out: ${child.error.message}`);
  return settle(run, lookup, child.stdout, child.signal ?? `code ${child.status}`);
}

/** One benchmark at a time in this process: two gates measured at once would slow each other down. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * {@link runGateSync} without blocking the event loop (Pulumi): the worker runs as a child process
 * and the promise settles when it ends. Runs in this process are queued, one benchmark at a time.
 */
export function runGate(run: GateRun): Promise<GateReport> {
  const result = queue.then(() => runGateNow(run));
  queue = result.catch(() => undefined);
  return result;
}

function runGateNow(run: GateRun): Promise<GateReport> {
  const lookup = lookUp(run);
  if (lookup.hit) return Promise.resolve(lookup.hit);
  const { command, args } = gateWorkerCommand();
  return new Promise<GateReport>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
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
        resolve(settle(run, lookup, Buffer.concat(chunks).toString('utf8'), signal ?? `code ${code}`));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error))); // the gate's own errors, type and message kept
      }
    });
    child.stdin.on('error', () => undefined); // a worker that died early is reported on close
    child.stdin.end(workerInput(run));
  });
}
