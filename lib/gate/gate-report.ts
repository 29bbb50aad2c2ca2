/**
 * What one gate run measured and decided. Written as JSON beside the manifests, cached, and read by
 * the renderers (serving config, annotations) and the capacity plan. Plain data.
 */
import { type CostPlan, type GateSpec, type GpuExecutionProvider, type GpuName, type SloSpec } from '../core';
import { type SkippedBatchSetting } from './memory-forecast';

/**
 * The GPU a report's served path was measured on (a service placed on a GPU pool). The server ran
 * with that provider on it; accuracy, parity, the model alone and the in-process cold start ran on
 * onnxruntime's CPU provider (their figures do not depend on where the pod serves, or are
 * diagnostics), and the reports say so.
 */
export interface GateGpu {
  /** The pool's name for it: `a10g`. */
  readonly name: GpuName;
  /** As nvidia-smi names it: `NVIDIA A10G`. */
  readonly product: string;
  /** The NVIDIA driver's version, as nvidia-smi reports it: `550.127.05`. */
  readonly driverVersion: string;
  /** The GPU's memory, MiB, as nvidia-smi reports it. */
  readonly memoryMiB: number;
  /** The execution provider the server ran with. */
  readonly provider: GpuExecutionProvider;
  /** When the measurement began (ISO 8601, UTC): a report shared through the cache says when it was made. */
  readonly measuredAt: string;
}

/** Where and how the numbers were measured. */
export interface GateEnvironment {
  /** The GPU the served path ran on; absent when it ran on the CPU (every service without a placement). */
  readonly gpu?: GateGpu;
  readonly cpuModel: string;
  /** Logical cores of the machine that measured. */
  readonly cores: number;
  readonly onnxruntimeVersion: string;
  readonly nodeVersion: string;
  readonly platform: string;
  /** onnxruntime intra-op threads per session (the CPU limit rounded down, at least 1). */
  readonly intraOpThreads: number;
  readonly cpuLimitMillis: number;
  readonly memoryLimitBytes: number;
  /**
   * How the server was held to the limits: `quota` (a CFS quota, as the kubelet sets it),
   * `affinity` (pinned to whole cores) or `none`; memory by a memory cgroup or only checked
   * against the peak. `detail` says exactly what was set.
   */
  readonly enforcement: {
    readonly cpu: 'quota' | 'affinity' | 'none';
    readonly memory: 'cgroup' | 'none';
    readonly detail: string;
  };
  /**
   * The most requests per second this process's load generator sent and read back, measured in the
   * same run against a trivial endpoint: a capacity near it is the generator's, not the server's.
   */
  readonly generatorCeilingRps: number;
}

/** Latency statistics of one measurement window. */
export interface WindowStats {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Completed requests per second in the window. */
  readonly rps: number;
}

/** A latency distribution: percentiles by nearest rank over every sample. */
export interface LatencyStats {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** Stability verdict over the last windows: they agree within the tolerance on p50 and throughput. */
export interface Stability {
  readonly stable: boolean;
  /** Largest relative spread seen among the compared windows (0.08 = 8%). */
  readonly spread: number;
  /** Why it is (un)stable, in words. */
  readonly detail: string;
}

/** What the samples show of one percentile with the gate's confidence (distribution-free). */
export interface PercentileBounds {
  /** Nearest-rank estimate, ms. */
  readonly estimateMs: number;
  /** The percentile is at least this with the gate's confidence (samples at or below the rate). */
  readonly lowerMs?: number;
  /** The percentile is at most this with the gate's confidence (samples at or above the rate). */
  readonly upperMs?: number;
  /** Samples the upper bound came from. */
  readonly samples: number;
}

/**
 * Latency at the planned operating rate (open loop, `targetUtilization` × the capacity at the
 * bound) on the served path: the figures the thresholds are judged on. Stability is drift between
 * windows, reported, never a verdict.
 */
export interface LatencyMeasurement extends LatencyStats, Stability {
  /** The offered rate, requests per second. */
  readonly rateRps: number;
  /** One-sided bounds at `confidence` for p50, p95 and p99. */
  readonly bounds: {
    readonly p50: PercentileBounds;
    readonly p95: PercentileBounds;
    readonly p99: PercentileBounds;
  };
  /** The confidence of every bound and decision (0.95). */
  readonly confidence: number;
  readonly windows: readonly WindowStats[];
  /** Log-spaced histogram for the chart: bucket upper bounds (ms) and counts. */
  readonly histogram: { readonly boundsMs: readonly number[]; readonly counts: readonly number[] };
}

/** Throughput at the latency bound for one serving setting (open loop, Poisson arrivals, served path). */
export interface BatchSettingResult {
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  /** What the server completed saturated (closed loop): no rate above it is tried. */
  readonly capacityRps: number;
  /** Highest offered rate whose p99 was shown within the bound; 0 when none was, or none was searched. */
  readonly rps: number;
  /** p99 at that rate (nearest rank), or at the last rate tried when none held; not a number when not searched. */
  readonly p99Ms: number;
  /** The p99's upper bound at the gate's confidence at that rate (absent when too few samples). */
  readonly p99UpperMs?: number;
  readonly samples: number;
  /**
   * The decision at the rate reported: `within` for a held rate, else why the last rate did not
   * hold; `not searched` for a setting only probed saturated, whose capacity was below the best's.
   */
  readonly decision: 'within' | 'beyond' | 'undecided' | 'not searched';
  /** Whether the held rate's windows agreed on served throughput (drift, reported). */
  readonly stable: boolean;
  /** The last rate that did not hold, in words. */
  readonly detail?: string;
  /**
   * The next rate above the held one could not be offered: the load generator fell behind its
   * arrival schedule there, so the held rate is a lower bound of what the setting serves. With no
   * rate held: the generator fell behind even at the lowest rate tried, and the server was not measured.
   */
  readonly generatorBound?: boolean;
}

export interface ThroughputMeasurement {
  readonly latencyBoundMs: number;
  /** The best setting's rate: per-replica capacity. */
  readonly rps: number;
  readonly stable: boolean;
  /** Whether the best setting's rate was shown within the bound with the gate's confidence. */
  readonly decision: 'within' | 'beyond' | 'undecided';
  /**
   * The server out-ran the load generator (its saturated capacity reached 90% of the generator's
   * ceiling, or the generator fell behind its arrival schedule at the next rate): the rate is a
   * lower bound, `≥ rps`.
   */
  readonly generatorBound: boolean;
  readonly settings: readonly BatchSettingResult[];
  /**
   * Batch settings not tried because their forecast peak memory exceeds the container's limit
   * (absent when none was skipped, and in reports from before this was measured).
   */
  readonly skipped?: readonly SkippedBatchSetting[];
}

export interface AccuracyMeasurement {
  readonly metric: 'top1' | 'topk' | 'mae' | 'rmse';
  readonly k?: number;
  readonly output: string;
  readonly value: number;
  readonly samples: number;
  readonly dataset: string;
}

export interface ParityMeasurement {
  readonly maxAbsError: number;
  readonly maxRelError: number;
  /** Elements outside atol + rtol × |expected|. */
  readonly mismatches: number;
  readonly elements: number;
  readonly samples: number;
  readonly dataset: string;
  /** The worst element: dataset line, output name, flat index, ours and expected. */
  readonly worst?: {
    readonly line: number;
    readonly output: string;
    readonly index: number;
    readonly actual: number;
    readonly expected: number;
  };
}

/** The serving settings the server will use, tuned by the throughput search. */
export interface ServingConfig {
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  readonly intraOpThreads: number;
  readonly workers: number;
}

/** Everything the benchmark worker measured (no judgement). */
export interface GateMeasurements {
  readonly environment: GateEnvironment;
  readonly coldStart: {
    /** In-process: the onnxruntime session's creation. */
    readonly sessionCreateMs: number;
    /** In-process: the first inference after it. */
    readonly firstInferenceMs: number;
    /** Session create + first inference. */
    readonly totalMs: number;
    /** As a pod pays it: the server process's start to its first ready answer (node, model load, warm-up). */
    readonly processReadyMs: number;
  };
  /** At the planned operating rate, served: what the latency thresholds are judged on. */
  readonly latency: LatencyMeasurement;
  /** A lone request, served (closed loop, one at a time): what a quiet service answers, queue delay included. */
  readonly loneLatency: LatencyStats & { readonly p99: PercentileBounds };
  /** Diagnostic only: the model alone, in process (no HTTP, no server), closed loop. Never the capacity. */
  readonly modelAlone: LatencyStats;
  readonly throughput: ThroughputMeasurement;
  /** The server's peak memory over the run (its memory cgroup's peak, else its peak resident set). */
  readonly peakRssBytes: number;
  readonly modelSizeBytes: number;
  readonly accuracy?: AccuracyMeasurement;
  readonly parity?: ParityMeasurement;
  readonly servingConfig: ServingConfig;
  /** Wall time the measurement took. */
  readonly durationMs: number;
}

export type Grade = 'excellent' | 'good' | 'pass' | 'fail';

/** One threshold's verdict. */
export interface Verdict {
  /** `latencyP99Ms`, `minThroughputRps`, `accuracy.min`, … (the prop that set it). */
  readonly threshold: string;
  /** Human name: `latency p99`, `throughput`, `accuracy (top1)`. */
  readonly metric: string;
  readonly measured: number;
  readonly limit: number;
  readonly unit: string;
  readonly pass: boolean;
  /** The failure message body (without the construct path) or a one-line pass summary. */
  readonly message: string;
}

/** Replicas derived from measured capacity. */
export interface CapacityPlan {
  readonly targetRps: number;
  readonly targetUtilization: number;
  readonly perReplicaRps: number;
  readonly replicas: number;
}

export interface GateReport {
  readonly schemaVersion: 1;
  readonly model: {
    readonly name: string;
    readonly path: string;
    readonly sha256: string;
    readonly sizeBytes: number;
  };
  readonly gate: GateSpec;
  readonly slo?: SloSpec;
  readonly measurements: GateMeasurements;
  readonly verdicts: readonly Verdict[];
  readonly grades: { readonly latency: Grade; readonly throughput: Grade; readonly accuracy?: Grade };
  readonly capacity?: CapacityPlan;
  /**
   * What the service costs on its node at the planned replicas, and per million inferences; only
   * for a service with a node to price it (placement or nodeType). Never cached: the price is the
   * service's, not the measurement's.
   */
  readonly cost?: CostPlan;
  readonly passed: boolean;
  /** True when this report came from the cache. */
  readonly cached: boolean;
}
