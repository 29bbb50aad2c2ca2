/**
 * The names of the server's own metrics, in a module of their own (no prom-client): the server
 * registers them, and the renders that query them (KEDA's trigger, the alert rules and dashboards)
 * name them from here.
 */
export const SERVER_METRIC_NAMES = {
  requests: 'modelfab_requests_total',
  requestDuration: 'modelfab_request_duration_seconds',
  inferenceDuration: 'modelfab_inference_duration_seconds',
  queueDepth: 'modelfab_queue_depth',
  batchSize: 'modelfab_batch_size',
  inFlight: 'modelfab_inflight_requests',
  refusals: 'modelfab_refusals_total',
} as const;
