/**
 * What one gate run measured and decided. Written as JSON beside the manifests, cached, and read by
 * the renderers (serving config, annotations) and the capacity plan. Plain data.
 */
import { type GateSpec, type SloSpec } from '../core';
import { type SkippedBatchSetting } from './memory-forecast';

/** Where and how the numbers were measured. */
export interface GateEnvironment {
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

/** Closed-loop latency of single requests after warm-up, the service's latency figures. */
export interface LatencyMeasurement extends LatencyStats, Stability {
  readonly windows: readonly WindowStats[];
  /** Log-spaced histogram for the chart: bucket upper bounds (ms) and counts. */
  readonly histogram: { readonly boundsMs: readonly number[]; readonly counts: readonly number[] };
}

/** Throughput at the latency bound for one batch setting (open loop, Poisson arrivals). */
export interface BatchSettingResult {
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  /** Highest offered rate whose p99 stayed within the bound; 0 when even the lowest rate missed it. */
  readonly rps: number;
  /** p99 at that rate. */
  readonly p99Ms: number;
  readonly samples: number;
  readonly stable: boolean;
}

export interface ThroughputMeasurement {
  readonly latencyBoundMs: number;
  /** The best setting's rate: per-replica capacity. */
  readonly rps: number;
  readonly stable: boolean;
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
    readonly sessionCreateMs: number;
    readonly firstInferenceMs: number;
    readonly totalMs: number;
  };
  readonly latency: LatencyMeasurement;
  readonly throughput: ThroughputMeasurement;
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
  readonly passed: boolean;
  /** True when this report came from the cache. */
  readonly cached: boolean;
}
