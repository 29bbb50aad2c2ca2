/**
 * The server's Prometheus metrics, in a registry of its own (never prom-client's global one, so
 * several servers in one process, as in tests, keep their numbers apart), served on the metrics
 * port at `/metrics`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SERVER_METRIC_NAMES } from '../core';
import { REFUSAL_REASONS, type RefusalReason } from './error-answer';

/** Seconds, from a fast model's sub-millisecond answers to a request timeout. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The request duration buckets: the standard ones, and a boundary at the latency bound when one
 * is set (`latencyBoundMs`), so the requests slower than the bound are counted exactly. Its `le`
 * label is lib/core's `latencyBucketLabel(latencyBoundMs)`.
 */
export function requestDurationBuckets(latencyBoundMs?: number): number[] {
  if (latencyBoundMs === undefined) return [...LATENCY_BUCKETS];
  return [...new Set([...LATENCY_BUCKETS, latencyBoundMs / 1000])].sort((a, b) => a - b);
}

/** The served model, for the info metric: name, version and the file's sha256. */
export interface ServedModelIdentity {
  readonly name: string;
  readonly version: string;
  readonly sha256: string;
}

/** The requests a server holds before they run, at a scrape. */
export interface ServerLoad {
  /** Requests waiting for a worker (0 before the model is loaded). */
  readonly queued: number;
  /** Requests admitted whose bodies are arriving or being decoded. */
  readonly receiving: number;
}

/** Powers of two up to 1024 (a request may carry many rows even without batching), and the batch limit. */
function batchBuckets(maxBatchSize: number): number[] {
  const buckets = new Set<number>([maxBatchSize]);
  for (let size = 1; size <= 1024; size *= 2) buckets.add(size);
  return [...buckets].sort((a, b) => a - b);
}

/** The metrics of one server; `model` labels carry the served model's name (or `""`, see below). */
export class ServerMetrics {
  /** The registry `/metrics` serves: these metrics and prom-client's default process metrics. */
  readonly registry = new Registry();
  private readonly requests: Counter<'model' | 'code'>;
  private readonly requestDuration: Histogram<'model'>;
  private readonly inferenceDuration: Histogram<'model'>;
  private readonly batchSize: Histogram<'model'>;
  private readonly inFlight: Gauge<'model'>;
  /** The refusal counter's series by reason, bound once. */
  private readonly refusals = new Map<RefusalReason, Counter.Internal>();
  /** The labelled series each request touches, bound once (a label lookup per call costs). */
  private readonly bound: {
    readonly requestDuration: Histogram.Internal<'model'>;
    readonly inferenceDuration: Histogram.Internal<'model'>;
    readonly batchSize: Histogram.Internal<'model'>;
    readonly inFlight: Gauge.Internal<'model'>;
  };
  /** The request counter's series by status code, for the served model (`true`) and others. */
  private readonly requestCounts = {
    true: new Map<number, Counter.Internal>(),
    false: new Map<number, Counter.Internal>(),
  };

  private readonly modelName: string;

  /**
   * @param model the served model: its name is the value of every `model` label of the inference
   *   metrics, and `modelfab_model_info` carries its version and digest
   * @param maxBatchSize the largest batch, for the batch size buckets
   * @param load the requests waiting for a worker and those whose bodies are arriving, at each scrape
   * @param latencyBoundMs a latency bound the request duration histogram gets a bucket boundary at
   */
  constructor(
    model: ServedModelIdentity,
    maxBatchSize: number,
    load: () => ServerLoad,
    latencyBoundMs?: number,
  ) {
    const modelName = model.name;
    this.modelName = modelName;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: SERVER_METRIC_NAMES.requests,
      help: 'Requests to the inference API (health probes excluded), by model and HTTP status code; model is "" for server-wide endpoints and unknown models.',
      labelNames: ['model', 'code'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: SERVER_METRIC_NAMES.requestDuration,
      help: 'Time from the arrival of an inference request to the end of its response, seconds; refused requests (modelfab_refusals_total) are not in it.',
      labelNames: ['model'],
      buckets: requestDurationBuckets(latencyBoundMs),
      registers,
    });
    this.inferenceDuration = new Histogram({
      name: SERVER_METRIC_NAMES.inferenceDuration,
      help: 'onnxruntime session.run time of each batch, measured in the worker, seconds.',
      labelNames: ['model'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.batchSize = new Histogram({
      name: SERVER_METRIC_NAMES.batchSize,
      help: 'Rows of each batch run.',
      labelNames: ['model'],
      buckets: batchBuckets(maxBatchSize),
      registers,
    });
    this.inFlight = new Gauge({
      name: SERVER_METRIC_NAMES.inFlight,
      help: 'Inference requests received and not yet answered.',
      labelNames: ['model'],
      registers,
    });
    this.inFlight.set({ model: modelName }, 0);
    const refusals = new Counter({
      name: SERVER_METRIC_NAMES.refusals,
      help: 'Inference requests refused instead of served, by reason: queue_full and body_budget (429, the server is at capacity), body_too_large and decode_memory (413), body_timeout (408, the body stopped arriving), unauthorized (401), not_ready and shutting_down (503).',
      labelNames: ['model', 'reason'],
      registers,
    });
    for (const reason of REFUSAL_REASONS) {
      this.refusals.set(reason, refusals.labels({ model: modelName, reason }));
    }
    const labels = { model: modelName };
    this.bound = {
      requestDuration: this.requestDuration.labels(labels),
      inferenceDuration: this.inferenceDuration.labels(labels),
      batchSize: this.batchSize.labels(labels),
      inFlight: this.inFlight.labels(labels),
    };
    new Gauge({
      name: SERVER_METRIC_NAMES.modelInfo,
      help: 'Always 1: the served model, its version and the sha256 of the file the server loaded (it refuses to start on a file whose digest differs from the pinned one).',
      labelNames: ['model', 'version', 'sha256'],
      registers,
    }).set({ model: modelName, version: model.version, sha256: model.sha256 }, 1);
    new Gauge({
      name: SERVER_METRIC_NAMES.queueDepth,
      help: 'Inference requests waiting for a worker.',
      labelNames: ['model'],
      registers,
      collect() {
        this.set({ model: modelName }, load().queued);
      },
    });
    new Gauge({
      name: SERVER_METRIC_NAMES.receiving,
      help: 'Inference requests admitted whose bodies are still arriving or being decoded; with modelfab_queue_depth they count against the queue bound, so a full queue can be slow uploads.',
      labelNames: ['model'],
      registers,
      collect() {
        this.set({ model: modelName }, load().receiving);
      },
    });
  }

  /** Counts one answered request; `known` says whether it named the served model. */
  countRequest(known: boolean, code: number): void {
    const counts = this.requestCounts[known ? 'true' : 'false'];
    let series = counts.get(code);
    if (series === undefined) {
      series = this.requests.labels({ model: known ? this.modelName : '', code: String(code) });
      counts.set(code, series);
    }
    series.inc();
  }

  /** Counts one refused request. */
  countRefusal(reason: RefusalReason): void {
    this.refusals.get(reason)?.inc();
  }

  /** Records one answered inference request's duration. */
  observeInference(seconds: number): void {
    this.bound.requestDuration.observe(seconds);
  }

  /** Records a batch that ran: its rows and its session.run time (the executor's onBatch). */
  observeBatch(rows: number, inferMs: number): void {
    this.bound.batchSize.observe(rows);
    this.bound.inferenceDuration.observe(inferMs / 1000);
  }

  /** An inference request arrived (+1) or was answered (-1). */
  addInFlight(delta: 1 | -1): void {
    this.bound.inFlight.inc(delta);
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
