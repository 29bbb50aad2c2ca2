import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { afterAll, describe, expect, it } from 'vitest';
import { InferenceService, ModelImage, type ModelImageProps } from '../lib/cdk8s';
import { isModelImageSource, ModelfabValidationError, parseServingConfigFile } from '../lib/core';
import { IMAGE_METADATA_FILE, isCopiedFile, type KubeObject } from '../lib/render';
import { fileTree, sha256File } from './support/file-tree';
import { makeTempDir, removeDir, writeFixtureModels } from './support/fixture-models';

const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');
const PACKAGE_VERSION = (
  JSON.parse(fs.readFileSync(path.resolve(__dirname, '../package.json'), 'utf8')) as { version: string }
).version;
const BASE: ModelImageProps = { model: IRIS, repository: 'ghcr.io/acme/iris' };

const scratch = makeTempDir('modelfab-model-image-');
const fixtures = writeFixtureModels(scratch);
afterAll(() => removeDir(scratch));

/** Creates one image in chart `prod` and synthesizes the app into a fresh (or the given) outdir. */
function synth(props: ModelImageProps, outdir = fs.mkdtempSync(path.join(scratch, 'out-'))) {
  const app = new App({ outdir });
  const chart = new Chart(app, 'prod', { namespace: 'ml' });
  const image = new ModelImage(chart, 'image', props);
  app.synth();
  return { app, chart, image, outdir };
}

function errorOf(run: () => unknown): ModelfabValidationError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ModelfabValidationError);
    return error as ModelfabValidationError;
  }
  throw new Error('expected a ModelfabValidationError');
}

describe('ModelImage', () => {
  it('writes its build context beside the manifests; the files are the rendered context, the model byte for byte', () => {
    const { image, outdir } = synth(BASE);
    expect(image.contextDir).toBe(path.join(outdir, 'prod-image.image'));
    expect(fs.readdirSync(outdir).sort()).toEqual(['prod-image.image', 'prod.k8s.yaml']);
    const written = fileTree(image.contextDir).filter(([file]) => file !== IMAGE_METADATA_FILE);
    expect(written).toEqual(image.context.files.map((f) => [f.path, f.sha256]));
    // what `modelfab build` reads; outside the hash and outside what the build sees
    expect(JSON.parse(fs.readFileSync(path.join(image.contextDir, IMAGE_METADATA_FILE), 'utf8'))).toEqual({
      imageRef: image.imageRef,
      repository: 'ghcr.io/acme/iris',
      tag: image.tag,
      platform: 'linux/amd64',
      runtime: 'modelfab',
      constructPath: 'prod/image',
    });
    expect(fs.readFileSync(path.join(image.contextDir, '.dockerignore'), 'utf8')).toMatch(/^\*$/m);
    const copy = path.join(image.contextDir, 'model/iris.onnx');
    expect(sha256File(copy)).toBe(image.model.sha256);
    expect(fs.readFileSync(copy).equals(fs.readFileSync(IRIS))).toBe(true);
    for (const file of image.context.files) {
      if (isCopiedFile(file)) continue;
      expect(fs.readFileSync(path.join(image.contextDir, file.path)).equals(Buffer.from(file.content))).toBe(
        true,
      );
    }
    const config = parseServingConfigFile(
      JSON.parse(fs.readFileSync(path.join(image.contextDir, 'modelfab.json'), 'utf8')),
      'modelfab.json',
    );
    expect(config.model.sha256).toBe(image.model.sha256);
  });

  it('is the ModelImageSource an InferenceService takes', () => {
    const { image } = synth({ ...BASE, version: '3' });
    expect(isModelImageSource(image)).toBe(true);
    expect(image.imageRef).toBe(`ghcr.io/acme/iris:${image.tag}`);
    expect(image.tag).toMatch(/^[0-9a-f]{16}$/);
    expect(image.tag).toBe(image.context.hash.slice(0, 16));
    expect(image.modelPath).toBe(IRIS);
    expect(image.runtime).toBe('modelfab');
    expect(image.modelName).toBe('iris');
    expect(image.modelVersion).toBe('3');
    expect(image.batching).toEqual({ maxBatchSize: 8, maxQueueDelayMs: 2 });

    const outdir = fs.mkdtempSync(path.join(scratch, 'svc-'));
    const app = new App({ outdir });
    const chart = new Chart(app, 'prod', { namespace: 'ml' });
    const served = new ModelImage(chart, 'image', BASE);
    new InferenceService(chart, 'iris', { image: served });
    app.synth();
    const deployment = (chart.toJson() as KubeObject[]).find((o) => o.kind === 'Deployment') as any;
    expect(deployment.spec.template.spec.containers[0].image).toBe(served.imageRef);
  });

  it('keeps its tag across synths, and rewrites a stale context', () => {
    const first = synth(BASE);
    const second = synth(BASE);
    expect(second.image.tag).toBe(first.image.tag);
    expect(fileTree(second.image.contextDir)).toEqual(fileTree(first.image.contextDir));
    // A re-synth into the same outdir leaves nothing of the previous context behind.
    fs.writeFileSync(path.join(first.image.contextDir, 'stale.txt'), 'old');
    const again = synth({ ...BASE, runtime: 'triton' }, first.outdir);
    expect(fileTree(again.image.contextDir).map(([p]) => p)).toEqual([
      '.dockerignore',
      IMAGE_METADATA_FILE,
      'Dockerfile',
      'model_repository/iris/1/model.onnx',
      'model_repository/iris/config.pbtxt',
    ]);
    expect(again.image.tag).not.toBe(first.image.tag);
  });

  it('writes no build context when synth fails, and none before synth', () => {
    const outdir = fs.mkdtempSync(path.join(scratch, 'failed-'));
    const app = new App({ outdir });
    const chart = new Chart(app, 'prod', { namespace: 'ml' });
    const image = new ModelImage(chart, 'image', BASE);
    expect(fs.existsSync(image.contextDir)).toBe(false);
    // An untagged image reference fails the policy rule image-tag: synth throws.
    new InferenceService(chart, 'other', { model: IRIS, image: 'ghcr.io/acme/other' });
    expect(() => app.synth()).toThrow(/policy image-tag failed/);
    expect(fs.readdirSync(outdir)).toEqual([]);
  });

  it('gets a new tag when the model changes', () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'model-'));
    const model = path.join(dir, 'iris.onnx');
    fs.copyFileSync(IRIS, model);
    const before = synth({ ...BASE, model }).image;
    fs.copyFileSync(fixtures['batchable-classifier'].path, model);
    const after = synth({ ...BASE, model }).image;
    expect(after.tag).not.toBe(before.tag);
    expect(sha256File(path.join(after.contextDir, 'model/iris.onnx'))).toBe(sha256File(model));
  });

  it('starts the server the Dockerfile runs, from the written context', async () => {
    const { image } = synth(BASE);
    // The image installs node_modules from the lockfile; here the project's own install stands in.
    fs.symlinkSync(path.resolve(__dirname, '../node_modules'), path.join(image.contextDir, 'node_modules'));
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const server: ChildProcess = spawn(process.execPath, [path.join(image.contextDir, 'server/main.js')], {
      cwd: image.contextDir,
      env: {
        PATH: process.env.PATH,
        MODELFAB_CONFIG: path.join(image.contextDir, 'modelfab.json'),
        MODELFAB_PORT: String(port),
        MODELFAB_METRICS_PORT: String(port + 1),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    server.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const deadline = Date.now() + 20_000;
      let ready = false;
      while (!ready && Date.now() < deadline) {
        ready = await fetch(`http://127.0.0.1:${port}/v2/health/ready`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready, stderr).toBe(true);
      const response = await fetch(`http://127.0.0.1:${port}/v2/models/iris/versions/1/infer`, {
        method: 'POST',
        body: JSON.stringify({
          inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
        }),
      });
      expect(response.status, stderr).toBe(200);
      const body = (await response.json()) as { outputs: Array<{ name: string; data: number[] }> };
      expect(body.outputs.find((o) => o.name === 'label')!.data).toEqual([0]);
      // the bundle has no package.json above it: the version is compiled in
      const metadata = (await (await fetch(`http://127.0.0.1:${port}/v2`)).json()) as { version: string };
      expect(metadata.version).toBe(PACKAGE_VERSION);
    } finally {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
    }
  });

  it('fails on each bad prop with the construct path, the value and the fix', () => {
    const fixed = fixtures['fixed-shape'].path;
    const cases: Array<[Partial<ModelImageProps> & Record<string, unknown>, string, string]> = [
      [
        { model: undefined },
        'model',
        'model must be a non-empty string, got undefined; set model to the path of the .onnx file',
      ],
      [{ model: path.join(scratch, 'missing.onnx') }, 'model', 'missing.onnx'],
      [
        { serving: { maxBatchsize: 8 } as never },
        'serving.maxBatchsize',
        'serving.maxBatchsize is not a prop of ModelImage; did you mean serving.maxBatchSize?',
      ],
      [
        { repository: 'ghcr.io/acme/iris:1.0' },
        'repository',
        'repository "ghcr.io/acme/iris:1.0" has a tag; remove it, the tag is the hash of the build context: "ghcr.io/acme/iris"',
      ],
      [
        { repository: 'GHCR.io/Acme/Iris' },
        'repository',
        'repository "GHCR.io/Acme/Iris" is not a valid image repository; use [registry/]path in lower case',
      ],
      [
        { runtime: 'tensorflow' as never },
        'runtime',
        `runtime "tensorflow" is not one of 'modelfab', 'triton'`,
      ],
      [
        { platform: 'linux/386' as never },
        'platform',
        `platform "linux/386" is not one of 'linux/amd64', 'linux/arm64'`,
      ],
      [
        { name: 'Bad Name!' },
        'name',
        `name "Bad Name!" is not a valid model name; use at most 63 alphanumerics`,
      ],
      [{ version: '' }, 'version', 'version "" is not a valid model version'],
      [
        { runtime: 'triton', version: 'v1' },
        'version',
        `version "v1" is not a positive integer; triton names model versions by number, e.g. '1'`,
      ],
      [
        { baseImages: { runtime: 'gcr.io/distroless/nodejs20-debian12' } },
        'baseImages.runtime',
        `baseImages.runtime "gcr.io/distroless/nodejs20-debian12" has neither a tag nor a digest, so the build would take whatever 'latest' is; pin it`,
      ],
      [
        { baseImages: { builder: 'node:20 slim' } },
        'baseImages.builder',
        'baseImages.builder "node:20 slim" is not a valid image reference',
      ],
      [
        { runtime: 'triton', baseImages: { builder: 'node:20' } },
        'baseImages.builder',
        'baseImages.builder "node:20" is set, but the triton image has no build stage; remove it',
      ],
      [
        { serving: { maxBatchSize: 0 } },
        'serving.maxBatchSize',
        'serving.maxBatchSize must be an integer from 1 to 4096, got 0; use 1 to turn batching off',
      ],
      [
        { serving: { maxQueueDelayMs: -1 } },
        'serving.maxQueueDelayMs',
        'serving.maxQueueDelayMs must be a number from 0 to 10000, got -1',
      ],
      [
        { serving: { workers: 2.5 } },
        'serving.workers',
        'serving.workers must be an integer from 1 to 256, got 2.5',
      ],
      [
        { runtime: 'triton', serving: { workers: 2 } },
        'serving.workers',
        'serving.workers 2 applies to the modelfab runtime only; with triton set triton.instanceCount instead',
      ],
      [
        { serving: { maxBatchSize: 4 }, model: fixed },
        'serving.maxBatchSize',
        'serving.maxBatchSize 4 needs a model that batches along dimension 0, but input "image" has no batch dimension 0; remove serving.maxBatchSize or set it to 1',
      ],
      [
        { triton: { instanceCount: 2 } },
        'triton',
        `triton is set but runtime is "modelfab"; set runtime: 'triton' or remove triton`,
      ],
      [
        { runtime: 'triton', triton: { kind: 'tpu' as never } },
        'triton.kind',
        `triton.kind "tpu" is not one of 'cpu', 'gpu'`,
      ],
      [
        { runtime: 'triton', triton: { instanceCount: 0 } },
        'triton.instanceCount',
        'triton.instanceCount must be an integer from 1 to 64, got 0',
      ],
      [
        { runtime: 'triton', triton: { kind: 'cpu', tensorrtFp16: true } },
        'triton.tensorrtFp16',
        `triton.tensorrtFp16 is true but triton.kind is 'cpu'; tensorrt runs on gpus`,
      ],
      [
        { runtime: 'triton', serving: { maxBatchSize: 8 }, triton: { preferredBatchSizes: [4, 4] } },
        'triton.preferredBatchSizes',
        'triton.preferredBatchSizes [4,4] lists a size twice; list each once',
      ],
      [
        { runtime: 'triton', serving: { maxBatchSize: 8 }, triton: { preferredBatchSizes: [16] } },
        'triton.preferredBatchSizes',
        'triton.preferredBatchSizes must be an integer from 1 to 8, got 16; each must be at most serving.maxBatchSize',
      ],
    ];
    for (const [override, prop, message] of cases) {
      const props = { ...BASE, ...override };
      const error = errorOf(() => synth(props));
      expect(error.constructPath, message).toBe('prod/image');
      expect(error.prop, message).toBe(prop);
      expect(error.message.startsWith('[prod/image] '), error.message).toBe(true);
      expect(error.message).toContain(message);
    }
  });
});
