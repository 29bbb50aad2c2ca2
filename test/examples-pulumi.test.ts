/**
 * examples/pulumi/index.ts, the Pulumi program of the example, under `pulumi.runtime.setMocks`: run
 * from its own folder as Pulumi runs it, with each push target its README describes. The gate is
 * skipped here (`MODELFAB_GATE=skip`): the example's gate has the default 20-second budget, and the
 * stack program's tests run the same thresholds for real.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { checkPolicy, type KubeObject } from '../lib/render';
import type * as ExampleProgram from '../examples/pulumi/index';
import { validateAgainstSchema } from './support/kube-schema';
import {
  ACCOUNT,
  ECR_HOST,
  installPulumiMocks,
  mockDigest,
  runProgram,
  valueOf,
} from './support/pulumi-mocks';

const ROOT = path.resolve(__dirname, '..');
const EXAMPLE = path.join(ROOT, 'examples/pulumi');
const PROJECT = (parse(fs.readFileSync(path.join(EXAMPLE, 'Pulumi.yaml'), 'utf8')) as { name: string }).name;

// `new pulumi.Config()` reads the running project's namespace: the example's project, as in `pulumi up`.
const mocks = installPulumiMocks({ project: PROJECT });

// The program runs in its folder and reads ../iris/model/: the same layout in a scratch folder, so
// what it writes (modelfab.out/) stays out of the repository.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-example-pulumi-'));
const programDir = path.join(scratch, 'pulumi');
const cwd = process.cwd();
beforeAll(() => {
  fs.mkdirSync(path.join(scratch, 'iris'));
  fs.symlinkSync(path.join(ROOT, 'examples/iris/model'), path.join(scratch, 'iris/model'));
  fs.mkdirSync(programDir);
  process.chdir(programDir);
  vi.stubEnv('MODELFAB_GATE', 'skip');
  vi.stubEnv('MODELFAB_CACHE_DIR', path.join(scratch, 'cache'));
});
afterAll(() => {
  process.chdir(cwd);
  vi.unstubAllEnvs();
  fs.rmSync(scratch, { recursive: true, force: true });
});

type Program = typeof ExampleProgram;

/** Runs the example with this stack config (keys without the project prefix). */
async function runExample(config: Record<string, string>, secretKeys: string[] = []) {
  mocks.reset();
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(config).map(([key, value]) => [`${PROJECT}:${key}`, value])),
    secretKeys.map((key) => `${PROJECT}:${key}`),
  );
  vi.resetModules();
  return runProgram(() => import('../examples/pulumi/index.js') as Promise<Program>);
}

const kubernetes = () => mocks.resources.filter((r) => r.type.startsWith('kubernetes:'));

describe('examples/pulumi', () => {
  it("Pulumi.yaml names the program file (a folder would run package.json's entry point instead)", () => {
    expect(parse(fs.readFileSync(path.join(EXAMPLE, 'Pulumi.yaml'), 'utf8'))).toMatchObject({
      name: 'modelfab-iris',
      runtime: { name: 'nodejs', options: { typescript: true } },
      main: 'index.ts',
    });
  });

  it('with no config: an ECR repository, the image pushed there, the service on the default kubeconfig', async () => {
    const run = await runExample({});
    expect(run.errors).toEqual([]);
    expect(mocks.resources.map((r) => `${r.type} ${r.name}`).sort()).toEqual(
      [
        'aws:ecr/lifecyclePolicy:LifecyclePolicy iris-lifecycle',
        'aws:ecr/repository:Repository iris-repository',
        'docker:index/image:Image iris-image',
        'kubernetes:apps/v1:Deployment iris-deployment',
        'kubernetes:autoscaling/v2:HorizontalPodAutoscaler iris-autoscaler',
        'kubernetes:core/v1:Service iris-service',
        'kubernetes:core/v1:ServiceAccount iris-service-account',
        'kubernetes:networking.k8s.io/v1:NetworkPolicy iris-network-policy',
        'kubernetes:policy/v1:PodDisruptionBudget iris-disruption-budget',
        'modelfab:index:InferenceService iris',
        'modelfab:index:ModelImage iris',
        'pulumi:providers:kubernetes cluster',
      ].sort(),
    );
    const [repository] = mocks.ofType('aws:ecr/repository:Repository');
    expect(repository.inputs).toMatchObject({
      name: 'modelfab/iris',
      imageTagMutability: 'IMMUTABLE',
      forceDelete: true,
    });
    const [lifecycle] = mocks.ofType('aws:ecr/lifecyclePolicy:LifecyclePolicy');
    expect(JSON.parse(lifecycle.inputs.policy).rules[1].selection.countNumber).toBe(20);
    expect(mocks.calls.map((c) => c.token)).toEqual(['aws:ecr/getAuthorizationToken:getAuthorizationToken']);
    expect(mocks.calls[0].inputs).toEqual({ registryId: ACCOUNT });

    // The provider with neither kubeconfig nor context: kubectl's defaults.
    const [provider] = mocks.ofType('pulumi:providers:kubernetes');
    expect(provider.inputs.kubeconfig).toBeUndefined();
    expect(provider.inputs.context).toBeUndefined();

    const [image] = mocks.ofType('docker:index/image:Image');
    expect(image.inputs.imageName).toMatch(new RegExp(`^${ECR_HOST}/modelfab/iris:[0-9a-f]{16}$`));
    expect(image.inputs.build).toEqual({
      context: path.join('modelfab.out', 'iris.image'),
      platform: 'linux/amd64',
    });
    expect(fs.existsSync(path.join(programDir, 'modelfab.out/iris.image/Dockerfile'))).toBe(true);

    const program = run.result as Program;
    expect(await valueOf(program.repoDigest)).toBe(mockDigest(image.inputs.imageName));
    expect(await valueOf(program.url)).toBe('http://iris.ml.svc.cluster.local:8080');
    expect(await valueOf(program.gateStatus)).toBe('skipped');
  });

  it('every Kubernetes object: in namespace ml, through the provider, on the digest, schema- and policy-clean', async () => {
    const run = await runExample({ kubeconfig: '/etc/kube/prod.yaml', context: 'prod' });
    expect(run.errors).toEqual([]);
    const [provider] = mocks.ofType('pulumi:providers:kubernetes');
    expect(provider.inputs).toMatchObject({ kubeconfig: '/etc/kube/prod.yaml', context: 'prod' });
    const providerRef = mocks.urns().find((urn) => urn.endsWith('pulumi:providers:kubernetes::cluster'));
    const objects = kubernetes();
    expect(objects).toHaveLength(6);
    for (const resource of objects) {
      expect(resource.provider).toBe(`${providerRef}::cluster-id`);
      expect(resource.inputs.metadata.namespace).toBe('ml');
    }
    const [image] = mocks.ofType('docker:index/image:Image');
    const [deployment] = mocks.ofType('kubernetes:apps/v1:Deployment');
    const container = deployment.inputs.spec.template.spec.containers[0];
    expect(container.image).toBe(mockDigest(image.inputs.imageName));
    expect(container.resources.limits).toEqual({ cpu: '1', memory: '512Mi' });
    for (const object of objects) await validateAgainstSchema(object.inputs as KubeObject);
    expect(checkPolicy(objects.map((o) => o.inputs as KubeObject)).violations).toEqual([]);
  });

  it('with registry, repository, registryUsername and the secret registryPassword: pushes there, logged in', async () => {
    const run = await runExample(
      {
        registry: 'ghcr.io',
        repository: 'ghcr.io/acme/iris',
        registryUsername: 'acme',
        registryPassword: 'ghp-token',
      },
      ['registryPassword'],
    );
    expect(run.errors).toEqual([]);
    expect(mocks.ofType('aws:ecr/repository:Repository')).toEqual([]);
    expect(mocks.calls).toEqual([]);
    const [image] = mocks.ofType('docker:index/image:Image');
    expect(image.inputs.imageName).toMatch(/^ghcr\.io\/acme\/iris:[0-9a-f]{16}$/);
    expect(image.inputs.registry.value).toEqual({
      server: 'ghcr.io',
      username: 'acme',
      password: 'ghp-token',
    });
  });

  it('with a registry that needs no login (localhost:5000)', async () => {
    const run = await runExample({ registry: 'localhost:5000', repository: 'localhost:5000/iris' });
    expect(run.errors).toEqual([]);
    const [image] = mocks.ofType('docker:index/image:Image');
    expect(image.inputs.registry).toEqual({ server: 'localhost:5000' });
  });

  it('a registry without repository fails with the missing key', async () => {
    const run = await runExample({ registry: 'ghcr.io' });
    expect(run.errors.map((e) => e.message)).toEqual([
      `Missing required configuration variable '${PROJECT}:repository'\n\tplease set a value using the command \`pulumi config set ${PROJECT}:repository <value>\``,
    ]);
  });
});
