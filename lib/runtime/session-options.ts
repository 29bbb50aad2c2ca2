/**
 * The one place the serving session options are decided. The gate and the server both create
 * their sessions with {@link sessionOptionsFor}, so what the gate measures is what pods run.
 */
import fs from 'node:fs';
import { type InferenceSession } from 'onnxruntime-node';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../core/execution-provider';

/** What the serving session options depend on. */
export interface ServingSessionSettings {
  /** onnxruntime intra-op threads of the session (the CPU limit, see {@link intraOpThreadsFor}). */
  readonly intraOpThreads: number;
  /** The execution provider (see {@link executionProvidersFor}). @default 'cpu' */
  readonly executionProvider?: ExecutionProvider;
}

/**
 * onnxruntime's provider list for a provider, in priority order: `cpu` alone; `cuda` on device 0;
 * `tensorrt` on device 0, then `cuda` on device 0 for the nodes TensorRT does not take. onnxruntime
 * adds its CPU provider last by itself for nodes no GPU provider runs. Device 0 is the first GPU the
 * process sees: a process meant for another GPU is started with `CUDA_VISIBLE_DEVICES` naming it.
 * A GPU provider whose libraries cannot be loaded fails the session's creation (onnxruntime-node
 * says `Failed to load shared library`); it never falls back to the CPU.
 * @throws RangeError for a provider that is not one of {@link EXECUTION_PROVIDERS}
 */
export function executionProvidersFor(
  provider: ExecutionProvider,
): NonNullable<InferenceSession.SessionOptions['executionProviders']> {
  switch (provider) {
    case 'cpu':
      return ['cpu'];
    case 'cuda':
      return [{ name: 'cuda', deviceId: 0 }];
    case 'tensorrt':
      return [
        { name: 'tensorrt', deviceId: 0 },
        { name: 'cuda', deviceId: 0 },
      ];
    default:
      throw new RangeError(
        `executionProvider must be one of ${EXECUTION_PROVIDERS.join(', ')}, received ${JSON.stringify(provider)}`,
      );
  }
}

/**
 * The session options every serving session uses: the execution provider's list
 * ({@link executionProvidersFor}; the CPU's by default), `intraOpThreads`
 * intra-op threads, one inter-op thread with sequential execution (a request's operators run one
 * after another; parallelism comes from intra-op threads and workers), every graph optimisation,
 * the CPU memory arena (steady allocations after warm-up), and onnxruntime's own logging off
 * (fatal errors only): its errors reach the caller as exceptions.
 * @throws RangeError when intraOpThreads is not a positive integer
 */
export function sessionOptionsFor(settings: ServingSessionSettings): InferenceSession.SessionOptions {
  const { intraOpThreads, executionProvider = 'cpu' } = settings;
  if (!Number.isInteger(intraOpThreads) || intraOpThreads < 1) {
    throw new RangeError(`intraOpThreads must be a positive integer, received ${String(intraOpThreads)}`);
  }
  return {
    executionProviders: executionProvidersFor(executionProvider),
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    // onnxruntime's own log lines are coloured text on stderr, which breaks a server whose every
    // line is JSON; each failure they would report also reaches the caller as an error, which
    // the server and the gate report themselves. 4 = fatal only.
    logSeverityLevel: 4,
  };
}

/**
 * Intra-op threads for a CPU limit in millicores: whole CPUs, rounded down, at least 1 (more
 * threads than the CFS quota allows only adds throttling).
 * @throws RangeError when cpuMillis is not a positive number
 */
export function intraOpThreadsFor(cpuMillis: number): number {
  if (!Number.isFinite(cpuMillis) || cpuMillis <= 0) {
    throw new RangeError(
      `the cpu limit must be a positive number of millicores, received ${String(cpuMillis)}`,
    );
  }
  return Math.max(1, Math.floor(cpuMillis / 1000));
}

let version: string | undefined;

/** The version of the installed onnxruntime-node (`'1.30.0'`), read from its package.json. */
export function onnxruntimeVersion(): string {
  if (version === undefined) {
    const file = require.resolve('onnxruntime-node/package.json');
    version = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return version;
}
