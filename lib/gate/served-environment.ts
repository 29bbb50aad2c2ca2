/**
 * The benchmark worker's {@link BenchEnvironment}: every serving setting the search tries is the
 * server bundle started with the Deployment's environment plus that setting, inside a fresh
 * {@link ResourceBudget} for the pod's limits, and loaded over loopback HTTP.
 */
import { type ExecutionProvider, SERVER_ENV } from '../core';
import { type BenchEnvironment, realClock, type ServingSetting } from './bench-environment';
import { createResourceBudget, type CpuEnforcement, type MemoryEnforcement } from './resource-budget';
import { startServedModel } from './served-model';

/** What every start of the served model shares. */
export interface ServedEnvironmentOptions {
  /** The server bundle's entry (`build/server/main.js`). */
  readonly entry: string;
  /** The Deployment's server environment (without the serving settings the search sets). */
  readonly env: Readonly<Record<string, string>>;
  readonly modelPath: string;
  readonly modelName: string;
  readonly intraOpThreads: number;
  readonly cpuMillis: number;
  readonly memoryBytes: number;
  readonly bodies: ReadonlyArray<{
    readonly body: Buffer;
    readonly headers: Readonly<Record<string, string>>;
  }>;
  /** How long a server may take to become ready, ms. */
  readonly readyTimeoutMs: number;
  /** Force a CPU enforcement (tests, `MODELFAB_GATE_CPU_ENFORCEMENT`). @default 'auto' */
  readonly prefer?: 'auto' | CpuEnforcement;
  /** The provider the server runs the model with (a GPU service's: the GPU's). @default 'cpu' */
  readonly executionProvider?: ExecutionProvider;
}

/**
 * The server's environment for one start: the Deployment's, then what the gate decides (the model,
 * one worker with the limit's threads, the execution provider, the serving setting tried).
 */
export function servedServerEnv(
  options: Pick<
    ServedEnvironmentOptions,
    'env' | 'modelPath' | 'modelName' | 'intraOpThreads' | 'executionProvider'
  >,
  setting: ServingSetting,
): Record<string, string> {
  return {
    ...options.env,
    [SERVER_ENV.modelPath]: options.modelPath,
    [SERVER_ENV.modelName]: options.modelName,
    [SERVER_ENV.intraOpThreads]: String(options.intraOpThreads),
    [SERVER_ENV.executionProvider]: options.executionProvider ?? 'cpu',
    [SERVER_ENV.workers]: '1',
    [SERVER_ENV.maxBatchSize]: String(setting.maxBatchSize),
    [SERVER_ENV.maxQueueDelayMs]: String(setting.maxQueueDelayMs),
  };
}

/** The served environment, and the enforcement its last start got. */
export interface ServedEnvironment extends BenchEnvironment {
  enforcement(): {
    readonly cpu: CpuEnforcement;
    readonly memory: MemoryEnforcement;
    readonly detail: string;
  };
}

export function servedEnvironment(options: ServedEnvironmentOptions): ServedEnvironment {
  let enforcement = {
    cpu: 'none' as CpuEnforcement,
    memory: 'none' as MemoryEnforcement,
    detail: 'not started',
  };
  return {
    clock: realClock,
    enforcement: () => enforcement,
    startExecutor: async (setting) => {
      const budget = createResourceBudget(
        { cpuMillis: options.cpuMillis, memoryBytes: options.memoryBytes },
        { prefer: options.prefer ?? 'auto' },
      );
      enforcement = { cpu: budget.cpu, memory: budget.memory, detail: budget.detail };
      const served = await startServedModel({
        entry: options.entry,
        env: servedServerEnv(options, setting),
        budget,
        modelName: options.modelName,
        memoryLimitBytes: options.memoryBytes,
        readyTimeoutMs: options.readyTimeoutMs,
        bodies: options.bodies,
      });
      return {
        readyMs: served.readyMs,
        infer: () => served.infer(),
        peakMemoryBytes: () => served.peakMemoryBytes(),
        close: () => served.close(),
      };
    },
  };
}
