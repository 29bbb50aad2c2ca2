/**
 * The Pulumi InferenceService under `pulumi.runtime.setMocks`: which resources it registers (typed
 * @pulumi/kubernetes classes, parented to the component, through the provider given), what they
 * contain (schema-valid, policy-clean objects), its outputs, and how it fails.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { App, Chart } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as cdk8s from '../lib/cdk8s';
import { type GateReport } from '../lib/gate';
import { InferenceService, type InferenceServiceArgs } from '../lib/pulumi';
import { checkPolicy, type KubeObject } from '../lib/render';
import { validateAgainstSchema } from './support/kube-schema';
import { SHARED_IRIS_GATE, sharedGateCache } from './support/shared-gate';
import { installPulumiMocks, runProgram, valueOf } from './support/pulumi-mocks';

const mocks = installPulumiMocks();
const IRIS_DIR = path.resolve(__dirname, '../examples/iris/model');
const IRIS = path.join(IRIS_DIR, 'iris.onnx');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-pulumi-service-'));
const BASE: InferenceServiceArgs = {
  model: IRIS,
  image: 'ghcr.io/acme/iris:1.0.0',
  namespace: 'ml',
  outdir: path.join(scratch, 'out'),
};
beforeAll(() => vi.stubEnv('MODELFAB_CACHE_DIR', sharedGateCache()));
afterAll(() => {
  vi.unstubAllEnvs();
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** Runs a program that creates one service and returns it with its resolved outputs. */
async function deploy(args: InferenceServiceArgs, opts?: pulumi.ComponentResourceOptions) {
  mocks.reset();
  const run = await runProgram(async () => {
    const service = new InferenceService('iris', args, opts);
    return {
      service,
      url: await valueOf(service.url),
      name: await valueOf(service.name),
      namespace: await valueOf(service.namespace),
      gateStatus: await valueOf(service.gateStatus),
      gateReport: await valueOf(service.gateReport),
      cost: await valueOf(service.cost),
    };
  });
  const kube = mocks.resources.filter((r) => r.type.startsWith('kubernetes:'));
  return { ...run, kube, objects: kube.map((r) => r.inputs as KubeObject) };
}

describe('resources', () => {
  it('registers each object as its typed @pulumi/kubernetes resource, named <name>-<role>, under the component', async () => {
    const { errors, kube } = await deploy({
      ...BASE,
      ingress: { hosts: ['iris.example.com'], tls: { clusterIssuer: 'letsencrypt' } },
    });
    expect(errors).toEqual([]);
    expect(kube.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
      'kubernetes:apps/v1:Deployment iris-deployment',
      'kubernetes:autoscaling/v2:HorizontalPodAutoscaler iris-autoscaler',
      'kubernetes:core/v1:Service iris-service',
      'kubernetes:core/v1:ServiceAccount iris-service-account',
      'kubernetes:networking.k8s.io/v1:Ingress iris-ingress',
      'kubernetes:networking.k8s.io/v1:NetworkPolicy iris-network-policy',
      'kubernetes:policy/v1:PodDisruptionBudget iris-disruption-budget',
    ]);
    const urns = mocks.urns();
    expect(urns).toContain('urn:pulumi:test::modelfab::modelfab:index:InferenceService::iris');
    for (const r of kube) {
      expect(urns).toContain(
        `urn:pulumi:test::modelfab::modelfab:index:InferenceService$${r.type}::${r.name}`,
      );
    }
  });

  it('registers no HPA with fixed replicas and no Ingress without ingress', async () => {
    const { kube } = await deploy({ ...BASE, replicas: 3 });
    expect(kube.map((r) => r.name).sort()).toEqual([
      'iris-deployment',
      'iris-disruption-budget',
      'iris-network-policy',
      'iris-service',
      'iris-service-account',
    ]);
  });

  it('gives every object the provider from the resource options', async () => {
    mocks.reset();
    const provider = new k8s.Provider('prod', { kubeconfig: 'apiVersion: v1\nkind: Config\n' });
    const { kube, errors } = await deploy(BASE, { provider });
    expect(errors).toEqual([]);
    expect(kube).toHaveLength(6);
    for (const r of kube)
      expect(r.provider).toMatch(/^urn:pulumi:test::modelfab::pulumi:providers:kubernetes::prod::/);
  });

  it('registers objects that validate against the Kubernetes OpenAPI schemas and pass the policy check', async () => {
    const { objects } = await deploy({
      ...BASE,
      ingress: { hosts: ['iris.example.com'], className: 'nginx', tls: { secretName: 'iris-tls' } },
      apiKey: { secretName: 'iris-api-key' },
    });
    expect(objects).toHaveLength(7);
    for (const object of objects) await validateAgainstSchema(object);
    expect(checkPolicy(objects)).toEqual({ violations: [], waived: [] });
  });
});

describe('dependencies', () => {
  it('holds back what dependsOn the component until every object is registered, after the gate', async () => {
    mocks.reset();
    const run = await runProgram(() => {
      const service = new InferenceService('iris', {
        ...BASE,
        // Measured now, or read from the run's shared cache; the SLO tests below read it back.
        gate: SHARED_IRIS_GATE,
      });
      new k8s.core.v1.ConfigMap(
        'after',
        { metadata: { name: 'after', namespace: 'ml' } },
        { dependsOn: [service] },
      );
    });
    expect(run.errors).toEqual([]);
    const order = mocks.resources.map((r) => r.name);
    for (const child of ['iris-service', 'iris-deployment', 'iris-autoscaler', 'iris-network-policy']) {
      expect(order.indexOf('after')).toBeGreaterThan(order.indexOf(child));
    }
  }, 60_000);
});

describe('inputs', () => {
  it("records the props as the component's inputs, an image that is no Pulumi resource as its reference", async () => {
    const source = {
      imageRef: 'ghcr.io/acme/iris:abc123',
      modelPath: IRIS,
      runtime: 'modelfab' as const,
      modelName: 'iris',
      modelVersion: '1',
    };
    const { errors, objects } = await deploy({ ...BASE, image: source, model: undefined, replicas: 2 });
    expect(errors).toEqual([]);
    const component = mocks.ofType('modelfab:index:InferenceService')[0];
    expect(component.inputs).toMatchObject({
      image: 'ghcr.io/acme/iris:abc123',
      namespace: 'ml',
      replicas: 2,
    });
    const deployment = objects.find((o) => o.kind === 'Deployment') as any;
    expect(deployment.spec.template.spec.containers[0].image).toBe('ghcr.io/acme/iris:abc123');
  });
});

describe('values from other resources', () => {
  it('takes the namespace, image, secret names and hosts as Outputs and deploys their values', async () => {
    const later = <T>(value: T) => pulumi.output(Promise.resolve(value));
    const { errors, objects, result } = await deploy({
      ...BASE,
      namespace: later('team-ml'),
      image: later('ghcr.io/acme/iris:2.0.0'),
      apiKey: { secretName: later('iris-key') },
      ingress: {
        hosts: [later('iris.example.com'), 'iris.internal'],
        tls: { secretName: later('iris-cert'), clusterIssuer: 'letsencrypt' },
      },
    });
    expect(errors).toEqual([]);
    const find = (kind: string) => objects.find((o) => o.kind === kind) as any;
    expect(objects.map((o) => o.metadata.namespace)).toEqual(objects.map(() => 'team-ml'));
    const pod = find('Deployment').spec.template.spec;
    expect(pod.containers[0].image).toBe('ghcr.io/acme/iris:2.0.0');
    expect(pod.volumes.find((v: any) => v.secret)?.secret.secretName).toBe('iris-key');
    const ingress = find('Ingress').spec;
    expect(ingress.rules.map((r: any) => r.host)).toEqual(['iris.example.com', 'iris.internal']);
    expect(ingress.tls).toEqual([{ hosts: ['iris.example.com', 'iris.internal'], secretName: 'iris-cert' }]);
    expect(JSON.stringify(objects)).not.toMatch(/deferred-/);
    expect(result?.url).toBe('http://iris.team-ml.svc.cluster.local:8080');
    for (const object of objects) await validateAgainstSchema(object);
  });

  it('checks a value from another resource once it is known, with the message a plain value gets', async () => {
    const logged = vi.spyOn(pulumi.log, 'error').mockResolvedValue();
    try {
      await deploy({ ...BASE, namespace: pulumi.output(Promise.resolve('Team_ML')) });
      // Pulumi's log.error fails the update, with the message the plain value gets.
      expect(logged).toHaveBeenCalledWith(
        expect.stringMatching(/^\[iris\] namespace "Team_ML" is not a valid namespace \(dns-1123 label/),
        expect.anything(),
      );
    } finally {
      logged.mockRestore();
    }
  });

  it('checks the policy on what a value from another resource gives: an image tagged latest', async () => {
    const logged = vi.spyOn(pulumi.log, 'error').mockResolvedValue();
    try {
      await deploy({ ...BASE, image: pulumi.output(Promise.resolve('ghcr.io/acme/iris:latest')) });
      expect(logged).toHaveBeenCalledWith(
        expect.stringMatching(
          /\[iris\] policy image-tag failed on Deployment\/ml\/iris: .*"ghcr\.io\/acme\/iris:latest"/,
        ),
        expect.anything(),
      );
    } finally {
      logged.mockRestore();
    }
  });
});

describe('outputs', () => {
  it('names the Service and its in-cluster URL', async () => {
    const { result } = await deploy(BASE);
    expect(result).toMatchObject({
      name: 'iris',
      namespace: 'ml',
      url: 'http://iris.ml.svc.cluster.local:8080',
      gateStatus: 'none',
      gateReport: undefined,
    });
  });

  it("takes the namespace the Service landed in when the props name none (the provider's default)", async () => {
    const { result } = await deploy({ model: IRIS, image: 'ghcr.io/acme/iris:1.0.0' });
    expect(result?.url).toBe('http://iris.default.svc.cluster.local:8080');
  });

  it('exposes the gate report and writes the reports to outdir', async () => {
    const outdir = path.join(scratch, 'gate-out');
    const { errors, result } = await deploy({
      ...BASE,
      outdir,
      gate: SHARED_IRIS_GATE,
    });
    expect(errors).toEqual([]);
    expect(result?.gateStatus).toBe('passed');
    const report = result?.gateReport as GateReport;
    expect(report.passed).toBe(true);
    expect(report.model.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(fs.readdirSync(outdir).sort()).toEqual(['iris.gate.json', 'iris.gate.md', 'iris.gate.svg']);
    expect(JSON.parse(fs.readFileSync(path.join(outdir, 'iris.gate.json'), 'utf8')).model.sha256).toBe(
      report.model.sha256,
    );
  }, 60_000);

  it('says skipped, and annotates the Deployment, with MODELFAB_GATE=skip', async () => {
    vi.stubEnv('MODELFAB_GATE', 'skip');
    try {
      const { result, objects } = await deploy({ ...BASE, gate: { latencyP99Ms: 0.001 } });
      expect(result?.gateStatus).toBe('skipped');
      const deployment = objects.find((o) => o.kind === 'Deployment')!;
      expect(deployment.metadata.annotations?.['modelfab.dev/gate']).toBe('skipped');
    } finally {
      vi.stubEnv('MODELFAB_GATE', '');
    }
  });
});

describe('failures', () => {
  /** What cdk8s prints for the same props: the reference the Pulumi message must equal. */
  function cdk8sMessage(args: InferenceServiceArgs): string {
    const app = new App({ outdir: fs.mkdtempSync(path.join(scratch, 'cdk8s-')) });
    const { outdir: _outdir, ...props } = args;
    // A chart named so that the construct path is the Pulumi name's, `iris`: the App's child.
    new cdk8s.InferenceService(new Chart(app, 'prod'), 'iris', props as cdk8s.InferenceServiceProps);
    try {
      app.synth();
    } catch (error) {
      return (error as Error).message.replaceAll('[prod/iris]', '[iris]');
    }
    throw new Error('cdk8s synth did not fail');
  }

  it('a failed gate fails the program with the message cdk8s prints, and registers no Kubernetes object', async () => {
    const args: InferenceServiceArgs = {
      ...BASE,
      gate: { latencyP99Ms: 0.0001, budgetSeconds: 3, maxBatchSize: 1 },
    };
    const expected = cdk8sMessage(args); // measures once; the Pulumi run below reads the cache
    expect(expected).toMatch(
      /^Validation failed with the following errors:\n {2}\[iris\] gate failed: latency p99 .* > latencyP99Ms 0\.0001 /,
    );
    const { errors, kube } = await deploy(args);
    expect(kube).toEqual([]);
    expect(new Set(errors.map((e) => e.message)).size).toBe(1);
    expect(errors[0].message).toContain(expected);
    expect(errors[0].message).toMatch(/^error serializing property "outputs": Validation failed/);
    expect((errors[0] as { __pulumResourceError?: boolean }).__pulumResourceError).toBe(true);
  }, 60_000);

  it('a policy violation fails with the rule, the object and how to waive it', async () => {
    const args: InferenceServiceArgs = { ...BASE, image: 'ghcr.io/acme/iris' };
    const { errors, kube } = await deploy(args);
    expect(kube).toEqual([]);
    expect(errors[0].message).toContain(cdk8sMessage(args));
    expect(errors[0].message).toMatch(
      /\[iris\] policy image-tag failed on Deployment\/ml\/iris: .*waive: \{ 'image-tag'/,
    );
  });

  it('prices the service on its nodeType: the bill at the planned replicas, a million inferences at the measured capacity', async () => {
    // The shared gate and the default utilization: read back from the cache.
    const { errors, result } = await deploy({
      ...BASE,
      gate: SHARED_IRIS_GATE,
      slo: { targetRps: 200 },
      nodeType: 'c6i.large',
    });
    expect(errors).toEqual([]);
    const perReplicaRps = result!.gateReport!.capacity!.perReplicaRps;
    // By hand, from the catalog: c6i.large has 2 vCPU, 4 GiB, 29 pods, 0.085 USD/h. After the EKS
    // reserve it offers 2,000 − 60 − 10 = 1,930m CPU, so one 1-CPU pod a node (memory would hold 6).
    // Replicas: the plan's ⌈200 ÷ (rps × 0.7)⌉, raised to the HPA floor of 2: 2 nodes, 0.17 USD/h.
    const replicas = Math.max(2, Math.ceil(200 / (perReplicaRps * 0.7)));
    expect(result!.cost).toEqual({
      instanceType: 'c6i.large',
      pricePerNodeHour: 0.085,
      podsPerNode: 1,
      replicas,
      nodes: replicas,
      costPerHour: replicas * 0.085,
      costPerPodHour: 0.085,
      perReplicaRps,
      targetUtilization: 0.7,
      costPerMillionInferences: (0.085 / (perReplicaRps * 0.7 * 3600)) * 1e6,
    });
    expect(result!.gateReport!.cost).toEqual(result!.cost);
  }, 60_000);

  it('an SLO the autoscaling cannot hold fails with the capacity plan', async () => {
    const args: InferenceServiceArgs = {
      ...BASE,
      // Budget enough for the throughput search to find a rate: the plan needs one.
      gate: SHARED_IRIS_GATE,
      slo: { targetRps: 100_000_000 },
      autoscaling: { maxReplicas: 2 },
    };
    const { errors, kube } = await deploy(args);
    expect(kube).toEqual([]);
    expect(errors[0].message).toContain(cdk8sMessage(args));
    expect(errors[0].message).toMatch(/\[iris\] capacity plan failed: slo\.targetRps 100000000 needs /);
  }, 60_000);

  it.each([
    [
      'a bad prop',
      { ...BASE, autoscaling: { minReplicas: 0 } },
      /^\[iris\] autoscaling\.minReplicas must be an integer from 1 to 10000, got 0; use at least 1$/,
    ],
    ['a missing model', { ...BASE, model: path.join(scratch, 'none.onnx') }, /^\[iris\] .*none\.onnx/],
    ['an invalid name', { ...BASE, name: 'Iris!' }, /^\[iris\] name "Iris!"/],
    [
      'a typo in an arg name',
      { ...BASE, autoscalling: { maxReplicas: 4 } },
      /^\[iris\] autoscalling is not an arg of InferenceService; did you mean autoscaling\?$/,
    ],
    [
      "a typo in the engine's own arg",
      { ...BASE, outDir: 'reports' },
      /^\[iris\] outDir is not an arg of InferenceService; did you mean outdir\?$/,
    ],
  ] as const)(
    '%s throws in the constructor, naming the resource, before anything is registered',
    (_, args, message) => {
      mocks.reset();
      expect(() => new InferenceService('iris', args as InferenceServiceArgs)).toThrow(message);
      expect(mocks.resources).toEqual([]);
    },
  );
});
