/**
 * Runs the gate for one service from the synth process: a cache hit costs no benchmark; a miss
 * starts the benchmark worker as a child process and waits for it (cdk8s synth is synchronous).
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type GateSpec, ModelfabValidationError, type SloSpec } from '../core';
import { type ModelInfo } from '../model';
import { onnxruntimeVersion } from '../runtime';
import { buildGateReport } from './build-report';
import { defaultCacheDir, gateCacheKey, readCachedReport, writeCachedReport } from './cache';
import { type GateMeasurements, type GateReport } from './gate-report';
import { type GateWorkerRequest } from './measure-model';

export interface GateRun {
  /** Construct path or resource name, for messages. */
  readonly constructPath: string;
  /** The served model's name (`/v2/models/<name>`). */
  readonly modelName: string;
  readonly model: ModelInfo;
  readonly gate: GateSpec;
  readonly slo?: SloSpec;
  /** The container's limits: the benchmark uses as many intra-op threads as the CPU limit. */
  readonly resources: { readonly cpuMillis: number; readonly memoryBytes: number };
  /** @default defaultCacheDir() */
  readonly cacheDir?: string;
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

/** The gate's report for this run: from the cache when the same model, gate, resources, runtime and CPU were measured before. */
export function runGateSync(run: GateRun): GateReport {
  const cacheDir = run.cacheDir ?? defaultCacheDir();
  const key = cacheKeyOf(run);
  const hit = readCachedReport(cacheDir, key);
  if (hit) {
    process.stderr.write(
      `modelfab gate: [${run.constructPath}] cached result for model ${run.model.sha256.slice(0, 12)}\n`,
    );
    return report(run, hit.measurements, true);
  }
  process.stderr.write(
    `modelfab gate: [${run.constructPath}] benchmarking ${run.model.path} (budget ${run.gate.budgetSeconds} s)\n`,
  );
  const request: GateWorkerRequest = {
    modelPath: run.model.path,
    gate: run.gate,
    cpuMillis: run.resources.cpuMillis,
    memoryBytes: run.resources.memoryBytes,
  };
  const { command, args } = gateWorkerCommand();
  const child = spawnSync(command, args, {
    input: JSON.stringify(request),
    stdio: ['pipe', 'pipe', 'inherit'],
    encoding: 'utf8',
    // The worker keeps to its budget; this only stops a hung one.
    timeout: (run.gate.budgetSeconds * 3 + 120) * 1000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (child.error)
    throw gateError(run, `the benchmark worker failed to start or timed out: ${child.error.message}`);
  const lastLine = child.stdout.trim().split('\n').pop() ?? '';
  let answer: { ok: true; measurements: GateMeasurements } | { ok: false; error: string };
  try {
    answer = JSON.parse(lastLine) as typeof answer;
  } catch {
    throw gateError(
      run,
      `the benchmark worker exited with ${child.signal ?? `code ${child.status}`} without a result; its output: ${JSON.stringify(child.stdout.slice(-500))}`,
    );
  }
  if (!answer.ok) throw gateError(run, answer.error);
  const result = report(run, answer.measurements, false);
  writeCachedReport(cacheDir, key, result);
  return result;
}
