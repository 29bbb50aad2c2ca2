/**
 * `canary`: a candidate beside the stable service, in a Deployment of its own, gated on its own
 * (here the same model in a new server image, so its gate reads the run's shared cache), and a
 * Gateway API HTTPRoute splitting the requests by weight; bad input refused naming the prop, the
 * value and the fix.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as cdk8s from '../lib/cdk8s';
import { type InferenceServiceProps } from '../lib/core';
import { checkPolicy, type KubeObject } from '../lib/render';
import { validateAgainstSchema } from './support/kube-schema';
import { SHARED_IRIS_GATE, sharedGateCache } from './support/shared-gate';

const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-canary-'));
beforeAll(() => vi.stubEnv('MODELFAB_CACHE_DIR', sharedGateCache()));
afterAll(() => {
  vi.unstubAllEnvs();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const CANARY: InferenceServiceProps = {
  model: IRIS,
  image: 'ghcr.io/acme/iris:1.0.0',
  gate: SHARED_IRIS_GATE,
  slo: { targetRps: 2000 },
  canary: {
    image: 'ghcr.io/acme/iris:1.1.0',
    weight: 10,
    gate: SHARED_IRIS_GATE,
    gateway: { name: 'public', namespace: 'gateway', sectionName: 'https' },
    hostnames: ['iris.example.com'],
  },
};

function synth(props: InferenceServiceProps = CANARY) {
  const outdir = fs.mkdtempSync(path.join(scratch, 'out-'));
  const app = new App({ outdir });
  const chart = new Chart(app, 'prod', { namespace: 'ml' });
  const service = new cdk8s.InferenceService(chart, 'iris', props);
  app.synth();
  const objects = chart.toJson() as KubeObject[];
  return {
    outdir,
    service,
    objects,
    find: (kind: string, name: string) =>
      objects.find((o) => o.kind === kind && o.metadata.name === name) as any,
  };
}

describe('canary', () => {
  let run: ReturnType<typeof synth>;
  beforeAll(() => {
    run = synth();
  }, 60_000);

  it('renders the candidate as a service of its own and the route that splits the requests, each valid', async () => {
    expect(run.objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ServiceAccount/iris',
      'Service/iris',
      'Deployment/iris',
      'HorizontalPodAutoscaler/iris',
      'PodDisruptionBudget/iris',
      'NetworkPolicy/iris',
      'HTTPRoute/iris',
      'ServiceAccount/iris-canary',
      'Service/iris-canary',
      'Deployment/iris-canary',
      'HorizontalPodAutoscaler/iris-canary',
      'PodDisruptionBudget/iris-canary',
      'NetworkPolicy/iris-canary',
    ]);
    for (const object of run.objects) await validateAgainstSchema(object);
    expect(checkPolicy(run.objects).violations).toEqual([]);
  });

  it('splits the requests by weight at the Gateway', () => {
    expect(run.find('HTTPRoute', 'iris').spec).toEqual({
      parentRefs: [
        {
          group: 'gateway.networking.k8s.io',
          kind: 'Gateway',
          name: 'public',
          namespace: 'gateway',
          sectionName: 'https',
        },
      ],
      hostnames: ['iris.example.com'],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [
            { kind: 'Service', name: 'iris', port: 8080, weight: 90 },
            { kind: 'Service', name: 'iris-canary', port: 8080, weight: 10 },
          ],
        },
      ],
    });
  });

  it('keeps each side its own image, digest, labels and gate, and sizes the candidate for its share', () => {
    const stable = run.find('Deployment', 'iris');
    const candidate = run.find('Deployment', 'iris-canary');
    expect(stable.spec.template.spec.containers[0].image).toBe('ghcr.io/acme/iris:1.0.0');
    expect(candidate.spec.template.spec.containers[0].image).toBe('ghcr.io/acme/iris:1.1.0');
    expect(stable.metadata.labels['modelfab.dev/track']).toBe('stable');
    expect(candidate.metadata.labels['modelfab.dev/track']).toBe('canary');
    expect(candidate.spec.selector.matchLabels['app.kubernetes.io/instance']).toBe('iris-canary');
    expect(candidate.metadata.annotations['modelfab.dev/gate']).toBe('passed');
    expect(candidate.metadata.annotations['modelfab.dev/model-sha256']).toBe(
      stable.metadata.annotations['modelfab.dev/model-sha256'],
    );
    expect(
      fs
        .readdirSync(run.outdir)
        .filter((f) => f.endsWith('.gate.json'))
        .sort(),
    ).toEqual(['prod-iris-canary.gate.json', 'prod-iris.gate.json']);
    // 10% of 2,000 rps: the candidate's own plan from its measured capacity.
    const report = JSON.parse(fs.readFileSync(path.join(run.outdir, 'prod-iris-canary.gate.json'), 'utf8'));
    expect(report.capacity.targetRps).toBe(200);
  });

  it('fails synth when the candidate misses its own gate, saying it is the canary', () => {
    expect(() =>
      synth({
        ...CANARY,
        canary: { ...CANARY.canary!, gate: { latencyP99Ms: 0.0001, budgetSeconds: 3, maxBatchSize: 1 } },
      }),
    ).toThrow(/canary: gate failed: latency p99 .* > latencyP99Ms 0\.0001/);
  }, 60_000);

  it.each<[string, Partial<InferenceServiceProps['canary']> & object, string]>([
    [
      'a weight above 100',
      { weight: 120 },
      'canary.weight must be an integer from 0 to 100, got 120; the percent of requests the candidate takes',
    ],
    ['a negative weight', { weight: -1 }, 'canary.weight must be an integer from 0 to 100, got -1'],
    [
      'no gate when the stable service has one',
      { gate: undefined },
      'canary.gate is missing, but the stable service has a gate: the candidate takes real traffic, so it must pass its own gate',
    ],
    ['no candidate', { image: undefined }, 'canary {"weight":10,"gate":'],
    [
      'a Gateway that is not a name',
      { gateway: { name: 'Public Gateway' } },
      `canary.gateway.name "Public Gateway" is not a Gateway's name; use its metadata.name, e.g. 'public'`,
    ],
    [
      'an unknown key',
      { wieght: 10 } as never,
      'canary.wieght is not a prop of InferenceService; did you mean canary.weight?',
    ],
  ])('refuses %s', (_case, change, message) => {
    expect(() => synth({ ...CANARY, canary: { ...CANARY.canary!, ...change } })).toThrow(message);
  });

  it("answers to the stable service's model name with a candidate file named otherwise, as the route needs", () => {
    const v2 = path.join(scratch, 'iris-v2.onnx');
    fs.copyFileSync(IRIS, v2);
    const { find } = synth({ ...CANARY, canary: { ...CANARY.canary!, model: v2 } });
    const env = (name: string) =>
      find('Deployment', name).spec.template.spec.containers[0].env.find(
        (e: { name: string }) => e.name === 'MODELFAB_MODEL_NAME',
      )?.value;
    expect([env('iris'), env('iris-canary')]).toEqual(['iris', 'iris']);
  });

  it("refuses a Triton candidate whose model name is not the stable service's, naming both", () => {
    const v2 = path.join(scratch, 'iris-v2.onnx');
    fs.copyFileSync(IRIS, v2);
    const app = new App({ outdir: fs.mkdtempSync(path.join(scratch, 'out-')) });
    const chart = new Chart(app, 'prod', { namespace: 'ml' });
    const candidate = new cdk8s.ModelImage(chart, 'v2', {
      model: v2,
      repository: 'ghcr.io/acme/iris',
      runtime: 'triton',
      triton: { kind: 'cpu' },
    });
    expect(
      () =>
        new cdk8s.InferenceService(chart, 'iris', {
          ...CANARY,
          canary: { ...CANARY.canary!, image: candidate, gate: undefined },
          gate: undefined,
          slo: undefined,
        }),
    ).toThrow(
      `[prod/iris] canary.image serves model "iris-v2" with Triton, whose model name is baked into the image, but the stable service serves "iris": the route sends clients calling /v2/models/iris to both; build the candidate's ModelImage with name: "iris"`,
    );
  });

  it("names the candidate's load as its weight of the SLO when it cannot carry it", () => {
    expect(() =>
      synth({ ...CANARY, slo: { targetRps: 100_000_000 }, autoscaling: { maxReplicas: 3 } }),
    ).toThrow(
      /\[prod\/iris\] canary: capacity plan failed: the canary's 10% of slo\.targetRps 100000000, 10,000,000 rps, needs \d+ replicas at \d+ rps each \(measured\) and 70% target utilization, above autoscaling\.maxReplicas 3/,
    );
  });

  it('refuses an ingress beside the canary, which would bypass the split', () => {
    expect(() => synth({ ...CANARY, ingress: { hosts: ['iris.example.com'] } })).toThrow(
      '[prod/iris] canary splits the requests at a Gateway (an HTTPRoute), but the service also has an ingress, which would send every request to the stable pods; remove ingress (the route serves the hostnames) or the canary',
    );
  });
});
