/**
 * The monitoring objects of an InferenceService: they validate against the Prometheus operator's and
 * Kubernetes' schemas, pass the policy, every expression parses with Prometheus' own parser and names
 * only metrics a running server exports, the thresholds follow the gate's figures, and bad props are
 * refused with the prop, the value and the fix.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPromQL, parsePromQL } from './support/promql';
import {
  type InferenceServiceProps,
  type InferenceServiceSpec,
  ModelfabValidationError,
  resolveInferenceService,
} from '../lib/core';
import { type GateOutcome, type GateReport } from '../lib/gate';
import { inspectModel, type ModelInfo } from '../lib/model';
import {
  checkPolicy,
  dashboardPanels,
  gatedFigures,
  type KubeObject,
  monitoringAlerts,
  renderInferenceService,
} from '../lib/render';
import { type InferenceServer } from '../lib/server';
import { type DeepPartial, gateMeasurements, IRIS_DIR } from './support/gate-fixtures';
import { validateAgainstSchema } from './support/kube-schema';
import { startLocalServer } from './support/local-server';

beforeAll(loadPromQL);

const IRIS = path.join(IRIS_DIR, 'iris.onnx');
const MODEL: ModelInfo = inspectModel(IRIS);
const BASE = {
  model: IRIS,
  image: 'ghcr.io/acme/iris:1.0.0',
  name: 'iris',
  namespace: 'ml',
  gate: { latencyP99Ms: 25 },
  monitoring: { prometheusLabels: { release: 'kube-prometheus-stack' } },
} satisfies InferenceServiceProps;

function resolve(props: Partial<InferenceServiceProps> = {}): InferenceServiceSpec {
  return resolveInferenceService(
    { ...BASE, ...props },
    {
      constructPath: 'test/iris',
      id: 'iris',
    },
  );
}

/** A passed gate's outcome for `spec`, with the measurements and capacity given. */
function passedGate(
  spec: InferenceServiceSpec,
  measurements: DeepPartial<GateReport['measurements']> = {},
  capacity?: GateReport['capacity'],
): GateOutcome {
  const report: GateReport = {
    schemaVersion: 1,
    model: { name: 'iris', path: IRIS, sha256: MODEL.sha256, sizeBytes: MODEL.sizeBytes },
    gate: spec.gate!,
    ...(spec.slo ? { slo: spec.slo } : {}),
    measurements: gateMeasurements(measurements),
    verdicts: [],
    grades: { latency: 'excellent', throughput: 'pass' },
    ...(capacity ? { capacity } : {}),
    passed: true,
    cached: false,
  };
  return { status: 'passed', report };
}

function render(spec: InferenceServiceSpec, gate?: GateOutcome): KubeObject[] {
  return renderInferenceService(spec, MODEL, gate);
}

const find = (objects: readonly KubeObject[], kind: string) => objects.find((o) => o.kind === kind) as any;
const rulesOf = (objects: readonly KubeObject[]) =>
  find(objects, 'PrometheusRule').spec.groups[0].rules as Array<{
    alert: string;
    expr: string;
    for: string;
    annotations: Record<string, string>;
  }>;
const rule = (objects: readonly KubeObject[], alert: string) =>
  rulesOf(objects).find((r) => r.alert === alert);

/** Every expression of the rule and the dashboard's panels. */
function expressions(objects: readonly KubeObject[]): string[] {
  const configMap = find(objects, 'ConfigMap');
  const dashboard = JSON.parse(Object.values(configMap.data as Record<string, string>)[0]);
  const targets = (dashboard.panels as Array<{ targets: Array<{ expr: string }> }>).flatMap((p) =>
    p.targets.map((t) => t.expr),
  );
  return [...rulesOf(objects).map((r) => r.expr), ...targets];
}

describe('monitoring: the objects', () => {
  const spec = resolve({ slo: { targetRps: 1000 } });
  const gate = passedGate(
    spec,
    {},
    { targetRps: 1000, targetUtilization: 0.7, perReplicaRps: 413, replicas: 4 },
  );
  const objects = render(spec, gate);

  it('adds a ServiceMonitor, a PrometheusRule and a dashboard ConfigMap after the other objects, valid and within policy', async () => {
    expect(objects.slice(-3).map((o) => o.kind)).toEqual(['ServiceMonitor', 'PrometheusRule', 'ConfigMap']);
    for (const object of objects) await validateAgainstSchema(object);
    expect(checkPolicy(objects).violations).toEqual([]);
  });

  it('the ServiceMonitor selects the Service by its labels and scrapes the port named metrics', () => {
    const monitor = find(objects, 'ServiceMonitor');
    const service = find(objects, 'Service');
    for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels as Record<string, string>)) {
      expect(service.metadata.labels[key]).toBe(value);
    }
    expect(service.spec.ports.map((p: { name: string }) => p.name)).toContain('metrics');
    expect(monitor.spec.endpoints).toEqual([
      { port: 'metrics', path: '/metrics', scheme: 'http', interval: '30s' },
    ]);
    expect(monitor.metadata.labels.release).toBe('kube-prometheus-stack');
    expect(find(objects, 'PrometheusRule').metadata.labels.release).toBe('kube-prometheus-stack');
  });

  it('the dashboard ConfigMap carries the sidecar label and a JSON model with the panels the issue lists', () => {
    const configMap = find(objects, 'ConfigMap');
    expect(configMap.metadata.name).toBe('iris-dashboard');
    expect(configMap.metadata.labels.grafana_dashboard).toBe('1');
    const titles = dashboardPanels(spec, gatedFigures(spec, gate)).map((p) => p.title);
    expect(titles).toEqual([
      'Request rate by status',
      'Latency percentiles against the gated bound (25 ms)',
      'Per-replica request rate against the measured capacity',
      'Batch sizes (rows per batch run)',
      'Queue depth, bodies arriving and requests in flight',
      'Replicas serving against the plan',
    ]);
    const dashboard = JSON.parse(configMap.data['modelfab-ml-iris.json']);
    expect(dashboard.panels).toHaveLength(titles.length);
    expect(dashboard.panels[5].targets.map((t: { expr: string }) => t.expr)).toContain('vector(4)');
  });

  it('every alert has a summary, a description naming its figure and a runbook text', () => {
    const rules = rulesOf(objects);
    expect(rules.map((r) => r.alert)).toEqual([
      'ModelfabLatencyP99AboveGatedBound',
      'ModelfabErrorRatioHigh',
      'ModelfabQueueFullRefusals',
      'ModelfabReplicaRunningHot',
      'ModelfabModelDigestMismatch',
      'ModelfabServerRestarts',
    ]);
    for (const r of rules) {
      expect(r.for).toBe('5m');
      expect(r.annotations.summary).not.toBe('');
      expect(r.annotations.description).not.toBe('');
      expect(r.annotations.runbook).not.toBe('');
    }
    const latency = rule(objects, 'ModelfabLatencyP99AboveGatedBound')!;
    expect(latency.annotations.description).toContain('latencyP99Ms 25 ms');
    expect(latency.annotations.description).toContain('p99 19.4 ms');
    expect(rule(objects, 'ModelfabReplicaRunningHot')!.annotations.description).toContain(
      'capacity 413 rps at the 25 ms bound × target utilization 0.7',
    );
    expect(rule(objects, 'ModelfabModelDigestMismatch')!.expr).toContain(MODEL.sha256);
    expect(rule(objects, 'ModelfabErrorRatioHigh')!.annotations.description).toContain('errorRatio 0.01');
  });

  it('the latency alert counts the requests over the bucket the Deployment puts at the gated bound', () => {
    const env = find(objects, 'Deployment').spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'MODELFAB_LATENCY_BOUND_MS', value: '25' });
    expect(rule(objects, 'ModelfabLatencyP99AboveGatedBound')!.expr).toContain('le="0.025"');
  });

  it('every expression of the rule and the dashboard parses with the Prometheus parser', () => {
    const all = expressions(objects);
    expect(all.length).toBeGreaterThan(15);
    for (const expr of all) expect(parsePromQL(expr).errors, expr).toEqual([]);
  });

  it('runbookBaseUrl adds a runbook_url per alert; the dashboard folder an annotation; dashboard: false leaves it out', () => {
    const withUrl = render(
      resolve({
        monitoring: {
          runbookBaseUrl: 'https://runbooks.example.com/modelfab/',
          dashboard: { folder: 'inference', labels: { team: 'ml' } },
        },
      }),
      gate,
    );
    expect(rule(withUrl, 'ModelfabServerRestarts')!.annotations.runbook_url).toBe(
      'https://runbooks.example.com/modelfab/ModelfabServerRestarts',
    );
    const configMap = find(withUrl, 'ConfigMap');
    expect(configMap.metadata.annotations).toEqual({ grafana_folder: 'inference' });
    expect(configMap.metadata.labels.team).toBe('ml');
    const without = render(resolve({ monitoring: { dashboard: false } }), gate);
    expect(without.map((o) => o.kind)).not.toContain('ConfigMap');
  });
});

describe('monitoring: thresholds from the gate', () => {
  const spec = resolve();

  it("the running-hot threshold follows the gate's measured capacity × target utilization", () => {
    const hot = (rps: number) =>
      rule(render(spec, passedGate(spec, { throughput: { rps } })), 'ModelfabReplicaRunningHot')!;
    expect(hot(200).expr).toMatch(/ > 140$/);
    expect(hot(200).annotations.description).toContain('capacity 200 rps');
    expect(hot(560).expr).toMatch(/ > 392$/);
    // A capacity plan's figures (an SLO) take precedence over the best setting's rate.
    const planned = rule(
      render(
        spec,
        passedGate(
          spec,
          { throughput: { rps: 560 } },
          { targetRps: 900, targetUtilization: 0.5, perReplicaRps: 300, replicas: 6 },
        ),
      ),
      'ModelfabReplicaRunningHot',
    )!;
    expect(planned.expr).toMatch(/ > 150$/);
  });

  it('the latency bound is the gate bound when latencyP99Ms is not set', () => {
    const noP99 = resolve({ gate: { minThroughputRps: 10 } });
    const objects = render(noP99, passedGate(noP99));
    expect(rule(objects, 'ModelfabLatencyP99AboveGatedBound')!.expr).toContain('le="0.1"');
    expect(rule(objects, 'ModelfabLatencyP99AboveGatedBound')!.annotations.description).toContain(
      "the gate's default bound 100 ms",
    );
  });

  it('without a gate report the alerts that need a measured figure are left out, the others stay', () => {
    const noGate = resolve({ gate: undefined });
    for (const gate of [undefined, { status: 'skipped', reason: 'MODELFAB_GATE=skip' } as const]) {
      const objects = render(noGate, gate);
      expect(rulesOf(objects).map((r) => r.alert)).toEqual([
        'ModelfabErrorRatioHigh',
        'ModelfabQueueFullRefusals',
        'ModelfabModelDigestMismatch',
        'ModelfabServerRestarts',
      ]);
      const env = find(objects, 'Deployment').spec.template.spec.containers[0].env.map(
        (e: { name: string }) => e.name,
      );
      expect(env).not.toContain('MODELFAB_LATENCY_BOUND_MS');
      for (const expr of expressions(objects)) expect(parsePromQL(expr).errors, expr).toEqual([]);
    }
  });

  it('without monitoring, nothing changes: no monitoring objects and no bound in the environment', () => {
    const plain = resolve({ monitoring: undefined });
    const objects = render(plain, passedGate(plain));
    expect(objects.map((o) => o.kind)).not.toContain('PrometheusRule');
    const env = find(objects, 'Deployment').spec.template.spec.containers[0].env.map(
      (e: { name: string }) => e.name,
    );
    expect(env).not.toContain('MODELFAB_LATENCY_BOUND_MS');
  });
});

describe('monitoring: every metric named is one a running server exports', () => {
  let server: InferenceServer;
  const lines: string[] = [];
  beforeAll(async () => {
    server = await startLocalServer({ modelPath: IRIS, modelName: 'iris', latencyBoundMs: 25 }, lines);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('scrapes /metrics and finds every metric of every rule and panel (histograms by their series), and the bound bucket', async () => {
    const spec = resolve({ slo: { targetRps: 1000 } });
    const gate = passedGate(
      spec,
      {},
      { targetRps: 1000, targetUtilization: 0.7, perReplicaRps: 413, replicas: 4 },
    );
    // One answered request, so the request series exist beside the declarations.
    const answer = await fetch(`${server.url}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
      }),
    });
    expect(answer.status).toBe(200);
    const scrape = await (await fetch(server.metricsUrl)).text();
    const types = new Map<string, string>();
    for (const line of scrape.split('\n')) {
      const match = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (match) types.set(match[1], match[2]);
    }
    const exported = (name: string): boolean => {
      if (types.has(name)) return types.get(name) !== 'histogram';
      const histogram = /^(.+)_(bucket|count|sum)$/.exec(name);
      return histogram !== null && types.get(histogram[1]) === 'histogram';
    };
    const named = new Set(
      [
        ...expressions(render(spec, gate)),
        ...monitoringAlerts(spec, spec.monitoring!, MODEL, undefined).map((a) => a.expr),
      ].flatMap((expr) => parsePromQL(expr).metrics),
    );
    expect(named.size).toBeGreaterThan(5);
    for (const name of named) expect(exported(name), `${name} in the scrape`).toBe(true);
    // The bucket the latency alert reads, and the digest the digest alert compares.
    expect(scrape).toContain('modelfab_request_duration_seconds_bucket{le="0.025",model="iris"}');
    expect(scrape).toContain(`modelfab_model_info{model="iris",version="1",sha256="${MODEL.sha256}"} 1`);
  });
});

describe('monitoring: bad props name the prop, the value and the fix', () => {
  const cases: Array<{ name: string; monitoring: unknown; prop: string; says: RegExp }> = [
    {
      name: 'a bad prometheus label key',
      monitoring: { prometheusLabels: { 'bad key!': 'x' } },
      prop: 'monitoring.prometheusLabels',
      says: /invalid label key "bad key!"; use/,
    },
    {
      name: 'a bad prometheus label value',
      monitoring: { prometheusLabels: { release: 'not ok!' } },
      prop: 'monitoring.prometheusLabels',
      says: /invalid label value "not ok!"; use/,
    },
    {
      name: 'a scrape interval without a unit',
      monitoring: { scrapeInterval: '30' },
      prop: 'monitoring.scrapeInterval',
      says: /monitoring.scrapeInterval "30" is not a prometheus duration; use .* such as '30s'/,
    },
    {
      name: 'a zero scrape interval',
      monitoring: { scrapeInterval: '0s' },
      prop: 'monitoring.scrapeInterval',
      says: /"0s" is not a prometheus duration/,
    },
    {
      name: 'a bad alert duration',
      monitoring: { alerts: { for: '5 minutes' } },
      prop: 'monitoring.alerts.for',
      says: /monitoring.alerts.for "5 minutes" is not a prometheus duration; use .* '5m'/,
    },
    {
      name: 'an error ratio above 1',
      monitoring: { alerts: { errorRatio: 5 } },
      prop: 'monitoring.alerts.errorRatio',
      says: /between 0 and 1 .*got 5; use e.g. 0.01/,
    },
    {
      name: 'a dashboard that is neither a flag nor an object',
      monitoring: { dashboard: 'yes' },
      prop: 'monitoring.dashboard',
      says: /must be true, false or \{ folder, labels \}, got "yes"/,
    },
    {
      name: 'a dashboard label modelfab sets',
      monitoring: { dashboard: { labels: { grafana_dashboard: '0' } } },
      prop: 'monitoring.dashboard.labels',
      says: /sets 'grafana_dashboard'.*; remove it/,
    },
    {
      name: 'an empty dashboard folder',
      monitoring: { dashboard: { folder: ' ' } },
      prop: 'monitoring.dashboard.folder',
      says: /non-empty folder name, got " "; use e.g. 'inference'/,
    },
    {
      name: 'a runbook base that is not an http url',
      monitoring: { runbookBaseUrl: 'runbooks/modelfab' },
      prop: 'monitoring.runbookBaseUrl',
      says: /"runbooks\/modelfab" is not an http\(s\) url; use e.g. 'https:/,
    },
    {
      name: 'a misspelt key',
      monitoring: { scrapeIntervall: '30s' },
      prop: 'monitoring.scrapeIntervall',
      says: /not a prop of InferenceService; did you mean monitoring.scrapeInterval\?/,
    },
    {
      name: 'monitoring that is not an object',
      monitoring: true,
      prop: 'monitoring',
      says: /monitoring must be an object, got true/,
    },
  ];
  it.each(cases)('$name', ({ monitoring, prop, says }) => {
    let error: unknown;
    try {
      resolve({ monitoring: monitoring as InferenceServiceProps['monitoring'] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelfabValidationError);
    expect((error as ModelfabValidationError).prop).toBe(prop);
    expect((error as ModelfabValidationError).detail).toMatch(says);
  });

  it('the triton runtime, whose metrics the rules do not name, is refused with the fix', () => {
    expect(() =>
      resolve({
        model: undefined,
        image: {
          imageRef: 'ghcr.io/acme/iris:0123456789abcdef',
          modelPath: IRIS,
          runtime: 'triton',
          modelName: 'iris',
          modelVersion: '1',
        },
      }),
    ).toThrow(
      /monitoring is not supported with the "triton" runtime: .*; remove monitoring .* or serve from a modelfab image/,
    );
  });
});
