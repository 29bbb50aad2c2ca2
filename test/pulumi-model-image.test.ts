/**
 * The Pulumi ModelImage under `pulumi.runtime.setMocks`: the build context it writes (the cdk8s
 * ModelImage's, byte for byte), the docker Image it builds and pushes, the ECR repository it
 * creates and the login it asks ECR for, and every way its arguments can be wrong.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { afterAll, describe, expect, it } from 'vitest';
import * as cdk8s from '../lib/cdk8s';
import { resolvePushTarget } from '../lib/pipeline';
import { type ModelImageArgs, ModelImage } from '../lib/pulumi';
import { IMAGE_METADATA_FILE } from '../lib/render';
import {
  ACCOUNT,
  ECR_HOST,
  installPulumiMocks,
  mockDigest,
  runProgram,
  secretValue,
  valueOf,
} from './support/pulumi-mocks';
import { fileTree } from './support/file-tree';

const mocks = installPulumiMocks();
const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-pulumi-image-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const REGISTRY = { server: 'ghcr.io', username: 'acme', password: 'ghp-token' };

async function build(args: ModelImageArgs, name = 'iris') {
  mocks.reset();
  const run = await runProgram(async () => {
    const image = new ModelImage(name, { outdir: path.join(scratch, 'out'), ...args });
    return {
      image,
      repoDigest: await valueOf(image.repoDigest),
      imageName: await valueOf(image.imageName),
      repositoryUrl: await valueOf(image.repositoryUrl),
    };
  });
  expect(run.errors).toEqual([]);
  return run.result!;
}

describe('to a registry', () => {
  it('writes the same build context as the cdk8s ModelImage, with the same tag', async () => {
    const { image } = await build({ model: IRIS, repository: 'ghcr.io/acme/iris', registry: REGISTRY });
    const app = new App({ outdir: fs.mkdtempSync(path.join(scratch, 'cdk8s-')) });
    const reference = new cdk8s.ModelImage(new Chart(app, 'prod'), 'image', {
      model: IRIS,
      repository: 'ghcr.io/acme/iris',
    });
    app.synth();
    expect(image.tag).toBe(reference.tag);
    expect(image.imageRef).toBe(`ghcr.io/acme/iris:${reference.tag}`);
    expect(image.contextDir).toBe(path.join(scratch, 'out', 'iris.image'));
    const withoutMetadata = (dir: string) => fileTree(dir).filter(([file]) => file !== IMAGE_METADATA_FILE);
    expect(withoutMetadata(image.contextDir)).toEqual(withoutMetadata(reference.contextDir));
  });

  it('builds it with docker and pushes repository:tag with the login given, the password kept secret', async () => {
    const result = await build({ model: IRIS, repository: 'ghcr.io/acme/iris', registry: REGISTRY });
    expect(mocks.resources.map((r) => `${r.type} ${r.name}`)).toEqual([
      'modelfab:index:ModelImage iris',
      'docker:index/image:Image iris-image',
    ]);
    const docker = mocks.ofType('docker:index/image:Image')[0].inputs;
    expect(docker).toMatchObject({
      imageName: `ghcr.io/acme/iris:${result.image.tag}`,
      build: { context: path.join(scratch, 'out', 'iris.image'), platform: 'linux/amd64' },
    });
    // The login reaches the provider as a secret (stored encrypted in the state), never in clear.
    expect(docker.registry.password).toBeUndefined();
    expect(secretValue(docker.registry)).toEqual({
      server: 'ghcr.io',
      username: 'acme',
      password: 'ghp-token',
    });
    expect(docker.build.dockerfile).toBeUndefined(); // the context's own Dockerfile
    expect(mocks.urns()).toContain(
      'urn:pulumi:test::modelfab::modelfab:index:ModelImage$docker:index/image:Image::iris-image',
    );
    expect(result.imageName).toBe(`ghcr.io/acme/iris:${result.image.tag}`);
    expect(result.repoDigest).toBe(mockDigest(`ghcr.io/acme/iris:${result.image.tag}`));
  });

  it('pushes to a registry without login when neither username nor password is given', async () => {
    await build({ model: IRIS, repository: 'localhost:5000/iris', registry: { server: 'localhost:5000' } });
    expect(mocks.ofType('docker:index/image:Image')[0].inputs.registry).toEqual({ server: 'localhost:5000' });
  });

  it('writes the context relative to the working directory by default, so the build inputs are the same on every machine', async () => {
    const cwd = process.cwd();
    const dir = fs.mkdtempSync(path.join(scratch, 'cwd-'));
    process.chdir(dir);
    try {
      mocks.reset();
      const run = await runProgram(
        () => new ModelImage('iris', { model: IRIS, repository: 'ghcr.io/acme/iris', registry: REGISTRY }),
      );
      expect(run.errors).toEqual([]);
      expect(mocks.ofType('docker:index/image:Image')[0].inputs.build.context).toBe(
        path.join('modelfab.out', 'iris.image'),
      );
      expect(fs.existsSync(path.join(dir, 'modelfab.out', 'iris.image', 'Dockerfile'))).toBe(true);
    } finally {
      process.chdir(cwd);
    }
  });

  it('gets a new tag, and so a new digest, when the model changes; keeps both when nothing does', async () => {
    const first = await build({ model: IRIS, repository: 'ghcr.io/acme/iris', registry: REGISTRY });
    const again = await build({ model: IRIS, repository: 'ghcr.io/acme/iris', registry: REGISTRY });
    expect(again.image.tag).toBe(first.image.tag);
    expect(again.repoDigest).toBe(first.repoDigest);
    // Another model: one byte of the Iris model's doc string changed (same length, still valid ONNX).
    const changed = path.join(scratch, 'iris-v2.onnx');
    const bytes = fs.readFileSync(IRIS).toString('latin1');
    expect(bytes).toContain('Iris flower');
    fs.writeFileSync(changed, bytes.replace('Iris flower', 'Iris Flower'), 'latin1');
    const next = await build({ model: changed, repository: 'ghcr.io/acme/iris', registry: REGISTRY });
    expect(next.image.tag).not.toBe(first.image.tag);
    expect(next.repoDigest).not.toBe(first.repoDigest);
  });
});

describe('to ECR', () => {
  it('creates a scanned, immutable repository with a lifecycle policy, logs in with an ECR token and pushes there', async () => {
    const result = await build({ model: IRIS, ecr: true });
    expect(mocks.resources.map((r) => `${r.type} ${r.name}`)).toEqual([
      'modelfab:index:ModelImage iris',
      'aws:ecr/repository:Repository iris-repository',
      'aws:ecr/lifecyclePolicy:LifecyclePolicy iris-lifecycle',
      'docker:index/image:Image iris-image',
    ]);
    expect(mocks.ofType('aws:ecr/repository:Repository')[0].inputs).toEqual({
      name: 'iris',
      imageScanningConfiguration: { scanOnPush: true },
      imageTagMutability: 'IMMUTABLE',
      encryptionConfigurations: [{ encryptionType: 'AES256' }],
      forceDelete: false,
    });
    const lifecycle = mocks.ofType('aws:ecr/lifecyclePolicy:LifecyclePolicy')[0].inputs;
    expect(lifecycle.repository).toBe('iris');
    expect(
      JSON.parse(lifecycle.policy).rules.map((r: any) => [r.selection.tagStatus, r.selection.countNumber]),
    ).toEqual([
      ['untagged', 1],
      ['any', 30],
    ]);
    expect(mocks.calls).toEqual([
      { token: 'aws:ecr/getAuthorizationToken:getAuthorizationToken', inputs: { registryId: ACCOUNT } },
    ]);
    const docker = mocks.ofType('docker:index/image:Image')[0].inputs;
    expect(docker.imageName).toBe(`${ECR_HOST}/iris:${result.image.tag}`);
    expect(secretValue(docker.registry)).toEqual({
      server: `${ECR_HOST}/iris`,
      username: 'AWS',
      password: 'mock-ecr-token',
    });
    expect(result.repositoryUrl).toBe(`${ECR_HOST}/iris`);
    expect(result.repoDigest).toBe(mockDigest(`${ECR_HOST}/iris:${result.image.tag}`));
    for (const type of ['aws:ecr/repository:Repository', 'aws:ecr/lifecyclePolicy:LifecyclePolicy']) {
      expect(mocks.urns().some((urn) => urn.includes(`modelfab:index:ModelImage$${type}::`))).toBe(true);
    }
  });

  it('names the repository after repository when given, and keeps as many images as asked', async () => {
    await build({ model: IRIS, ecr: { keepImages: 5, forceDelete: true }, repository: 'acme/iris' });
    expect(mocks.ofType('aws:ecr/repository:Repository')[0].inputs).toMatchObject({
      name: 'acme/iris',
      forceDelete: true,
    });
    const policy = JSON.parse(mocks.ofType('aws:ecr/lifecyclePolicy:LifecyclePolicy')[0].inputs.policy);
    expect(policy.rules[1].selection.countNumber).toBe(5);
  });
});

describe('bad arguments', () => {
  const cases: Array<[string, Partial<ModelImageArgs> & Record<string, unknown>, RegExp]> = [
    [
      'a typo in an arg name',
      { ecr: true, platfrom: 'linux/arm64' },
      /^\[iris\] platfrom is not an arg of ModelImage; did you mean platform\?$/,
    ],
    [
      'a typo in the push target',
      { registry: { ...REGISTRY, sever: 'ghcr.io' } as never, repository: 'ghcr.io/acme/iris' },
      /^\[iris\] registry\.sever is not an arg of ModelImage; did you mean registry\.server\?$/,
    ],
    [
      'neither registry nor ecr',
      {},
      /^\[iris\] set registry: \{ server, username, password \} to push to a registry, or ecr: true/,
    ],
    [
      'both registry and ecr',
      { registry: REGISTRY, ecr: true },
      /^\[iris\] set either registry or ecr, not both/,
    ],
    [
      'registry without repository',
      { registry: REGISTRY },
      /repository is required with registry; .*'ghcr\.io\/acme\/iris'/,
    ],
    [
      'a repository on another registry',
      { registry: REGISTRY, repository: 'docker.io/acme/iris' },
      /repository "docker\.io\/acme\/iris" is not on registry\.server "ghcr\.io"; use 'ghcr\.io\/acme\/iris'/,
    ],
    [
      'a server with a path',
      { registry: { server: 'ghcr.io/acme' }, repository: 'ghcr.io/acme/iris' },
      /registry\.server "ghcr\.io\/acme" is not a registry host/,
    ],
    [
      'a username without password',
      { registry: { server: 'ghcr.io', username: 'acme' }, repository: 'ghcr.io/acme/iris' },
      /registry has a username but no password; set both/,
    ],
    [
      'ecr with a registry host in repository',
      { ecr: true, repository: 'ghcr.io/acme/iris' },
      /repository "ghcr\.io\/acme\/iris" names a registry host; with ecr, repository is the ECR repository's name/,
    ],
    [
      'ecr with an upper-case name',
      { ecr: true, repository: 'Acme/Iris' },
      /repository "Acme\/Iris" is not a valid ECR repository name/,
    ],
    [
      'ecr keeping no images',
      { ecr: { keepImages: 0 } },
      /ecr\.keepImages must be an integer from 1 to 10000, got 0/,
    ],
    [
      'ecr with forceDelete "yes"',
      { ecr: { forceDelete: 'yes' as never } },
      /ecr\.forceDelete must be true or false, got "yes"/,
    ],
    ['a bad shared prop', { ecr: true, platform: 'linux/386' as never }, /^\[iris\] platform "linux\/386"/],
  ];

  it.each(cases)(
    '%s throws, naming the resource, the value and the fix, before anything is registered',
    (_, extra, message) => {
      mocks.reset();
      const outdir = path.join(scratch, 'bad');
      expect(() => new ModelImage('iris', { model: IRIS, outdir, ...extra })).toThrow(message);
      expect(mocks.resources).toEqual([]);
      expect(fs.existsSync(path.join(outdir, 'iris.image'))).toBe(false);
    },
  );

  it('an invalid resource name as the default ECR repository says to set repository', () => {
    expect(() => resolvePushTarget({ ecr: true }, 'Iris')).toThrow(
      /the resource name "Iris" is not a valid ECR repository name .*set repository, e.g. 'acme\/iris'/,
    );
  });
});
