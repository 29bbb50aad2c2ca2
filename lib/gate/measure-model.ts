/**
 * One whole gate measurement, run inside the benchmark worker process, within the gate's budget:
 * in process, the session's cold start, the model alone (a diagnostic) and correctness; then the
 * load generator's ceiling; then, on the served path inside the pod's limits, the search over
 * serving settings and the latency of a lone request and at the planned operating rate.
 */
import * as os from 'node:os';
import { type GateSpec, type GpuExecutionProvider } from '../core';
import { inspectModel, type ModelInfo } from '../model';
import { Executor, intraOpThreadsFor, onnxruntimeVersion } from '../runtime';
import { benchmarkInputs } from './gate-inputs';
import { type GateMeasurements } from './gate-report';
import { samplesForUpperBound } from './confidence';
import { measureGeneratorCeiling } from './generator-ceiling';
import { closedLoop, nowMs } from './load-generator';
import { measureAccuracy, measureParity } from './measure-correctness';
import {
  CONFIDENCE,
  type LatencyLimit,
  measureModelAlone,
  measureOperatingPoint,
  type Progress,
  searchServingSettings,
} from './measure-performance';
import { type NamedGpu } from './gpu-gate';
import { probeGpuProvider } from './gpu-probe';
import { type GateGpu } from './gate-report';
import { encodeInferRequest } from './request-bodies';
import { type CpuEnforcement } from './resource-budget';
import { servedEnvironment } from './served-environment';

/** What the synth process asks the worker to measure. */
export interface GateWorkerRequest {
  readonly modelPath: string;
  /** The served model's name (`/v2/models/<name>`). */
  readonly modelName: string;
  readonly gate: GateSpec;
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  /** The planned utilization of a replica (the SLO's): the operating rate is this × the capacity. */
  readonly targetUtilization: number;
  /** The server the image runs: its bundle's entry and the Deployment's environment for it. */
  readonly server: { readonly entry: string; readonly env: Readonly<Record<string, string>> };
  /** Force a CPU enforcement. @default 'auto' */
  readonly cpuEnforcement?: 'auto' | CpuEnforcement;
  /**
   * The GPU the served path runs on, and the provider (a service placed on a GPU pool); the worker
   * is started with `CUDA_VISIBLE_DEVICES` naming it, so it is device 0. Accuracy, parity, the model
   * alone and the in-process cold start stay on the CPU provider.
   * @default the CPU
   */
  readonly gpu?: { readonly device: NamedGpu; readonly provider: GpuExecutionProvider };
}

/** The operating point's share of what is left after the in-process phase: at least, at most. */
const OPERATING_SHARE = { min: 0.2, max: 0.35 } as const;

/**
 * How long the operating point is expected to need, ms: a server start, its warm-up and lone
 * requests, and enough samples at the operating rate for the strictest declared percentile to be
 * bounded (299 for p99 at 95%), at the rate one request at a time would allow (batching can only
 * do better).
 */
export function operatingPointNeedMs(
  gate: GateSpec,
  serviceMs: number,
  startMs: number,
  utilization: number,
): number {
  const p = gate.latencyP99Ms !== undefined || gate.latencyP95Ms === undefined ? 99 : 95;
  const samples = samplesForUpperBound(p, CONFIDENCE) * 1.2;
  const rate = (1000 / Math.max(serviceMs, 0.001)) * utilization;
  return startMs + 1000 + (samples / rate) * 1000;
}
/** The request bodies the load generator cycles through: at most this many, and at most this many bytes together. */
const BODY_RING = { count: 32, bytes: 64 * 2 ** 20 } as const;

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
  const deadline = started + budgetMs;
  const model = inspectModel(request.modelPath);
  const intraOpThreads = intraOpThreadsFor(request.cpuMillis);
  const nextInput = benchmarkInputs(model, gate);
  let gpu: GateGpu | undefined;
  if (request.gpu) {
    const { device, provider } = request.gpu;
    gpu = {
      name: device.name,
      product: device.product,
      driverVersion: device.driverVersion,
      memoryMiB: device.memoryMiB,
      provider,
      measuredAt: new Date().toISOString(),
    };
    progress(`gpu: a session with onnxruntime's ${provider} provider on ${device.product}`);
    await probeGpuProvider(request.modelPath, intraOpThreads, provider, device);
  }

  progress(
    `cold start: creating the session in process (${intraOpThreads} intra-op thread${intraOpThreads === 1 ? '' : 's'})`,
  );
  const executor = await Executor.create({
    modelPath: request.modelPath,
    model,
    intraOpThreads,
    cpus: request.cpuMillis / 1000,
    workers: 1,
    inline: 'auto',
  });
  const inProcess = { infer: () => executor.infer(nextInput()) };
  const { firstInferenceMs, modelAlone, accuracy, parity } = await (async () => {
    const firstStart = nowMs();
    await executor.infer(nextInput()).catch((error: unknown) => {
      throw generatedInputsHint(error, model, gate);
    });
    const first = nowMs() - firstStart;
    progress(
      `cold start: session ${executor.loadMs.toFixed(1)} ms, first inference ${first.toFixed(2)} ms; the model alone (a diagnostic)`,
    );
    await closedLoop(inProcess, Math.min(300, budgetMs / 50), 3);
    const alone = await measureModelAlone(inProcess, Math.min(1000, budgetMs / 30));
    const onCpu = gpu ? " (onnxruntime's CPU provider)" : '';
    if (gate.accuracy) progress(`accuracy${onCpu}: ${gate.accuracy.dataset}`);
    const accuracyResult = gate.accuracy ? await measureAccuracy(executor, model, gate.accuracy) : undefined;
    if (gate.parity) progress(`parity${onCpu}: ${gate.parity.dataset}`);
    const parityResult = gate.parity ? await measureParity(executor, model, gate.parity) : undefined;
    return { firstInferenceMs: first, modelAlone: alone, accuracy: accuracyResult, parity: parityResult };
  })().finally(() => executor.close());

  const bodies = [];
  for (let bytes = 0; bodies.length < BODY_RING.count && (bytes < BODY_RING.bytes || bodies.length === 0);) {
    const body = encodeInferRequest(nextInput(), gate.requestEncoding ?? 'json');
    bodies.push(body);
    bytes += body.body.length;
  }
  const generatorCeilingRps = await measureGeneratorCeiling(bodies);
  progress(`load generator: ceiling ${generatorCeilingRps.toFixed(0)} rps against a trivial endpoint`);

  const env = servedEnvironment({
    entry: request.server.entry,
    env: request.server.env,
    modelPath: request.modelPath,
    modelName: request.modelName,
    intraOpThreads,
    cpuMillis: request.cpuMillis,
    memoryBytes: request.memoryBytes,
    bodies,
    readyTimeoutMs: Math.max(30_000, budgetMs),
    prefer: request.cpuEnforcement ?? 'auto',
    executionProvider: request.gpu?.provider ?? 'cpu',
  });
  const startMs = 1.5 * executor.loadMs; // a server process loads node and the model: more than the session alone
  const left = deadline - nowMs();
  const operatingMs = Math.min(
    OPERATING_SHARE.max * left,
    Math.max(
      OPERATING_SHARE.min * left,
      operatingPointNeedMs(gate, modelAlone.p50Ms, startMs, request.targetUtilization),
    ),
  );
  const search = await searchServingSettings(
    model,
    gate,
    request.memoryBytes,
    generatorCeilingRps,
    Math.max(1000, left - operatingMs),
    progress,
    env,
    // A setting costs a server start and, for a slow model, a trial long enough to decide.
    startMs + Math.min(left, operatingPointNeedMs(gate, modelAlone.p50Ms, 0, 0.85) - 1000),
  );
  const chosen = search.chosen.result;
  const operatingRate =
    chosen.rps > 0 ? chosen.rps * request.targetUtilization : Math.max(1, chosen.capacityRps * 0.15);
  const limits: LatencyLimit[] = [
    ...(gate.latencyP50Ms !== undefined ? [{ p: 50 as const, limitMs: gate.latencyP50Ms }] : []),
    ...(gate.latencyP95Ms !== undefined ? [{ p: 95 as const, limitMs: gate.latencyP95Ms }] : []),
    ...(gate.latencyP99Ms !== undefined ? [{ p: 99 as const, limitMs: gate.latencyP99Ms }] : []),
  ];
  const operating = await measureOperatingPoint(
    search.chosen,
    operatingRate,
    limits,
    Math.max(1000, deadline - nowMs()),
    gate,
    progress,
    env,
  );
  return {
    environment: {
      ...(gpu ? { gpu } : {}),
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
      cores: os.cpus().length,
      onnxruntimeVersion: onnxruntimeVersion(),
      nodeVersion: process.version,
      platform: `${process.platform}-${process.arch}`,
      intraOpThreads,
      cpuLimitMillis: request.cpuMillis,
      memoryLimitBytes: request.memoryBytes,
      enforcement: env.enforcement(),
      generatorCeilingRps,
    },
    coldStart: {
      sessionCreateMs: executor.loadMs,
      firstInferenceMs,
      totalMs: executor.loadMs + firstInferenceMs,
      processReadyMs: search.readyMs,
    },
    latency: operating.latency,
    loneLatency: operating.lone,
    modelAlone,
    throughput: search.throughput,
    peakRssBytes: Math.max(search.peakMemoryBytes, operating.peakMemoryBytes),
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
