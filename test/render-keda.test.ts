/**
 * `autoscaling.kind: 'keda'`: a KEDA ScaledObject on the request rate instead of an HPA, whose
 * threshold follows the capacity the gate measured, whose floor is the capacity plan's, and which
 * scales to zero when asked; each bad input refused naming the prop, the value and the fix.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVER_METRIC_NAMES } from '../lib/core';
import { loadPromQL, parsePromQL } from './support/promql';
import { type InferenceServiceProps, resolveInferenceService } from '../lib/core';
import { buildGateReport } from '../lib/gate/build-report';
import { type GateOutcome } from '../lib/gate';
import { inspectModel } from '../lib/model';
import { checkPolicy, renderInferenceService, serviceProblems } from '../lib/render';
import { gateMeasurements } from './support/gate-fixtures';
import { validateAgainstSchema } from './support/kube-schema';

const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');
const MODEL = inspectModel(IRIS);
const KEDA: InferenceServiceProps = {
  model: IRIS,
  image: 'ghcr.io/acme/iris:1.0.0',
  namespace: 'ml',
  gate: { latencyP99Ms: 25 },
  slo: { targetRps: 2000, targetUtilization: 0.7 },
  autoscaling: {
    kind: 'keda',
    prometheusAddress: 'http://prometheus-operated.monitoring.svc:9090',
    maxReplicas: 20,
  },
};

const resolve = (props: InferenceServiceProps) =>
  resolveInferenceService(props, { constructPath: 'prod/iris', id: 'iris' });

/** A passed gate whose served capacity at the bound was `rps`. */
function gate(rps: number, props: InferenceServiceProps = KEDA): GateOutcome {
  const spec = resolve(props);
  const report = buildGateReport({
    model: { name: 'iris', path: IRIS, sha256: MODEL.sha256, sizeBytes: MODEL.sizeBytes },
    gate: spec.gate!,
    ...(spec.slo ? { slo: spec.slo } : {}),
    measurements: gateMeasurements({ throughput: { rps }, coldStart: { processReadyMs: 840 } }),
    cached: false,
  });
  return { status: 'passed', report };
}

const scaledObject = (props: InferenceServiceProps, outcome?: GateOutcome) =>
  renderInferenceService(resolve(props), MODEL, outcome).find((o) => o.kind === 'ScaledObject') as any;

describe("autoscaling.kind: 'keda'", () => {
  it('renders a ScaledObject instead of an HPA, valid, within the policy', async () => {
    const objects = renderInferenceService(resolve(KEDA), MODEL, gate(413));
    expect(objects.map((o) => o.kind)).not.toContain('HorizontalPodAutoscaler');
    const object = objects.find((o) => o.kind === 'ScaledObject')!;
    await validateAgainstSchema(object);
    expect(checkPolicy(objects).violations).toEqual([]);
    expect(object.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'iris' },
      maxReplicaCount: 20,
      pollingInterval: 15,
      triggers: [
        {
          type: 'prometheus',
          metadata: {
            serverAddress: 'http://prometheus-operated.monitoring.svc:9090',
            query: 'sum(rate(modelfab_requests_total{namespace="ml",job="iris",model="iris"}[1m]))',
          },
        },
      ],
    });
    expect((object as any).spec.idleReplicaCount).toBeUndefined();
  });

  it.each([
    // threshold = measured rps × 0.7; floor = ⌈2,000 ÷ threshold⌉, at least 2.
    [413, '289.1', 7],
    [826, '578.2', 4],
    [2000, '1400', 2],
  ])('follows the measured capacity: %d rps a replica → threshold %s, floor %d', (rps, threshold, floor) => {
    const object = scaledObject(KEDA, gate(rps));
    expect(object.spec.triggers[0].metadata.threshold).toBe(threshold);
    expect(object.metadata.annotations['modelfab.dev/rps-per-replica']).toBe(threshold);
    expect(object.spec.minReplicaCount).toBe(floor);
  });

  it('moves the KEDA threshold and the running-hot alert together when the measured capacity changes', () => {
    const props: InferenceServiceProps = { ...KEDA, monitoring: {} };
    for (const [rps, planned] of [
      [413, '289.1'],
      [826, '578.2'],
    ] as const) {
      const objects = renderInferenceService(resolve(props), MODEL, gate(rps, props));
      const threshold = (objects.find((o) => o.kind === 'ScaledObject') as any).spec.triggers[0].metadata
        .threshold;
      const rules = (objects.find((o) => o.kind === 'PrometheusRule') as any).spec.groups.flatMap(
        (g: any) => g.rules,
      );
      const hot = rules.find((r: any) => r.alert === 'ModelfabReplicaRunningHot');
      expect(threshold).toBe(planned);
      expect(hot.expr).toMatch(new RegExp(`> ${planned.replace('.', '\\.')}$`));
    }
  });

  it("queries the server's request counter with PromQL that Prometheus' own grammar parses", async () => {
    await loadPromQL();
    const { errors, metrics } = parsePromQL(scaledObject(KEDA, gate(413)).spec.triggers[0].metadata.query);
    expect(errors).toEqual([]);
    expect(metrics).toEqual([SERVER_METRIC_NAMES.requests]);
  });

  it('scales to zero when asked, waking on the activation rate, with the cold start the gate measured', () => {
    const props: InferenceServiceProps = {
      ...KEDA,
      autoscaling: { ...KEDA.autoscaling, scaleToZero: true, activationRps: 0.5, cooldownSeconds: 600 },
    };
    const object = scaledObject(props, gate(413, props));
    expect(object.spec).toMatchObject({ idleReplicaCount: 0, cooldownPeriod: 600 });
    expect(object.spec.triggers[0].metadata.activationThreshold).toBe('0.5');
    expect(object.metadata.annotations['modelfab.dev/cold-start-ms']).toBe('840');
  });

  it('takes a set rate a replica instead of the measured one', () => {
    const props = { ...KEDA, autoscaling: { ...KEDA.autoscaling, targetRpsPerReplica: 150 } };
    expect(scaledObject(props, gate(413, props)).spec.triggers[0].metadata.threshold).toBe('150');
  });

  it('fails synth when the gate was skipped and no rate is set: no threshold from a guess', () => {
    const spec = resolve(KEDA);
    const skipped: GateOutcome = { status: 'skipped', reason: 'MODELFAB_GATE=skip' };
    expect(serviceProblems(spec, renderInferenceService(spec, MODEL, skipped), skipped)).toContain(
      "autoscaling.kind 'keda' scales on the requests one replica takes, but the gate was skipped (MODELFAB_GATE=skip), so there is no measured capacity to set the threshold; set autoscaling.targetRpsPerReplica, or let the gate measure",
    );
  });

  it.each<[string, InferenceServiceProps, string]>([
    [
      'fixed replicas',
      { ...KEDA, replicas: 3 },
      'replicas 3 and autoscaling are both set; the autoscaler owns the replica count, so set one of them',
    ],
    [
      'no Prometheus',
      { ...KEDA, autoscaling: { kind: 'keda' } },
      "autoscaling.prometheusAddress undefined must be the URL of the Prometheus KEDA queries, e.g. 'http://prometheus-operated.monitoring.svc:9090'",
    ],
    [
      'a CPU target',
      { ...KEDA, autoscaling: { ...KEDA.autoscaling, cpuUtilization: 70 } },
      "autoscaling.cpuUtilization 70 is an HPA target, but KEDA scales on the request rate and owns the HPA; remove it, or use autoscaling.kind 'hpa'",
    ],
    [
      'neither a gate nor a rate',
      { ...KEDA, gate: undefined, slo: undefined },
      "autoscaling.kind 'keda' scales on the requests one replica takes, which the gate measures, but there is no gate; add gate",
    ],
    [
      'an activation rate without scale to zero',
      { ...KEDA, autoscaling: { ...KEDA.autoscaling, activationRps: 1 } },
      'autoscaling.activationRps 1 applies to scaling to zero; set autoscaling.scaleToZero: true, or remove it',
    ],
    [
      'a KEDA setting on an HPA',
      { ...KEDA, autoscaling: { scaleToZero: true } },
      "autoscaling.scaleToZero true is a KEDA setting; set autoscaling.kind: 'keda', or remove it",
    ],
    [
      'an unknown scaler',
      { ...KEDA, autoscaling: { kind: 'vpa' as never } },
      "autoscaling.kind \"vpa\" is not a scaler; use 'hpa' (CPU and memory) or 'keda' (the request rate)",
    ],
    [
      'a negative rate',
      { ...KEDA, autoscaling: { ...KEDA.autoscaling, targetRpsPerReplica: -5 } },
      'autoscaling.targetRpsPerReplica must be a number greater than 0, got -5; requests per second one replica takes',
    ],
  ])('refuses %s', (_case, props, message) => {
    expect(() => resolve(props)).toThrow(`[prod/iris] ${message}`);
  });
});
