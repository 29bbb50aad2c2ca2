/**
 * The monitoring of one InferenceService, derived from its gate: a ServiceMonitor for the metrics
 * port, a PrometheusRule whose thresholds are the gate's figures, and a Grafana dashboard as a
 * ConfigMap for the Grafana sidecar. Pure: the same spec, model and gate outcome give the same objects.
 *
 * Every expression names only metrics the modelfab server exports (lib/core `SERVER_METRIC_NAMES`
 * and prom-client's `process_start_time_seconds`). Without a gate report (no gate, or
 * `MODELFAB_GATE=skip`) the alerts that need a measured figure are left out: the latency alert (the
 * gated bound, and the bucket the Deployment adds at it) and the running-hot alert (the measured
 * capacity); the error, refusal, digest and restart alerts stay, and the dashboard shows no bound,
 * capacity or plan lines.
 */
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule' with {
  'resolution-mode': 'import',
};
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor' with {
  'resolution-mode': 'import',
};
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap' with { 'resolution-mode': 'import' };
import {
  type InferenceServiceSpec,
  latencyBucketLabel,
  type MonitoringSpec,
  PROCESS_START_TIME_METRIC,
  SERVER_METRIC_NAMES as M,
} from '../core';
import {
  type GateOutcome,
  type GateReport,
  measuredReplicaRps,
  plannedReplicaRps,
  plannedUtilization,
} from '../gate';
import { type ModelInfo } from '../model';
import { asKubeObject, type KubeObject } from './kube-object';
import { selectorLabels } from './labels';

/** The rate window of every rule and panel. */
const RATE_WINDOW = '5m';
/** Server starts within the restart window that fire the restart alert (three starts: two restarts). */
const RESTARTS = { window: '30m', above: 2 } as const;
/** The label and value the Grafana sidecar loads dashboards by. */
export const GRAFANA_DASHBOARD_LABEL = { key: 'grafana_dashboard', value: '1' } as const;
/** The annotation the Grafana sidecar reads the folder from (kube-prometheus-stack's `folderAnnotation`). */
export const GRAFANA_FOLDER_ANNOTATION = 'grafana_folder';

/** One alert rule, as the PrometheusRule holds it. */
export interface MonitoringAlert {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** The gate's figures the alerts and the dashboard use; absent without a gate report. */
export interface GatedFigures {
  /** The latency bound the gate checked p99 against and measured capacity at, ms. */
  readonly latencyBoundMs: number;
  /** Whether the bound is the user's `latencyP99Ms` (else the gate's default bound). */
  readonly boundIsThreshold: boolean;
  /** The measured p99 at the planned operating rate, ms, and that rate. */
  readonly measuredP99Ms: number;
  readonly operatingRateRps: number;
  /** Per-replica capacity at the bound, rps (`capacity.perReplicaRps`, else `throughput.rps`). */
  readonly perReplicaRps: number;
  readonly targetUtilization: number;
  /** The rate one replica is planned to take: per-replica capacity × target utilization (KEDA's threshold too). */
  readonly plannedReplicaRps: number;
  /** The replicas of the capacity plan, when there is one (an SLO). */
  readonly plannedReplicas?: number;
}

/** The report's figures, or undefined when there is no report to take them from. */
export function gatedFigures(spec: InferenceServiceSpec, gate?: GateOutcome): GatedFigures | undefined {
  const report: GateReport | undefined = gate?.status === 'skipped' ? undefined : gate?.report;
  if (report === undefined) return undefined;
  const capacity = report.capacity;
  return {
    latencyBoundMs: report.gate.latencyBoundMs,
    boundIsThreshold: report.gate.latencyP99Ms !== undefined,
    measuredP99Ms: report.measurements.latency.p99Ms,
    operatingRateRps: report.measurements.latency.rateRps,
    perReplicaRps: measuredReplicaRps(gate) ?? 0,
    targetUtilization: plannedUtilization(spec, gate),
    plannedReplicaRps: plannedReplicaRps(spec, gate) ?? 0,
    ...(capacity ? { plannedReplicas: capacity.replicas } : {}),
  };
}

/**
 * The latency bound, ms, the Deployment's server gets a histogram bucket boundary at
 * (`MODELFAB_LATENCY_BOUND_MS`): with monitoring and a gate report, the gated bound; else none.
 */
export function monitoredLatencyBoundMs(spec: InferenceServiceSpec, gate?: GateOutcome): number | undefined {
  if (spec.monitoring === undefined) return undefined;
  return gatedFigures(spec, gate)?.latencyBoundMs;
}

/** The ServiceMonitor, the PrometheusRule and (unless turned off) the dashboard ConfigMap. */
export function renderMonitoring(
  spec: InferenceServiceSpec,
  monitoring: MonitoringSpec,
  model: ModelInfo,
  labels: Readonly<Record<string, string>>,
  gate?: GateOutcome,
): KubeObject[] {
  const figures = gatedFigures(spec, gate);
  const metadata = (name: string, extraLabels: Readonly<Record<string, string>>): KubeObject['metadata'] => ({
    name,
    ...(spec.namespace !== undefined ? { namespace: spec.namespace } : {}),
    labels: { ...labels, ...extraLabels },
  });
  const objects = [
    renderServiceMonitor(spec, monitoring, metadata(spec.name, monitoring.prometheusLabels)),
    renderPrometheusRule(spec, monitoring, model, figures, metadata(spec.name, monitoring.prometheusLabels)),
  ];
  if (monitoring.dashboard) {
    const base = metadata(`${spec.name}-dashboard`, {
      ...monitoring.dashboard.labels,
      [GRAFANA_DASHBOARD_LABEL.key]: GRAFANA_DASHBOARD_LABEL.value,
    });
    const folder = monitoring.dashboard.folder;
    objects.push(
      renderDashboardConfigMap(
        spec,
        figures,
        folder === undefined ? base : { ...base, annotations: { [GRAFANA_FOLDER_ANNOTATION]: folder } },
      ),
    );
  }
  return objects;
}

/** Scrapes the Service's `metrics` port (the Service carries the service's selector labels). */
function renderServiceMonitor(
  spec: InferenceServiceSpec,
  monitoring: MonitoringSpec,
  metadata: KubeObject['metadata'],
): KubeObject {
  const monitor: IServiceMonitor = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata,
    spec: {
      selector: { matchLabels: selectorLabels(spec) },
      endpoints: [{ port: 'metrics', path: '/metrics', scheme: 'http', interval: monitoring.scrapeInterval }],
    },
  };
  return asKubeObject(monitor);
}

/** The label matchers of this service's series: its scrape job (the Service's name) and namespace. */
function seriesMatchers(spec: InferenceServiceSpec): string[] {
  return [
    `job=${quote(spec.name)}`,
    ...(spec.namespace !== undefined ? [`namespace=${quote(spec.namespace)}`] : []),
  ];
}

/** `metric{matchers}`. */
function series(metric: string, spec: InferenceServiceSpec, ...extra: string[]): string {
  return `${metric}{${[...seriesMatchers(spec), ...extra].join(', ')}}`;
}

/** A PromQL string literal. */
function quote(value: string): string {
  return JSON.stringify(value);
}

/** A threshold as PromQL and messages write it: at most three decimals, no trailing zeros. */
function figure(value: number): string {
  return String(Number(value.toFixed(3)));
}

/** The alerts, in the order the README lists them; those that need a gate figure only with one. */
export function monitoringAlerts(
  spec: InferenceServiceSpec,
  monitoring: MonitoringSpec,
  model: ModelInfo,
  figures: GatedFigures | undefined,
): MonitoringAlert[] {
  const model_ = `model=${quote(spec.modelName)}`;
  const requests = series(M.requests, spec, model_);
  const who = spec.namespace !== undefined ? `${spec.namespace}/${spec.name}` : spec.name;
  const alerts: MonitoringAlert[] = [];
  const add = (
    alert: string,
    severity: 'warning' | 'critical',
    expr: string,
    text: { summary: string; description: string; runbook: string },
  ): void => {
    alerts.push({
      alert,
      expr,
      for: monitoring.alerts.for,
      labels: { severity, service: spec.name },
      annotations: {
        summary: text.summary,
        description: text.description,
        runbook: text.runbook,
        ...(monitoring.runbookBaseUrl !== undefined
          ? { runbook_url: `${monitoring.runbookBaseUrl}/${alert}` }
          : {}),
      },
    });
  };

  if (figures) {
    const bound = figures.latencyBoundMs;
    const le = `le=${quote(latencyBucketLabel(bound))}`;
    const count = `sum(rate(${series(`${M.requestDuration}_count`, spec, model_)}[${RATE_WINDOW}]))`;
    const within = `sum(rate(${series(`${M.requestDuration}_bucket`, spec, model_, le)}[${RATE_WINDOW}]))`;
    const boundName = figures.boundIsThreshold
      ? `latencyP99Ms ${bound} ms`
      : `the gate's default bound ${bound} ms`;
    add('ModelfabLatencyP99AboveGatedBound', 'warning', `(${count} - ${within}) / ${count} > 0.01`, {
      summary: `${who}: p99 latency above the gated bound of ${bound} ms`,
      description: `More than 1% of ${who}'s inference requests over ${RATE_WINDOW} took longer than ${bound} ms ({{ $value | humanizePercentage }} did), so p99 is above ${boundName}. The gate measured p99 ${figure(figures.measuredP99Ms)} ms at ${figure(figures.operatingRateRps)} rps per replica; the server's histogram has a bucket boundary at the bound (MODELFAB_LATENCY_BOUND_MS), so the count over it is exact.`,
      runbook: `Compare the per-replica request rate with the measured capacity (${figure(figures.perReplicaRps)} rps): above it, add replicas or lower the autoscaler's target; below it, the pods are slower than when gated (CPU throttling, noisy neighbours, a different node type): check container_cpu_cfs_throttled_seconds_total and the node, and re-run the gate on the production node type.`,
    });
  }

  const errorRatio = figure(monitoring.alerts.errorRatio);
  add(
    'ModelfabErrorRatioHigh',
    'critical',
    `sum(rate(${series(M.requests, spec, model_, 'code=~"5.."')}[${RATE_WINDOW}])) / sum(rate(${requests}[${RATE_WINDOW}])) > ${errorRatio}`,
    {
      summary: `${who}: more than ${figure(monitoring.alerts.errorRatio * 100)}% of inference requests fail`,
      description: `{{ $value | humanizePercentage }} of ${who}'s inference requests over ${RATE_WINDOW} were answered with a 5xx status, above monitoring.alerts.errorRatio ${errorRatio}.`,
      runbook: `Read the server's error log lines (event "request", status 5xx): 504 means requests outlived MODELFAB_REQUEST_TIMEOUT_MS (overload), 503 means pods not ready or shutting down (a rollout, failing readiness), 500 an inference failure (the model or its inputs).`,
    },
  );

  const capacityWords = figures
    ? `; the gate measured ${figure(figures.perReplicaRps)} rps per replica at the ${figures.latencyBoundMs} ms bound`
    : '';
  add(
    'ModelfabQueueFullRefusals',
    'warning',
    `sum(rate(${series(M.refusals, spec, model_, 'reason=~"queue_full|body_budget"')}[${RATE_WINDOW}])) > 0`,
    {
      summary: `${who}: requests refused because the server is at capacity`,
      description: `${who} refuses {{ $value | humanize }} requests per second with 429 (reason queue_full or body_budget): its queue or its request body budget is full, so the load is above what the running replicas carry${capacityWords}.`,
      runbook: `Check whether the autoscaler is at maxReplicas or still scaling up; raise autoscaling.maxReplicas or the SLO's replicas, or lower the offered load. Clients should retry after the Retry-After header.`,
    },
  );

  if (figures && figures.perReplicaRps > 0) {
    const hot = figure(figures.plannedReplicaRps);
    add('ModelfabReplicaRunningHot', 'warning', `sum by (pod) (rate(${requests}[${RATE_WINDOW}])) > ${hot}`, {
      summary: `${who}: a replica serves more than the planned share of its measured capacity`,
      description: `Pod {{ $labels.pod }} of ${who} serves {{ $value | humanize }} requests per second, above ${hot} rps: the gate's measured per-replica capacity ${figure(figures.perReplicaRps)} rps at the ${figures.latencyBoundMs} ms bound × target utilization ${figures.targetUtilization}. It runs hotter than planned before the autoscaler catches up; past the capacity p99 leaves the bound.`,
      runbook: `If the autoscaler is scaling, this clears as replicas come up; if it sits at maxReplicas, raise it (or slo.targetRps, so the plan sizes minReplicas). The HPA scales on CPU, which lags the request rate: a sustained alert means its target utilization is too high for this model.`,
    });
  }

  const info = (matcher: string) => series(M.modelInfo, spec, matcher);
  const digest = quote(model.sha256);
  const gated = figures ? 'the digest the gate measured' : 'the digest pinned at synth';
  add(
    'ModelfabModelDigestMismatch',
    'critical',
    `(count(${info(`sha256!=${digest}`)}) > 0) or absent(${info(`sha256=${digest}`)})`,
    {
      summary: `${who}: no server serves the gated model`,
      description: `No scraped server of ${who} reports serving model sha256 ${model.sha256} (${gated}; modelfab_model_info), or one reports another digest. The server refuses to start on a model file whose digest differs (MODELFAB_MODEL_SHA256), so such pods restart without ever serving.`,
      runbook: `Read the pods' logs for the event "refused-to-start" (it names the file's digest and the expected one): the image holds another model file than the one synthesized. Rebuild and push the image from the gated model, or re-run synth (the gate) for the new file.`,
    },
  );

  add(
    'ModelfabServerRestarts',
    'warning',
    `changes(${series(PROCESS_START_TIME_METRIC, spec)}[${RESTARTS.window}]) > ${RESTARTS.above}`,
    {
      summary: `${who}: a server restarted more than ${RESTARTS.above} times in ${RESTARTS.window}`,
      description: `The server in pod {{ $labels.pod }} of ${who} started {{ $value }} times in ${RESTARTS.window} (process_start_time_seconds changed), more than ${RESTARTS.above}.`,
      runbook: `Check the pod's last termination reason: OOMKilled means the memory limit is below what the model needs under load (the gate's peak is in the gate summary annotation); a failing liveness probe means the event loop stalls; an error line before the exit says why the server stopped.`,
    },
  );
  return alerts;
}

function renderPrometheusRule(
  spec: InferenceServiceSpec,
  monitoring: MonitoringSpec,
  model: ModelInfo,
  figures: GatedFigures | undefined,
  metadata: KubeObject['metadata'],
): KubeObject {
  const rule: IPrometheusRule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata,
    spec: {
      groups: [
        {
          name: `modelfab.${spec.namespace !== undefined ? `${spec.namespace}.` : ''}${spec.name}`,
          rules: monitoringAlerts(spec, monitoring, model, figures).map((a) => ({
            alert: a.alert,
            expr: a.expr,
            for: a.for,
            labels: { ...a.labels },
            annotations: { ...a.annotations },
          })),
        },
      ],
    },
  };
  return asKubeObject(rule);
}

/** One dashboard panel: a time series of PromQL targets. */
export interface DashboardPanel {
  readonly title: string;
  readonly unit: string;
  readonly targets: ReadonlyArray<{ readonly expr: string; readonly legendFormat: string }>;
}

/** The dashboard's panels: rate, latency against the bound, batch sizes, queue, replicas against the plan. */
export function dashboardPanels(
  spec: InferenceServiceSpec,
  figures: GatedFigures | undefined,
): DashboardPanel[] {
  const model_ = `model=${quote(spec.modelName)}`;
  const w = RATE_WINDOW;
  const quantile = (q: number, metric: string) =>
    `histogram_quantile(${q}, sum by (le) (rate(${series(`${metric}_bucket`, spec, model_)}[${w}])))`;
  const perReplica = `sum by (pod) (rate(${series(M.requests, spec, model_)}[${w}]))`;
  return [
    {
      title: 'Request rate by status',
      unit: 'reqps',
      targets: [
        { expr: `sum by (code) (rate(${series(M.requests, spec, model_)}[${w}]))`, legendFormat: '{{code}}' },
        {
          expr: `sum by (reason) (rate(${series(M.refusals, spec, model_)}[${w}]))`,
          legendFormat: 'refused: {{reason}}',
        },
      ],
    },
    {
      title: figures
        ? `Latency percentiles against the gated bound (${figures.latencyBoundMs} ms)`
        : 'Latency percentiles',
      unit: 's',
      targets: [
        ...[0.5, 0.95, 0.99].map((q) => ({
          expr: quantile(q, M.requestDuration),
          legendFormat: `p${q * 100}`,
        })),
        ...(figures
          ? [{ expr: `vector(${figure(figures.latencyBoundMs / 1000)})`, legendFormat: 'gated bound' }]
          : []),
      ],
    },
    {
      title: 'Per-replica request rate against the measured capacity',
      unit: 'reqps',
      targets: [
        { expr: perReplica, legendFormat: '{{pod}}' },
        ...(figures
          ? [
              { expr: `vector(${figure(figures.perReplicaRps)})`, legendFormat: 'measured capacity' },
              {
                expr: `vector(${figure(figures.perReplicaRps * figures.targetUtilization)})`,
                legendFormat: `capacity × target utilization ${figures.targetUtilization}`,
              },
            ]
          : []),
      ],
    },
    {
      title: 'Batch sizes (rows per batch run)',
      unit: 'short',
      targets: [
        { expr: quantile(0.5, M.batchSize), legendFormat: 'p50' },
        { expr: quantile(0.99, M.batchSize), legendFormat: 'p99' },
        {
          expr: `sum(rate(${series(`${M.batchSize}_sum`, spec, model_)}[${w}])) / sum(rate(${series(`${M.batchSize}_count`, spec, model_)}[${w}]))`,
          legendFormat: 'mean',
        },
      ],
    },
    {
      title: 'Queue depth, bodies arriving and requests in flight',
      unit: 'short',
      targets: [
        { expr: `sum by (pod) (${series(M.queueDepth, spec, model_)})`, legendFormat: 'queued {{pod}}' },
        // Bodies still arriving count against the queue bound too: slow uploads show here.
        { expr: `sum(${series(M.receiving, spec, model_)})`, legendFormat: 'receiving bodies' },
        { expr: `sum(${series(M.inFlight, spec, model_)})`, legendFormat: 'in flight' },
      ],
    },
    {
      title: 'Replicas serving against the plan',
      unit: 'short',
      targets: [
        { expr: `count(${series(M.modelInfo, spec, model_)})`, legendFormat: 'serving' },
        ...plannedReplicas(spec, figures).map(({ value, legend }) => ({
          expr: `vector(${value})`,
          legendFormat: legend,
        })),
      ],
    },
  ];
}

/** The replica lines of the plan: the capacity plan's, or the fixed count, and the autoscaler's bounds. */
function plannedReplicas(
  spec: InferenceServiceSpec,
  figures: GatedFigures | undefined,
): Array<{ value: number; legend: string }> {
  const lines: Array<{ value: number; legend: string }> = [];
  if (figures?.plannedReplicas !== undefined) {
    lines.push({ value: figures.plannedReplicas, legend: 'capacity plan (slo.targetRps)' });
  }
  if (spec.scaling.kind === 'fixed') lines.push({ value: spec.scaling.replicas, legend: 'replicas' });
  else lines.push({ value: spec.scaling.maxReplicas, legend: 'maxReplicas' });
  return lines;
}

/** The dashboard's Grafana JSON model, in a ConfigMap the Grafana sidecar loads. */
function renderDashboardConfigMap(
  spec: InferenceServiceSpec,
  figures: GatedFigures | undefined,
  metadata: KubeObject['metadata'],
): KubeObject {
  const who = spec.namespace !== undefined ? `${spec.namespace}/${spec.name}` : spec.name;
  const panels = dashboardPanels(spec, figures).map((panel, i) => ({
    id: i + 1,
    type: 'timeseries',
    title: panel.title,
    datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
    fieldConfig: { defaults: { unit: panel.unit }, overrides: [] },
    targets: panel.targets.map((t, j) => ({
      refId: String.fromCharCode(65 + j),
      expr: t.expr,
      legendFormat: t.legendFormat,
    })),
  }));
  const dashboard = {
    uid: `modelfab-${who.replace('/', '-')}`.slice(0, 40),
    title: `modelfab ${who}`,
    tags: ['modelfab', 'inference'],
    timezone: 'browser',
    schemaVersion: 39,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: [{ name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Data source' }],
    },
    panels,
  };
  const configMap: IConfigMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata,
    data: { [`modelfab-${who.replace('/', '-')}.json`]: `${JSON.stringify(dashboard, null, 2)}\n` },
  };
  return asKubeObject(configMap);
}
