/**
 * The stack program (stacks/index.ts) under `pulumi.runtime.setMocks`, with stacks/Pulumi.dev.yaml's
 * config: what it creates (types, names, parents, key inputs), that every Kubernetes object passes
 * the schema and policy checks of the cdk8s path, the ECR and registry-login variants, and how a
 * failing gate or a bad config fails it. Last, the program run by Pulumi's own Node.js runner
 * (ts-node from the sources, as `pulumi up` runs it) in a child process.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { specialSecretSig, specialSigKey } from '@pulumi/pulumi/runtime/rpc';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkPolicy, type KubeObject } from '../lib/render';
import type * as StackProgram from '../stacks/index';
import { validateAgainstSchema } from './support/kube-schema';
import { SHARED_IRIS_GATE, sharedGateCache } from './support/shared-gate';
import { devStackConfig, type StackConfig, stackConfigOf } from './support/stack-configs';
import {
  ACCOUNT,
  ECR_HOST,
  installPulumiMocks,
  mockDigest,
  runProgram,
  valueOf,
} from './support/pulumi-mocks';

const ROOT = path.resolve(__dirname, '..');
const mocks = installPulumiMocks();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-stack-'));
const OUTDIR = path.join(scratch, 'out');

beforeAll(() => {
  // The run's shared gate cache: the dev stack's gate, as changed below, is the shared Iris gate,
  // measured once a run and read here and by the variants.
  vi.stubEnv('MODELFAB_CACHE_DIR', sharedGateCache());
});
afterAll(() => {
  vi.unstubAllEnvs();
  fs.rmSync(scratch, { recursive: true, force: true });
});

type Config = StackConfig;

/** stacks/Pulumi.dev.yaml as the Pulumi CLI hands it over, for this file (see test/support/stack-configs.ts). */
const devConfig = (change?: (config: Config) => void) => devStackConfig(OUTDIR, change);
/** stacks/Pulumi.<stack>.yaml as the Pulumi CLI hands it over, outdir this file's. */
const stackConfig = (stack: string, change: (config: Config) => void) => stackConfigOf(stack, OUTDIR, change);

/** The stack program's exports. */
type Program = typeof StackProgram;

/** Runs stacks/index.ts afresh with `config`, as `pulumi up` would with that stack config. */
async function runStack(config: Record<string, string>, secretKeys: string[] = []) {
  mocks.reset();
  pulumi.runtime.setAllConfig(config, secretKeys);
  vi.resetModules(); // the program is a module: each run evaluates it again
  return runProgram(() => import('../stacks/index.js') as Promise<Program>);
}

/** How the mocks see an input that holds a secret: the whole value wrapped and marked secret. */
const secret = (value: unknown) => ({ [specialSigKey]: specialSecretSig, value });

const kubernetes = () => mocks.resources.filter((r) => r.type.startsWith('kubernetes:'));

/** The URN of the resource registered with this type and name. */
function urnOf(type: string, name: string): string {
  const found = mocks.urns().filter((urn) => urn.endsWith(`${type}::${name}`));
  expect(found, `${type} ${name}`).toHaveLength(1);
  return found[0];
}

describe('the dev stack', () => {
  let run: Awaited<ReturnType<typeof runStack>>;
  beforeAll(async () => {
    run = await runStack(devConfig());
  }, 120_000);

  it('runs without errors', () => {
    expect(run.errors).toEqual([]);
  });

  it('creates the image and the service: components, a docker Image, and six Kubernetes objects', () => {
    expect(mocks.resources.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
      [
        'docker:index/image:Image iris-image',
        'kubernetes:apps/v1:Deployment iris-deployment',
        'kubernetes:autoscaling/v2:HorizontalPodAutoscaler iris-autoscaler',
        'kubernetes:core/v1:Service iris-service',
        'kubernetes:core/v1:ServiceAccount iris-service-account',
        'kubernetes:networking.k8s.io/v1:NetworkPolicy iris-network-policy',
        'kubernetes:policy/v1:PodDisruptionBudget iris-disruption-budget',
        'modelfab:index:InferenceService iris',
        'modelfab:index:ModelImage iris',
      ].sort(),
    );
    expect(mocks.calls).toEqual([]); // no ECR token asked for a registry without login
  });

  it('parents: the docker Image under the ModelImage, every Kubernetes object under the InferenceService', () => {
    const stack = 'urn:pulumi:test::modelfab::';
    expect(urnOf('modelfab:index:ModelImage', 'iris')).toBe(`${stack}modelfab:index:ModelImage::iris`);
    expect(urnOf('docker:index/image:Image', 'iris-image')).toBe(
      `${stack}modelfab:index:ModelImage$docker:index/image:Image::iris-image`,
    );
    expect(urnOf('modelfab:index:InferenceService', 'iris')).toBe(
      `${stack}modelfab:index:InferenceService::iris`,
    );
    for (const { type, name } of kubernetes()) {
      expect(urnOf(type, name)).toBe(`${stack}modelfab:index:InferenceService$${type}::${name}`);
    }
  });

  it('builds the context it wrote, for the platform, and pushes to the registry without login', () => {
    const [image] = mocks.ofType('docker:index/image:Image');
    const contextDir = path.join(OUTDIR, 'iris.image');
    expect(image.inputs.build).toEqual({
      context: path.relative(process.cwd(), contextDir),
      platform: 'linux/amd64',
    });
    expect(image.inputs.registry).toEqual({ server: 'localhost:5000' });
    expect(image.inputs.imageName).toMatch(/^localhost:5000\/iris:[0-9a-f]{16}$/);
    expect(fs.existsSync(path.join(contextDir, 'Dockerfile'))).toBe(true);
    expect(fs.readFileSync(path.join(contextDir, 'model/iris.onnx'))).toEqual(
      fs.readFileSync(path.join(ROOT, 'examples/iris/model/iris.onnx')),
    );
  });

  it('deploys the pushed digest, in the namespace, with the resources and autoscaling of the config', () => {
    const [image] = mocks.ofType('docker:index/image:Image');
    const [deployment] = mocks.ofType('kubernetes:apps/v1:Deployment');
    const container = deployment.inputs.spec.template.spec.containers[0];
    expect(container.image).toBe(mockDigest(image.inputs.imageName));
    expect(container.resources).toEqual({
      requests: { cpu: '1', memory: '512Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    });
    expect(kubernetes().map((r) => r.inputs.metadata.namespace)).toEqual(kubernetes().map(() => 'ml'));
    const [hpa] = mocks.ofType('kubernetes:autoscaling/v2:HorizontalPodAutoscaler');
    expect(hpa.inputs.spec).toMatchObject({ minReplicas: 1, maxReplicas: 3 });
    expect(hpa.inputs.spec.metrics[0].resource).toEqual({
      name: 'cpu',
      target: { type: 'Utilization', averageUtilization: 70 },
    });
    // The gate ran on this model and its verdict is on the Deployment.
    expect(deployment.inputs.metadata.annotations['modelfab.dev/gate']).toBe('passed');
  });

  it('every Kubernetes object validates against its schema and passes the policy rules', async () => {
    const objects = kubernetes().map((r) => r.inputs as KubeObject);
    for (const object of objects) await validateAgainstSchema(object);
    expect(checkPolicy(objects).violations).toEqual([]);
  });

  it('exports the digest, the service, its URL and the gate status; writes the reports', async () => {
    const program = run.result as Program;
    const [image] = mocks.ofType('docker:index/image:Image');
    expect(await valueOf(program.repoDigest)).toBe(mockDigest(image.inputs.imageName));
    expect(await valueOf(program.imageName)).toBe(image.inputs.imageName);
    expect(await valueOf(program.serviceName!)).toBe('iris');
    expect(await valueOf(program.namespace!)).toBe('ml');
    expect(await valueOf(program.url!)).toBe('http://iris.ml.svc.cluster.local:8080');
    expect(await valueOf(program.gateStatus!)).toBe('passed');
    const report = JSON.parse(fs.readFileSync(path.join(OUTDIR, 'iris.gate.json'), 'utf8'));
    expect(report.model.sha256).toBe(
      (
        mocks.ofType('kubernetes:apps/v1:Deployment')[0].inputs.metadata.annotations as Record<string, string>
      )['modelfab.dev/model-sha256'],
    );
    expect(fs.existsSync(path.join(OUTDIR, 'iris.gate.md'))).toBe(true);
  });
});

describe('variants of the config', () => {
  it('ECR: creates the repository and its lifecycle policy, and logs in with a token it asks for', async () => {
    const run = await runStack(
      devConfig((config) => {
        delete config['modelfab:registry'];
        config['modelfab:repository'] = 'modelfab/iris';
        config['modelfab:ecr'] = { keepImages: 10, forceDelete: true };
      }),
    );
    expect(run.errors).toEqual([]);
    const [repository] = mocks.ofType('aws:ecr/repository:Repository');
    expect(repository).toMatchObject({
      name: 'iris-repository',
      inputs: {
        name: 'modelfab/iris',
        imageScanningConfiguration: { scanOnPush: true },
        imageTagMutability: 'IMMUTABLE',
        forceDelete: true,
      },
    });
    const [lifecycle] = mocks.ofType('aws:ecr/lifecyclePolicy:LifecyclePolicy');
    expect(lifecycle.name).toBe('iris-lifecycle');
    expect(JSON.parse(lifecycle.inputs.policy).rules[1].selection.countNumber).toBe(10);
    expect(urnOf('aws:ecr/repository:Repository', 'iris-repository')).toContain(
      'modelfab:index:ModelImage$aws:ecr/repository:Repository',
    );

    expect(mocks.calls).toEqual([
      { token: 'aws:ecr/getAuthorizationToken:getAuthorizationToken', inputs: { registryId: ACCOUNT } },
    ]);
    const [image] = mocks.ofType('docker:index/image:Image');
    expect(image.inputs.registry).toEqual(
      secret({ server: `${ECR_HOST}/modelfab/iris`, username: 'AWS', password: 'mock-ecr-token' }),
    );
    expect(image.inputs.imageName).toMatch(new RegExp(`^${ECR_HOST}/modelfab/iris:[0-9a-f]{16}$`));
    const [deployment] = mocks.ofType('kubernetes:apps/v1:Deployment');
    expect(deployment.inputs.spec.template.spec.containers[0].image).toBe(mockDigest(image.inputs.imageName));
  });

  it('a registry login with the secret password, and an explicit cluster that every object uses', async () => {
    const run = await runStack(
      devConfig((config) => {
        config['modelfab:repository'] = 'ghcr.io/acme/iris';
        config['modelfab:registry'] = { server: 'ghcr.io', username: 'acme' };
        config['modelfab:registryPassword'] = 'ghp-token';
        config['modelfab:context'] = 'kind-kind';
      }),
      ['modelfab:registryPassword'],
    );
    expect(run.errors).toEqual([]);
    const [image] = mocks.ofType('docker:index/image:Image');
    expect(image.inputs.registry).toEqual(
      secret({ server: 'ghcr.io', username: 'acme', password: 'ghp-token' }),
    );
    const [provider] = mocks.ofType('pulumi:providers:kubernetes');
    expect(provider).toMatchObject({ name: 'iris-cluster', inputs: { context: 'kind-kind' } });
    const providerUrn = urnOf('pulumi:providers:kubernetes', 'iris-cluster');
    expect(kubernetes()).toHaveLength(6);
    for (const resource of kubernetes()) expect(resource.provider).toBe(`${providerUrn}::iris-cluster-id`);
  });

  it("a canary: the candidate's image beside the service's, its own Deployment, and the route that splits", async () => {
    // The service's model under another file name: the candidate answers to the service's name.
    const v2 = path.join(scratch, 'iris-v2.onnx');
    fs.copyFileSync(path.join(ROOT, 'examples/iris/model/iris.onnx'), v2);
    const run = await runStack(
      devConfig((config) => {
        config['modelfab:canary'] = {
          model: v2,
          weight: 10,
          gateway: { name: 'public', namespace: 'gateway' },
          gate: config['modelfab:gate'],
        };
      }),
    );
    expect(run.errors).toEqual([]);
    expect(mocks.ofType('modelfab:index:ModelImage').map((r) => r.name)).toEqual(['iris', 'iris-canary']);
    const images = mocks.ofType('docker:index/image:Image');
    expect(images.map((r) => [r.name, r.inputs.imageName.replace(/:[0-9a-f]{16}$/, '')])).toEqual([
      ['iris-image', 'localhost:5000/iris'],
      ['iris-canary-image', 'localhost:5000/iris'],
    ]);
    const deployment = (name: string) =>
      mocks.ofType('kubernetes:apps/v1:Deployment').find((d) => d.inputs.metadata.name === name)!.inputs;
    const candidate = deployment('iris-canary');
    expect(candidate.spec.template.spec.containers[0].image).toBe(mockDigest(images[1].inputs.imageName));
    expect(candidate.spec.template.spec.containers[0].env).toContainEqual({
      name: 'MODELFAB_MODEL_NAME',
      value: 'iris',
    });
    expect(candidate.metadata.labels['modelfab.dev/track']).toBe('canary');
    const [route] = mocks.ofType('kubernetes:gateway.networking.k8s.io/v1:HTTPRoute');
    expect(route.inputs.spec.parentRefs).toEqual([
      { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'public', namespace: 'gateway' },
    ]);
    expect(
      route.inputs.spec.rules[0].backendRefs.map((b: { name: string; weight: number }) => [b.name, b.weight]),
    ).toEqual([
      ['iris', 90],
      ['iris-canary', 10],
    ]);
    const program = run.result as Program;
    expect(await valueOf(program.canaryRepoDigest!)).toBe(mockDigest(images[1].inputs.imageName));
    for (const { inputs } of kubernetes()) await validateAgainstSchema(inputs as KubeObject);
  });

  it('a gate that fails fails the program with its message, and nothing is deployed', async () => {
    const run = await runStack(
      devConfig((config) => {
        (config['modelfab:gate'] as Record<string, unknown>).latencyP99Ms = 0.0001;
      }),
    );
    // Reported as the component's outputs fail: `pulumi preview` and `pulumi up` print it and stop.
    expect(run.errors.length).toBeGreaterThan(0);
    expect(run.errors.map((e) => e.message).join('\n')).toMatch(
      /Validation failed with the following errors:\n {2}\[iris\] gate failed: latency p99 [\d.]+ ms > latencyP99Ms 0\.0001 \(at the operating rate [\d.,]+ rps, .*; 1 CPU, onnxruntime /,
    );
    expect(kubernetes()).toEqual([]);
  }, 60_000);

  it('a bad config fails the program with the key and the fix, before anything is created', async () => {
    const run = await runStack(
      devConfig((config) => {
        delete config['modelfab:model'];
        config['modelfab:replicas'] = 'two';
      }),
    );
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toBeInstanceOf(pulumi.RunError); // Pulumi prints it without a stack trace
    expect(run.errors[0].message).toBe(
      [
        'the stack config has 2 problems:',
        '  modelfab:replicas must be a number, got "two"; set it with: pulumi config set modelfab:replicas 2',
        '  modelfab:model is required: the ONNX model file, relative to the project root; set it with: pulumi config set modelfab:model examples/iris/model/iris.onnx',
      ].join('\n'),
    );
    expect(mocks.resources).toEqual([]);
  });

  it('a typo in a key fails the program naming the nearest key, before anything is created', async () => {
    const run = await runStack(
      devConfig((config) => {
        config['modelfab:autoscalling'] = { maxReplicas: 4 };
      }),
    );
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toBeInstanceOf(pulumi.RunError);
    expect(run.errors[0].message).toMatch(
      /^modelfab:autoscalling is not a modelfab setting; did you mean modelfab:autoscaling\? .*remove it with: pulumi config rm modelfab:autoscalling$/,
    );
    expect(mocks.resources).toEqual([]);
  });

  it('a value the component rejects fails the program with the prop and the fix', async () => {
    const run = await runStack(
      devConfig((config) => {
        config['modelfab:resources'] = { cpu: 'lots', memory: '512Mi' };
      }),
    );
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toBeInstanceOf(pulumi.RunError);
    expect(run.errors[0].message).toMatch(/^\[iris\] resources\.cpu .*"lots"/);
  });
});

describe('the gpu stack', () => {
  const gpuConfig = (change: (config: Config) => void = () => undefined) => stackConfig('gpu', change);

  it('places a Triton GPU service on an EKS node group scaled from zero, and prices it', async () => {
    const run = await runStack(gpuConfig());
    expect(run.errors).toEqual([]);
    const [group] = mocks.ofType('aws:eks/nodeGroup:NodeGroup');
    expect(group.name).toBe('iris-gpu-gpu-node-group');
    expect(group.inputs).toMatchObject({
      clusterName: 'prod',
      amiType: 'AL2023_x86_64_NVIDIA',
      scalingConfig: { minSize: 0, maxSize: 4, desiredSize: 0 },
      instanceTypes: ['g5.xlarge', 'g5.2xlarge', 'g5.4xlarge', 'g5.8xlarge', 'g5.16xlarge'],
    });
    expect(mocks.ofType('aws:iam/rolePolicyAttachment:RolePolicyAttachment')).toHaveLength(3);
    expect(mocks.ofType('aws:autoscaling/tag:Tag').map((t) => t.inputs.tag.key)).toContain(
      'k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu',
    );
    const objects = kubernetes().map((r) => r.inputs as KubeObject);
    for (const object of objects) await validateAgainstSchema(object);
    const pod = (objects.find((o) => o.kind === 'Deployment') as any).spec.template.spec;
    expect(pod.nodeSelector).toEqual({ 'modelfab.dev/pool': 'iris-gpu-gpu' });
    expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBe('1');
    expect(objects.filter((o) => o.kind === 'DaemonSet').map((o) => o.metadata.name)).toEqual([
      'iris-gpu-gpu-device-plugin',
    ]);
    const outputs = run.result!;
    expect(await valueOf(outputs.cost!)).toMatchObject({
      // g5.xlarge, the cheapest A10G node a 2-CPU, 4 GiB pod fits; the HPA's floor of 1 replica.
      instanceType: 'g5.xlarge',
      pricePerNodeHour: 1.006,
      podsPerNode: 1,
      replicas: 1,
      costPerHour: 1.006,
    });
    expect(outputs.gpuPool).toBe('iris-gpu-gpu');
  }, 60_000);

  it('takes Karpenter instead, with spot first', async () => {
    const run = await runStack(
      gpuConfig((config) => {
        const pool = config['modelfab:gpuPool'] as Record<string, unknown>;
        delete pool.eksNodeGroup;
        Object.assign(pool, {
          capacityTypes: ['spot', 'on-demand'],
          karpenter: { clusterName: 'prod', nodeRole: 'KarpenterNodeRole-prod' },
        });
      }),
    );
    expect(run.errors).toEqual([]);
    expect(mocks.ofType('aws:eks/nodeGroup:NodeGroup')).toEqual([]);
    expect(
      kubernetes()
        .filter((r) => r.type.includes('karpenter'))
        .map((r) => r.name)
        .sort(),
    ).toEqual(['iris-gpu-gpu-node-class', 'iris-gpu-gpu-on-demand-node-pool', 'iris-gpu-gpu-spot-node-pool']);
  }, 60_000);

  it('refuses GPUs a pod without a pool, naming the keys', async () => {
    const run = await runStack(gpuConfig((config) => delete config['modelfab:gpuPool']));
    expect(run.errors.map((e) => e.message)).toEqual([
      'modelfab:gpusPerPod is set but modelfab:gpuPool is not: GPUs come from a pool; set one (README.md, "GPU nodes") or remove it with: pulumi config rm modelfab:gpusPerPod',
    ]);
  });
});

describe('the multicloud stack', () => {
  /** stacks/Pulumi.multicloud.yaml with the shared Iris gate (read from the run's cache). */
  const multiCloudConfig = (change: (config: Config) => void = () => undefined) =>
    stackConfig('multicloud', (config) => {
      const gate = SHARED_IRIS_GATE;
      config['modelfab:gate'] = {
        ...gate,
        accuracy: { ...gate.accuracy, dataset: 'examples/iris/model/eval.jsonl' },
        parity: { ...gate.parity, dataset: 'examples/iris/model/expected.jsonl' },
      };
      change(config);
    });

  it('deploys the service on each target through its context, behind Route53 records, and exports the plan', async () => {
    const run = await runStack(multiCloudConfig());
    expect(run.errors).toEqual([]);
    expect(mocks.ofType('pulumi:providers:kubernetes').map((p) => [p.name, p.inputs.context])).toEqual([
      ['iris-eks-us-cluster', 'arn:aws:eks:us-east-1:123456789012:cluster/prod'],
      ['iris-gke-eu-cluster', 'gke_acme_europe-west4_prod'],
      ['iris-onprem-cluster', 'onprem-prod'],
    ]);
    expect(mocks.ofType('modelfab:index:InferenceService').map((s) => s.name)).toEqual([
      'iris-eks-us',
      'iris-gke-eu',
      'iris-onprem',
    ]);
    expect(mocks.ofType('aws:route53/healthCheck:HealthCheck')).toHaveLength(3);
    const program = run.result!;
    expect(program.hostname).toBe('iris.example.com');
    const summary = await valueOf(program.multiCloudSummary!);
    // Survive 1 at 60/30/10 of 3,000 rps: eks-us carries 60/70 when gke-eu is lost (2,571 rps),
    // gke-eu 30/40 when eks-us is lost (2,250), onprem 10/40 likewise (750).
    expect(summary.targets.map((t) => [t.target, Math.round(t.requiredRps), t.bindingLoss])).toEqual([
      ['eks-us', 2571, ['gke-eu']],
      ['gke-eu', 2250, ['eks-us']],
      ['onprem', 750, ['eks-us']],
    ]);
    expect(program.serviceName).toBeUndefined();
  }, 60_000);

  it('refuses targets without routing, and survive without targets', async () => {
    const run = await runStack(multiCloudConfig((config) => delete config['modelfab:routing']));
    expect(run.errors.map((e) => e.message)).toEqual([
      expect.stringContaining(
        'modelfab:targets and modelfab:routing go together: several clusters behind one hostname (README.md, "MultiCloudDeployment"); set modelfab:routing or remove pulumi config rm modelfab:targets',
      ),
    ]);
    const single = await runStack(
      devConfig((config) => Object.assign(config, { 'modelfab:slo': { targetRps: 10, survive: 1 } })),
    );
    expect(single.errors.map((e) => e.message)).toEqual([
      expect.stringContaining(
        'modelfab:slo.survive is the number of targets the service may lose, but the stack has no modelfab:targets; remove it with: pulumi config rm --path modelfab:slo.survive',
      ),
    ]);
  });
});
