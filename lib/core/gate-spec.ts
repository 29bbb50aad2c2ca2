/** The resolved gate: defaults applied, dataset paths absolute. Plain data, part of the cache key. */
export interface GateSpec {
  readonly latencyP50Ms?: number;
  readonly latencyP95Ms?: number;
  readonly latencyP99Ms?: number;
  /** The latency bound throughput is measured at: latencyP99Ms, else 100 ms. */
  readonly latencyBoundMs: number;
  readonly minThroughputRps?: number;
  readonly accuracy?: {
    readonly dataset: string;
    readonly metric: 'top1' | 'topk' | 'mae' | 'rmse';
    readonly k: number;
    readonly output?: string;
    readonly min?: number;
    readonly max?: number;
  };
  readonly parity?: { readonly dataset: string; readonly atol: number; readonly rtol: number };
  readonly maxMemoryMb?: number;
  readonly maxColdStartMs?: number;
  readonly maxModelSizeMb?: number;
  readonly inputShapes: Readonly<Record<string, readonly number[]>>;
  /** Fixed values per input (absent when none is given, so existing cache keys stay). */
  readonly inputValues?: Readonly<Record<string, number>>;
  readonly inputDataset?: string;
  /** How the gate's requests carry tensors (absent for the default, JSON, so existing cache keys stay). */
  readonly requestEncoding?: 'binary';
  readonly budgetSeconds: number;
  readonly maxBatchSize: number;
  readonly seed: number;
}

export interface SloSpec {
  readonly targetRps: number;
  readonly targetUtilization: number;
  /**
   * What the rate is when it is derived, not the props' own `slo.targetRps`: a MultiCloudDeployment
   * target's share of the global SLO, a canary's weight of its service's. Capacity messages name it.
   */
  readonly origin?: string;
}
