/**
 * The names of the metrics the modelfab server exports on its metrics port, and the `le` label of
 * its latency bucket at a bound. In lib/core because the server (lib/server `server-metrics.ts`)
 * exports them and the alert rules and dashboard (lib/render `render-monitoring.ts`) refer to them.
 */

/** The server's own metrics, beside prom-client's default process metrics. */
export const SERVER_METRIC_NAMES = {
  requests: 'modelfab_requests_total',
  requestDuration: 'modelfab_request_duration_seconds',
  inferenceDuration: 'modelfab_inference_duration_seconds',
  queueDepth: 'modelfab_queue_depth',
  receiving: 'modelfab_receiving_requests',
  batchSize: 'modelfab_batch_size',
  inFlight: 'modelfab_inflight_requests',
  refusals: 'modelfab_refusals_total',
  modelInfo: 'modelfab_model_info',
} as const;

/** prom-client's default process metric the server's start time is read from (restarts). */
export const PROCESS_START_TIME_METRIC = 'process_start_time_seconds';

/** The `le` label of the request duration bucket at a latency bound, as the exposition writes it. */
export function latencyBucketLabel(latencyBoundMs: number): string {
  return String(latencyBoundMs / 1000);
}
