/**
 * `monitoring` → MonitoringSpec: defaults applied, every value checked. Pure.
 */
import { show } from './errors';
import { INFERENCE_SERVICE_DEFAULTS, type MonitoringProps } from './inference-service-props';
import { type MonitoringSpec } from './inference-service-spec';
import { type ServingRuntime } from './model-image-source';
import { isPlainObject } from './props-shape';
import { type PropsChecker } from './props-checker';

/**
 * A Prometheus duration as the Prometheus operator's CRDs accept it (`30s`, `1m30s`, `500ms`),
 * units from the largest to the smallest, each at most once.
 */
const PROMETHEUS_DURATION =
  /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Whether `value` is a Prometheus duration longer than zero. */
export function isPrometheusDuration(value: string): boolean {
  const match = PROMETHEUS_DURATION.exec(value);
  return (
    match !== null && value !== '' && match.slice(1).some((part) => part !== undefined && Number(part) > 0)
  );
}

/**
 * Resolves `monitoring` for a service served by `runtime`. The metrics port itself needs no check
 * here: every service has one (`metricsPort`, 9090 by default), which the Service names `metrics`.
 */
export function resolveMonitoring(
  check: PropsChecker,
  props: MonitoringProps,
  runtime: ServingRuntime,
): MonitoringSpec {
  check.record('monitoring', props);
  const d = INFERENCE_SERVICE_DEFAULTS;
  if (runtime !== 'modelfab') {
    check.fail(
      'monitoring',
      `monitoring is not supported with the ${show(runtime)} runtime: its rules and dashboard name the modelfab server's metrics, which ${runtime} does not export; remove monitoring (and scrape ${runtime}'s own metrics port with your own ServiceMonitor), or serve from a modelfab image`,
    );
  }
  const prometheusLabels = check.labels('monitoring.prometheusLabels', props.prometheusLabels ?? {});
  const scrapeInterval = duration(
    check,
    'monitoring.scrapeInterval',
    props.scrapeInterval ?? d.scrapeInterval,
    '30s',
  );
  const alerts = props.alerts === undefined ? {} : check.record('monitoring.alerts', props.alerts);
  const alertFor = duration(check, 'monitoring.alerts.for', alerts.for ?? d.alertFor, '5m');
  const errorRatio = alerts.errorRatio ?? d.errorRatio;
  if (typeof errorRatio !== 'number' || !(errorRatio > 0 && errorRatio < 1)) {
    check.fail(
      'monitoring.alerts.errorRatio',
      `monitoring.alerts.errorRatio must be a fraction between 0 and 1 (both exclusive), got ${show(errorRatio)}; use e.g. 0.01 for 1% of requests failing`,
    );
  }
  const runbookBaseUrl = props.runbookBaseUrl;
  if (runbookBaseUrl !== undefined && (typeof runbookBaseUrl !== 'string' || !isHttpUrl(runbookBaseUrl))) {
    check.fail(
      'monitoring.runbookBaseUrl',
      `monitoring.runbookBaseUrl ${show(runbookBaseUrl)} is not an http(s) url; use e.g. 'https://runbooks.example.com/modelfab', or remove it to keep the runbook text in the alerts`,
    );
  }
  return {
    prometheusLabels,
    scrapeInterval,
    ...resolveDashboard(check, props.dashboard ?? d.dashboard),
    ...(runbookBaseUrl !== undefined ? { runbookBaseUrl: runbookBaseUrl.replace(/\/+$/, '') } : {}),
    alerts: { for: alertFor, errorRatio },
  };
}

function resolveDashboard(check: PropsChecker, value: unknown): Pick<MonitoringSpec, 'dashboard'> {
  if (value === false) return {};
  if (value === true) return { dashboard: { labels: {} } };
  if (!isPlainObject(value)) {
    check.fail(
      'monitoring.dashboard',
      `monitoring.dashboard must be true, false or { folder, labels }, got ${show(value)}`,
    );
  }
  const folder = value.folder;
  if (folder !== undefined && (typeof folder !== 'string' || folder.trim() === '')) {
    check.fail(
      'monitoring.dashboard.folder',
      `monitoring.dashboard.folder must be a non-empty folder name, got ${show(folder)}; use e.g. 'inference', or remove it for the sidecar's default folder`,
    );
  }
  const labels = check.labels('monitoring.dashboard.labels', value.labels ?? {});
  if ('grafana_dashboard' in labels) {
    check.fail(
      'monitoring.dashboard.labels',
      `monitoring.dashboard.labels sets 'grafana_dashboard', which modelfab sets to '1' for the grafana sidecar; remove it`,
    );
  }
  return { dashboard: { ...(folder !== undefined ? { folder } : {}), labels } };
}

function duration(check: PropsChecker, prop: string, value: unknown, example: string): string {
  if (typeof value !== 'string' || !isPrometheusDuration(value)) {
    check.fail(
      prop,
      `${prop} ${show(value)} is not a prometheus duration; use a whole number with a unit (ms, s, m, h, d, w, y), largest first, such as '${example}' or '1m30s'`,
    );
  }
  return value;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.host !== '';
  } catch {
    return false;
  }
}
