/**
 * One whole gate measurement, run inside the benchmark worker process: cold start, warm-up,
 * latency, correctness, then the throughput search, within the gate's budget.
 */
import * as os from 'node:os';
import { type GateSpec } from '../core';
import { inspectModel, type ModelInfo } from '../model';
import { Executor, intraOpThreadsFor, onnxruntimeVersion } from '../runtime';
import { benchmarkInputs } from './gate-inputs';
import { type GateMeasurements } from './gate-report';
import { closedLoop, nowMs } from './load-generator';
import { measureAccuracy, measureParity } from './measure-correctness';
import { processPeakResidentBytes } from './bench-environment';
import {
  type ExecutorSettings,
  measureLatency,
  measureThroughput,
  type Progress,
} from './measure-performance';

/** What the synth process asks the worker to measure. */
export interface GateWorkerRequest {
  readonly modelPath: string;
  readonly gate: GateSpec;
  readonly cpuMillis: number;
  readonly memoryBytes: number;
}

/** Shares of the budget: the latency phase; the throughput search gets what is left. */
const LATENCY_SHARE = 0.35;

/**
 * Warm-up before any sample counts: JIT, allocator and caches settle over the first ~0.5 s
 * (seen as a p50 drifting down 30% in the first windows). 10% of the budget, at least 0.5 s,
 * at most 3 s, and never more than a quarter of the budget.
 */
export function warmUpMs(budgetMs: number): number {
  return Math.min(budgetMs / 4, Math.min(3000, Math.max(500, budgetMs / 10)));
}

/**
 * A model that fails on the gate's generated inputs often needs particular values (a sample rate,
 * a state, a shape tensor): the error, with how to give them. Unchanged with `inputDataset`.
 */
export function generatedInputsHint(error: unknown, model: ModelInfo, gate: GateSpec): Error {
  const message = (error instanceof Error ? error.message : String(error)).trimEnd();
  if (gate.inputDataset !== undefined) return error instanceof Error ? error : new Error(message);
  const pinned = Object.keys(gate.inputValues ?? {});
  const free = model.inputs.filter((i) => !pinned.includes(i.name));
  // Integer and bool inputs are the usual suspects: sample rates, indices, shapes, flags.
  const suspect = free.find((i) => i.isTensor && !i.elementType.startsWith('float')) ?? free[0];
  const example = suspect
    ? `{ ${/^[A-Za-z_$][\w$]*$/.test(suspect.name) ? suspect.name : JSON.stringify(suspect.name)}: <value> }`
    : '{ <input>: <value> }';
  return new Error(
    `${message}; the gate fed generated inputs (seeded random values${pinned.length > 0 ? `, and gate.inputValues for ${pinned.join(', ')}` : ''}): if the model needs particular values, fix them with gate.inputValues (e.g. ${example}) or benchmark real requests with gate.inputDataset`,
    { cause: error },
  );
}

export async function measureModel(
  request: GateWorkerRequest,
  progress: Progress,
): Promise<GateMeasurements> {
  const started = nowMs();
  const { gate } = request;
  const budgetMs = gate.budgetSeconds * 1000;
  const model = inspectModel(request.modelPath);
  const intraOpThreads = intraOpThreadsFor(request.cpuMillis);
  const nextInput = benchmarkInputs(model, gate);
  const base = {
    modelPath: request.modelPath,
    model,
    intraOpThreads,
    cpus: request.cpuMillis / 1000,
    memoryBytes: request.memoryBytes,
  };

  progress(
    `cold start: creating the session (${intraOpThreads} intra-op thread${intraOpThreads === 1 ? '' : 's'})`,
  );
  // As the server runs it: a model faster than a worker hand-off runs small requests inline. The
  // choice is made here, once, and every batch setting of the throughput search keeps it.
  const executor = await Executor.create({ ...base, workers: 1, inline: 'auto' });
  const settings: ExecutorSettings = {
    ...base,
    inline: executor.execution.mode === 'inline' ? 'always' : 'never',
  };
  const { firstInferenceMs, latency, accuracy, parity } = await (async () => {
    const firstStart = nowMs();
    await executor.infer(nextInput()).catch((error: unknown) => {
      throw generatedInputsHint(error, model, gate);
    });
    const first = nowMs() - firstStart;
    progress(
      `cold start: session ${executor.loadMs.toFixed(1)} ms, first inference ${first.toFixed(2)} ms; warming up`,
    );
    await closedLoop(executor, nextInput, warmUpMs(budgetMs), 20);
    const measured = await measureLatency(
      executor,
      nextInput,
      budgetMs * LATENCY_SHARE,
      gate.latencyBoundMs,
      progress,
    );
    if (gate.accuracy) progress(`accuracy: ${gate.accuracy.dataset}`);
    const accuracyResult = gate.accuracy ? await measureAccuracy(executor, model, gate.accuracy) : undefined;
    if (gate.parity) progress(`parity: ${gate.parity.dataset}`);
    const parityResult = gate.parity ? await measureParity(executor, model, gate.parity) : undefined;
    return { firstInferenceMs: first, latency: measured, accuracy: accuracyResult, parity: parityResult };
  })().finally(() => executor.close());
  const { throughput, chosen } = await measureThroughput(
    settings,
    gate,
    nextInput,
    Math.max(1000, started + budgetMs - nowMs()),
    progress,
  );
  return {
    environment: {
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      cores: os.cpus().length,
      onnxruntimeVersion: onnxruntimeVersion(),
      nodeVersion: process.version,
      platform: `${process.platform}-${process.arch}`,
      intraOpThreads,
      cpuLimitMillis: request.cpuMillis,
      memoryLimitBytes: request.memoryBytes,
    },
    coldStart: {
      sessionCreateMs: executor.loadMs,
      firstInferenceMs,
      totalMs: executor.loadMs + firstInferenceMs,
    },
    latency,
    throughput,
    peakRssBytes: processPeakResidentBytes(),
    modelSizeBytes: model.sizeBytes,
    ...(accuracy ? { accuracy } : {}),
    ...(parity ? { parity } : {}),
    servingConfig: {
      maxBatchSize: chosen.maxBatchSize,
      maxQueueDelayMs: chosen.maxQueueDelayMs,
      intraOpThreads,
      workers: 1,
    },
    durationMs: nowMs() - started,
  };
}
