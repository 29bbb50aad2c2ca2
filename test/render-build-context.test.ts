import * as crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ModelImageProps,
  ModelfabValidationError,
  parseServingConfigFile,
  resolveModelImage,
  RUNTIME_CONTRACTS,
} from '../lib/core';
import { inspectModel, type ModelInfo } from '../lib/model';
import {
  type BuildContext,
  type BundleFile,
  type ContentFile,
  isCopiedFile,
  lockedPackageName,
  parseRuntimeManifests,
  registryTarballUrl,
  renderBuildContext,
  renderRuntimeManifests,
  resolveLockedDependency,
  RuntimeLockError,
  type RuntimeLockSource,
} from '../lib/render';
import {
  installedRuntimeVersion,
  loadRuntimeManifests,
  loadServerBundle,
  modelfabRoot,
  RUNTIME_LOCK_FILE,
  SERVER_BUILD_DIR,
  ServerBundleError,
} from '../lib/server/bundle-server';
import { buildServer, ServerBuildError } from '../tools/build-server';
import { makeTempDir, removeDir, writeFixtureModels } from './support/fixture-models';

const ROOT = path.resolve(__dirname, '..');
const IRIS = path.join(ROOT, 'examples/iris/model/iris.onnx');
const scratch = makeTempDir('modelfab-build-context-');
const fixtures = writeFixtureModels(scratch);
afterAll(() => removeDir(scratch));

const iris = inspectModel(IRIS);
// What the vitest global setup built from these sources (test/global-setup.ts).
const runtime = loadRuntimeManifests();
const ORT_VERSION = (
  JSON.parse(fs.readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }
).version;
const PACKAGE_JSON = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const PACKAGE_LOCK = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));

/** A stand-in bundle for tests that only need its bytes to feed the hash. */
const FAKE_BUNDLE: BundleFile[] = [
  { path: 'server/main.js', contents: '"use strict";\nrequire("./inference-worker.js");\n' },
  { path: 'server/inference-worker.js', contents: '"use strict";\n' },
];

function specOf(props: Partial<ModelImageProps>, model = IRIS) {
  return resolveModelImage(
    { model, repository: 'ghcr.io/acme/iris', ...props },
    { constructPath: 'prod/image' },
  );
}

function render(
  props: Partial<ModelImageProps> = {},
  model: ModelInfo = iris,
  bundle: readonly BundleFile[] = FAKE_BUNDLE,
): BuildContext {
  return renderBuildContext({ spec: specOf(props, model.path), model, bundle, runtime });
}

function content(context: BuildContext, file: string): string {
  const entry = context.files.find((f) => f.path === file);
  if (!entry) throw new Error(`no ${file} in ${context.files.map((f) => f.path).join(', ')}`);
  if (isCopiedFile(entry)) throw new Error(`${file} is copied, not written`);
  return typeof entry.content === 'string' ? entry.content : Buffer.from(entry.content).toString('utf8');
}

function sha256(data: string | Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** The Dockerfile's instructions, continuation lines joined, comments left out. */
function instructions(dockerfile: string): string[] {
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

describe('the modelfab build context', () => {
  const context = render();

  it('holds exactly the files the image needs, the model copied by its known digest', () => {
    expect(context.files.map((f) => f.path)).toEqual([
      '.dockerignore',
      'Dockerfile',
      'model/iris.onnx',
      'modelfab.json',
      'package-lock.json',
      'package.json',
      'server/inference-worker.js',
      'server/main.js',
    ]);
    const model = context.files.find((f) => f.path === 'model/iris.onnx')!;
    expect(model).toEqual({ path: 'model/iris.onnx', copyFrom: IRIS, sha256: iris.sha256 });
    expect(sha256(fs.readFileSync(IRIS))).toBe(iris.sha256);
    for (const file of context.files.filter((f): f is ContentFile => !isCopiedFile(f))) {
      expect(file.sha256, file.path).toBe(sha256(file.content));
    }
    expect(context.modelFile).toBe('model/iris.onnx');
  });

  it('hashes the sorted sha256sum lines of its files; the tag is the hash, shortened', () => {
    const lines = context.files.map((f) => `${f.sha256}  ${f.path}\n`).join('');
    expect(context.hash).toBe(sha256(lines));
    expect(context.tag).toBe(context.hash.slice(0, 16));
    expect(context.imageRef).toBe(`ghcr.io/acme/iris:${context.tag}`);
  });

  it('has a multi-stage Dockerfile: npm ci in a builder, a non-root distroless stage that runs node on the server', () => {
    const dockerfile = content(context, 'Dockerfile');
    const lines = instructions(dockerfile);
    expect(lines.slice(0, 2)).toEqual([
      'ARG BUILDER_IMAGE=node:20-bookworm-slim',
      'ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot',
    ]);
    const froms = lines.filter((l) => l.startsWith('FROM '));
    expect(froms).toEqual([
      'FROM --platform=linux/amd64 ${BUILDER_IMAGE} AS builder',
      'FROM --platform=linux/amd64 ${RUNTIME_IMAGE}',
    ]);
    const runtimeStage = lines.slice(lines.indexOf(froms[1]));
    const builderStage = lines.slice(lines.indexOf(froms[0]), lines.indexOf(froms[1]));
    expect(builderStage).toContain('COPY package.json package-lock.json ./');
    expect(builderStage.find((l) => l.startsWith('RUN '))).toMatch(
      /^RUN npm ci --omit=dev --ignore-scripts /,
    );
    // The runtime stage needs no shell: no RUN, exec-form entrypoint on distroless node.
    expect(runtimeStage.filter((l) => l.startsWith('RUN '))).toEqual([]);
    expect(runtimeStage).toEqual(
      expect.arrayContaining([
        'COPY --from=builder /app/node_modules ./node_modules',
        'COPY server/ ./server/',
        'COPY model/ ./model/',
        'COPY modelfab.json ./',
        'ENV NODE_ENV=production MODELFAB_CONFIG=/app/modelfab.json HOME=/tmp',
        `USER ${RUNTIME_CONTRACTS.modelfab.uid}:${RUNTIME_CONTRACTS.modelfab.uid}`,
        'EXPOSE 8080 9090',
      ]),
    );
    expect(runtimeStage[runtimeStage.length - 1]).toBe(
      'ENTRYPOINT ["/nodejs/bin/node", "/app/server/main.js"]',
    );
    const label = runtimeStage.find((l) => l.startsWith('LABEL '))!;
    expect(label).toContain('org.opencontainers.image.title="iris"');
    expect(label).toContain('org.opencontainers.image.version="1"');
    expect(label).toContain(`org.opencontainers.image.revision="${iris.sha256}"`);
    expect(label).toContain(`dev.modelfab.onnxruntime-node="${ORT_VERSION}"`);
    expect(label).toContain('org.opencontainers.image.base.name="${RUNTIME_IMAGE}"');
  });

  it("keeps only the target platform's onnxruntime binaries (the Dockerfile's commands, run on a real tree)", () => {
    for (const [platform, kept] of [
      ['linux/amd64', 'linux/x64'],
      ['linux/arm64', 'linux/arm64'],
    ] as const) {
      const dockerfile = content(render({ platform }), 'Dockerfile');
      expect(dockerfile).toContain(`FROM --platform=${platform} \${BUILDER_IMAGE} AS builder`);
      const run = instructions(dockerfile).find((l) => l.startsWith('RUN '))!;
      const prune = run.slice(run.indexOf('&&') + 2);
      const root = fs.mkdtempSync(path.join(scratch, 'ort-'));
      const bin = path.join(root, 'node_modules/onnxruntime-node/bin/napi-v6');
      const all = ['darwin/arm64', 'linux/x64', 'linux/arm64', 'win32/x64', 'win32/arm64'];
      for (const dir of all) {
        fs.mkdirSync(path.join(bin, dir), { recursive: true });
        fs.writeFileSync(path.join(bin, dir, 'onnxruntime_binding.node'), dir);
      }
      fs.writeFileSync(path.join(root, 'node_modules/onnxruntime-node/package.json'), '{}');
      execFileSync('sh', ['-c', prune], { cwd: root, stdio: 'pipe' });
      const left = fs
        .readdirSync(path.join(root, 'node_modules/onnxruntime-node/bin'), { recursive: true })
        .map(String)
        .filter((p) => p.endsWith('.node'));
      expect(left).toEqual([path.join('napi-v6', kept, 'onnxruntime_binding.node')]);
      expect(fs.existsSync(path.join(root, 'node_modules/onnxruntime-node/package.json'))).toBe(true);
      // Without the binary of the platform, the build fails instead of shipping a server that cannot start.
      fs.rmSync(path.join(bin, kept), { recursive: true });
      expect(() => execFileSync('sh', ['-c', prune], { cwd: root, stdio: 'pipe' })).toThrow();
    }
  });

  it('lets the base images be swapped and pinned by digest', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const dockerfile = content(
      render({
        baseImages: { builder: `node@${digest}`, runtime: `registry.local/distroless/node:20@${digest}` },
      }),
      'Dockerfile',
    );
    expect(dockerfile).toContain(`ARG BUILDER_IMAGE=node@${digest}\n`);
    expect(dockerfile).toContain(`ARG RUNTIME_IMAGE=registry.local/distroless/node:20@${digest}\n`);
  });

  it('ignores everything in .dockerignore but what the Dockerfile copies', () => {
    const ignore = content(context, '.dockerignore')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const copied = instructions(content(context, 'Dockerfile'))
      .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
      .flatMap((l) => l.split(/\s+/).slice(1, -1))
      .map((source) => source.replace(/\/$/, ''));
    expect(
      ignore
        .slice(1)
        .map((l) => l.slice(1))
        .sort(),
    ).toEqual([...new Set(copied)].sort());
    // Every file of the context is either one the Dockerfile copies or the build's own files.
    for (const file of context.files) {
      if (file.path === 'Dockerfile' || file.path === '.dockerignore') continue;
      expect(
        copied.some((c) => file.path === c || file.path.startsWith(`${c}/`)),
        file.path,
      ).toBe(true);
    }
  });

  it('pins exactly the onnxruntime-node modelfab pins (and installed) in package.json', () => {
    expect(PACKAGE_JSON.dependencies['onnxruntime-node']).toBe(ORT_VERSION);
    const pkg = JSON.parse(content(context, 'package.json'));
    expect(pkg.private).toBe(true);
    expect(pkg.dependencies).toEqual({ 'onnxruntime-node': ORT_VERSION });
    expect(pkg.devDependencies).toBeUndefined();
  });

  it("locks onnxruntime-node's dependency closure, each package as modelfab's package-lock.json has it", () => {
    const lockfile = JSON.parse(content(context, 'package-lock.json'));
    const source = PACKAGE_LOCK.packages as Record<string, Record<string, unknown>>;
    expect(lockfile.lockfileVersion).toBe(3);
    expect(lockfile.packages[''].dependencies).toEqual({ 'onnxruntime-node': ORT_VERSION });
    const locations = Object.keys(lockfile.packages).filter((l) => l !== '');
    expect(locations).toEqual(
      expect.arrayContaining([
        'node_modules/onnxruntime-node',
        'node_modules/onnxruntime-common',
        'node_modules/adm-zip',
        'node_modules/global-agent',
      ]),
    );
    // Nothing the runtime does not need: no test or build tools.
    for (const name of ['vitest', 'esbuild', 'cdk8s', 'prom-client', 'typescript']) {
      expect(locations).not.toContain(`node_modules/${name}`);
    }
    // The closure: every package is reached from onnxruntime-node, every dependency resolves inside it.
    const reached = new Set(['node_modules/onnxruntime-node']);
    const queue = ['node_modules/onnxruntime-node'];
    while (queue.length > 0) {
      const at = queue.shift()!;
      const entry = lockfile.packages[at];
      for (const [name, optional] of [
        ...Object.keys(entry.dependencies ?? {}).map((n) => [n, false] as const),
        ...Object.keys(entry.optionalDependencies ?? {}).map((n) => [n, true] as const),
      ]) {
        const target = resolveLockedDependency(lockfile.packages, at, name);
        if (target === undefined) {
          expect(optional, `${at} needs ${name}`).toBe(true);
          continue;
        }
        if (!reached.has(target)) {
          reached.add(target);
          queue.push(target);
        }
      }
    }
    expect([...reached].sort()).toEqual([...locations].sort());
    for (const location of locations) {
      const entry = lockfile.packages[location];
      expect(entry.version, location).toBe(source[location].version);
      expect(entry.integrity, location).toMatch(/^sha512-/);
      expect(entry.integrity, location).toBe(source[location].integrity);
      // npm's registry URL where the lock omits it (omit-lockfile-registry-resolved).
      expect(entry.resolved, location).toBe(
        source[location].resolved ?? registryTarballUrl(lockedPackageName(location), entry.version),
      );
      expect(entry.dev, location).toBeUndefined();
      expect(entry.devOptional, location).toBeUndefined();
    }
  });

  it('writes modelfab.json as the server reads it, matching the model', () => {
    const config = parseServingConfigFile(JSON.parse(content(context, 'modelfab.json')), 'modelfab.json');
    expect(config.model).toEqual({
      name: 'iris',
      version: '1',
      file: 'model/iris.onnx',
      sha256: iris.sha256,
      inputs: [{ name: 'input', elementType: 'float32', shape: ['batch', 4] }],
      outputs: [
        { name: 'probabilities', elementType: 'float32', shape: ['batch', 3] },
        { name: 'label', elementType: 'int64', shape: ['batch'] },
      ],
    });
    expect(config.batching).toEqual({ maxBatchSize: 8, maxQueueDelayMs: 2 });
    expect(config.threads).toEqual({});

    const tuned = render({
      name: 'flowers',
      version: '2024-06',
      serving: { maxBatchSize: 32, maxQueueDelayMs: 0.5, workers: 2, intraOpThreads: 3 },
    });
    const file = parseServingConfigFile(JSON.parse(content(tuned, 'modelfab.json')), 'modelfab.json');
    expect(file.model).toMatchObject({ name: 'flowers', version: '2024-06', file: 'model/flowers.onnx' });
    expect(file.batching).toEqual({ maxBatchSize: 32, maxQueueDelayMs: 0.5 });
    expect(file.threads).toEqual({ workers: 2, intraOpThreads: 3 });
    expect(tuned.files.map((f) => f.path)).toContain('model/flowers.onnx');
  });

  it('turns batching off for a model without a batch dimension, and refuses to batch it', () => {
    const fixed = inspectModel(fixtures['fixed-shape'].path);
    const config = parseServingConfigFile(
      JSON.parse(content(render({}, fixed), 'modelfab.json')),
      'modelfab.json',
    );
    expect(config.batching).toEqual({ maxBatchSize: 1, maxQueueDelayMs: 0 });
    expect(config.model.inputs).toEqual([{ name: 'image', elementType: 'float32', shape: [1, 3, 8, 8] }]);
    expect(() => render({ serving: { maxBatchSize: 1 } }, fixed)).not.toThrow();
    let error: unknown;
    try {
      render({ serving: { maxBatchSize: 4 } }, fixed);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelfabValidationError);
    expect((error as ModelfabValidationError).prop).toBe('serving.maxBatchSize');
    expect((error as Error).message).toBe(
      '[prod/image] serving.maxBatchSize 4 needs a model that batches along dimension 0, but input "image" has no batch dimension 0; remove serving.maxBatchSize or set it to 1',
    );
  });
});

describe('the context hash', () => {
  it('is the same for the same inputs, across renders and re-inspections', () => {
    const a = render();
    const b = renderBuildContext({
      spec: specOf({}),
      model: inspectModel(IRIS),
      bundle: [...FAKE_BUNDLE].reverse(),
      runtime: loadRuntimeManifests(),
    });
    expect(b.hash).toBe(a.hash);
    expect(b.tag).toBe(a.tag);
    // The construct path is not content: another chart with the same image gets the same tag.
    const elsewhere = renderBuildContext({
      spec: resolveModelImage(
        { model: IRIS, repository: 'ghcr.io/acme/iris' },
        { constructPath: 'staging/img' },
      ),
      model: iris,
      bundle: FAKE_BUNDLE,
      runtime,
    });
    expect(elsewhere.tag).toBe(a.tag);
  });

  it('changes when the model, the server bundle or a setting changes', () => {
    const base = render();
    const copy = path.join(scratch, 'iris.onnx');
    fs.copyFileSync(IRIS, copy);
    expect(render({}, inspectModel(copy)).tag).toBe(base.tag); // same bytes, another folder
    const other = path.join(scratch, 'other', 'iris.onnx');
    fs.mkdirSync(path.dirname(other), { recursive: true });
    fs.copyFileSync(fixtures['batchable-classifier'].path, other);
    const changedModel = render({}, inspectModel(other));
    const changedServer = render({}, iris, [
      { path: 'server/main.js', contents: `${FAKE_BUNDLE[0].contents}// changed\n` },
      FAKE_BUNDLE[1],
    ]);
    const tags = [
      base.tag,
      changedModel.tag,
      changedServer.tag,
      render({ serving: { maxBatchSize: 16 } }).tag,
      render({ platform: 'linux/arm64' }).tag,
      render({ version: '2' }).tag,
      render({ baseImages: { runtime: 'gcr.io/distroless/nodejs20-debian12:debug-nonroot' } }).tag,
    ];
    expect(new Set(tags).size).toBe(tags.length);
    // The repository names the image but is not in the context: the tag stays.
    expect(render({ repository: 'registry.example.com/ml/iris' }).tag).toBe(base.tag);
  });
});

describe('the triton build context', () => {
  function renderTriton(props: Partial<ModelImageProps>, model: ModelInfo = iris): BuildContext {
    return renderBuildContext({ spec: specOf({ runtime: 'triton', ...props }, model.path), model });
  }

  it('is a model repository on the triton image', () => {
    const context = renderTriton({});
    expect(context.files.map((f) => f.path)).toEqual([
      '.dockerignore',
      'Dockerfile',
      'model_repository/iris/1/model.onnx',
      'model_repository/iris/config.pbtxt',
    ]);
    expect(context.files.find((f) => f.path.endsWith('model.onnx'))).toEqual({
      path: 'model_repository/iris/1/model.onnx',
      copyFrom: IRIS,
      sha256: iris.sha256,
    });
    const lines = instructions(content(context, 'Dockerfile'));
    expect(lines[0]).toBe('ARG TRITON_IMAGE=nvcr.io/nvidia/tritonserver:25.11-py3');
    expect(lines).toEqual(
      expect.arrayContaining([
        'FROM --platform=linux/amd64 ${TRITON_IMAGE}',
        'COPY model_repository/ /models/',
        `USER ${RUNTIME_CONTRACTS.triton.uid}`,
        'EXPOSE 8000 8001 8002',
      ]),
    );
    expect(lines[lines.length - 1]).toBe(
      'ENTRYPOINT ["/opt/tritonserver/bin/tritonserver", "--model-repository=/models", "--disable-auto-complete-config", "--http-port=8000", "--metrics-port=8002"]',
    );
    expect(content(context, '.dockerignore')).toBe(
      '# Only what the Dockerfile copies.\n*\n!model_repository\n',
    );
  });

  it('describes a batchable model: max_batch_size, dims without the batch, dynamic batching, instances, TensorRT FP16', () => {
    const context = renderTriton({
      serving: { maxBatchSize: 16, maxQueueDelayMs: 0.5, intraOpThreads: 2 },
      triton: { instanceCount: 2, kind: 'gpu', tensorrtFp16: true, preferredBatchSizes: [16, 4] },
    });
    expect(content(context, 'model_repository/iris/config.pbtxt')).toBe(
      [
        '# Generated by modelfab (ModelImage); synth rewrites it.',
        'name: "iris"',
        'platform: "onnxruntime_onnx"',
        'max_batch_size: 16',
        'input [',
        '  {',
        '    name: "input"',
        '    data_type: TYPE_FP32',
        '    dims: [ 4 ]',
        '  }',
        ']',
        'output [',
        '  {',
        '    name: "probabilities"',
        '    data_type: TYPE_FP32',
        '    dims: [ 3 ]',
        '  },',
        '  {',
        '    name: "label"',
        '    data_type: TYPE_INT64',
        '    dims: [ 1 ]',
        '    reshape: { shape: [ ] }',
        '  }',
        ']',
        'dynamic_batching {',
        '  preferred_batch_size: [ 4, 16 ]',
        '  max_queue_delay_microseconds: 500',
        '}',
        'instance_group [',
        '  {',
        '    count: 2',
        '    kind: KIND_GPU',
        '  }',
        ']',
        'optimization {',
        '  execution_accelerators {',
        '    gpu_execution_accelerator: [',
        '      {',
        '        name: "tensorrt"',
        '        parameters { key: "precision_mode" value: "FP16" }',
        '      }',
        '    ]',
        '  }',
        '}',
        'parameters { key: "intra_op_thread_count" value: { string_value: "2" } }',
        '',
      ].join('\n'),
    );
  });

  it('describes a model that cannot batch: max_batch_size 0, full dims, no dynamic batching', () => {
    const config = content(
      renderTriton({ triton: { kind: 'cpu' } }, inspectModel(fixtures['fixed-shape'].path)),
      'model_repository/fixed-shape/config.pbtxt',
    );
    expect(config).toContain('max_batch_size: 0\n');
    expect(config).toContain('    name: "image"\n    data_type: TYPE_FP32\n    dims: [ 1, 3, 8, 8 ]\n');
    expect(config).toContain('    name: "features"\n    data_type: TYPE_FP32\n    dims: [ 1, 4, 6, 6 ]\n');
    expect(config).toContain('    kind: KIND_CPU\n');
    expect(config).not.toContain('dynamic_batching');
    expect(config).not.toContain('tensorrt');

    // Scalars (a non-batchable model's) are [1] reshaped to []; symbolic dims are -1.
    const multi = content(
      renderTriton({}, inspectModel(fixtures['multi-io'].path)),
      'model_repository/multi-io/config.pbtxt',
    );
    expect(multi).toContain('max_batch_size: 0\n');
    expect(multi).toContain('    name: "tokens"\n    data_type: TYPE_FP32\n    dims: [ -1, -1, 8 ]\n');
    expect(multi).toContain(
      '    name: "k"\n    data_type: TYPE_INT64\n    dims: [ 1 ]\n    reshape: { shape: [ ] }\n',
    );
    expect(multi).toContain('    name: "mask"\n    data_type: TYPE_BOOL\n    dims: [ -1 ]\n');
  });

  it('maps every element type Triton has', () => {
    const config = content(
      renderTriton({}, inspectModel(fixtures['all-element-types'].path)),
      'model_repository/all-element-types/config.pbtxt',
    );
    for (const type of [
      'BOOL',
      'UINT8',
      'UINT16',
      'UINT32',
      'UINT64',
      'INT8',
      'INT16',
      'INT32',
      'INT64',
      'FP16',
      'FP32',
      'FP64',
      'STRING',
    ]) {
      expect(config).toContain(`data_type: TYPE_${type}\n`);
    }
  });

  it('refuses what Triton cannot describe or run, naming the value and the fix', () => {
    const cases: Array<[ModelInfo, Partial<ModelImageProps>, RegExp]> = [
      [
        inspectModel(fixtures['sequence-input'].path),
        {},
        /input "items" is a sequence, not a tensor; .*runtime: 'modelfab'/,
      ],
      [inspectModel(fixtures['unnamed-dims'].path), {}, /input "z" has no declared rank/],
      [
        iris,
        { triton: { preferredBatchSizes: [4, 16] } },
        /preferredBatchSizes has 16, above the max batch size 8; lower it or raise serving.maxBatchSize/,
      ],
      [
        iris,
        { serving: { maxBatchSize: 1 }, triton: { preferredBatchSizes: [1] } },
        /needs batching, but serving.maxBatchSize is 1/,
      ],
      [
        inspectModel(fixtures['fixed-shape'].path),
        { triton: { preferredBatchSizes: [2] } },
        /needs batching, but input "image" has no batch dimension 0/,
      ],
    ];
    for (const [model, props, message] of cases) {
      expect(() => renderTriton(props, model)).toThrow(ModelfabValidationError);
      expect(() => renderTriton(props, model)).toThrow(message);
    }
  });
});

describe('renderRuntimeManifests', () => {
  const entry = (version: string, extra: Record<string, unknown> = {}) => ({
    version,
    resolved: `https://registry.npmjs.org/x/-/x-${version}.tgz`,
    integrity: `sha512-${version}`,
    ...extra,
  });
  const source = (
    packages: Record<string, unknown>,
    rootLocation = 'node_modules/onnxruntime-node',
  ): RuntimeLockSource => ({
    lockfilePath: '/p/package-lock.json',
    lock: { lockfileVersion: 3, packages },
    rootLocation,
    pinnedVersion: '1.30.0',
  });

  it('moves a nested install to the root, keeps nested versions nested, drops dev flags and unrelated packages', () => {
    const manifests = renderRuntimeManifests(
      source(
        {
          'node_modules/modelfab': entry('0.1.0', { dependencies: { 'onnxruntime-node': '^1.30.0' } }),
          'node_modules/modelfab/node_modules/onnxruntime-node': entry('1.30.0', {
            dev: true,
            dependencies: { a: '^1', b: '^2' },
            optionalDependencies: { fsevents: '^2', c: '^1' },
          }),
          'node_modules/modelfab/node_modules/a': entry('1.0.0', { dev: true, dependencies: { b: '^1' } }),
          'node_modules/modelfab/node_modules/a/node_modules/b': entry('1.5.0', { devOptional: true }),
          'node_modules/b': entry('2.0.0', { dev: true }),
          'node_modules/c': entry('1.0.0', { dev: true, dependencies: { d: '^1' } }),
          'node_modules/d': entry('1.0.0'),
          'node_modules/unrelated': entry('9.9.9'),
        },
        'node_modules/modelfab/node_modules/onnxruntime-node',
      ),
    );
    expect(manifests.packageJson.dependencies).toEqual({ 'onnxruntime-node': '1.30.0' });
    const packages = manifests.packageLock.packages as Record<string, Record<string, unknown>>;
    expect(Object.keys(packages)).toEqual([
      '',
      'node_modules/a',
      'node_modules/a/node_modules/b',
      'node_modules/b',
      'node_modules/c',
      'node_modules/d',
      'node_modules/onnxruntime-node',
    ]);
    expect(packages['node_modules/a/node_modules/b'].version).toBe('1.5.0');
    expect(packages['node_modules/b'].version).toBe('2.0.0');
    for (const [location, value] of Object.entries(packages)) {
      expect(value.dev, location).toBeUndefined();
      expect(value.devOptional, location).toBeUndefined();
    }
    // Only an optional dependency leads to c and d.
    expect(packages['node_modules/c'].optional).toBe(true);
    expect(packages['node_modules/d'].optional).toBe(true);
    expect(packages['node_modules/a'].optional).toBeUndefined();
  });

  it("names npm's registry URL for a package the source lock has no resolved URL for", () => {
    const { resolved: _, ...unresolved } = entry('1.30.0', { dependencies: { '@s/x': '^1', y: '^2' } });
    const manifests = renderRuntimeManifests(
      source({
        'node_modules/onnxruntime-node': unresolved,
        'node_modules/@s/x': { version: '1.2.3', integrity: 'sha512-x' },
        // An alias: the folder says y, the package is z.
        'node_modules/y': { name: 'z', version: '2.0.0', integrity: 'sha512-z' },
      }),
    );
    const packages = manifests.packageLock.packages as Record<string, Record<string, unknown>>;
    expect(packages['node_modules/onnxruntime-node'].resolved).toBe(
      'https://registry.npmjs.org/onnxruntime-node/-/onnxruntime-node-1.30.0.tgz',
    );
    expect(packages['node_modules/@s/x'].resolved).toBe('https://registry.npmjs.org/@s/x/-/x-1.2.3.tgz');
    expect(packages['node_modules/y']).toEqual({
      name: 'z',
      version: '2.0.0',
      resolved: 'https://registry.npmjs.org/z/-/z-2.0.0.tgz',
      integrity: 'sha512-z',
    });
    expect(lockedPackageName('node_modules/a/node_modules/@s/b')).toBe('@s/b');
    expect(registryTarballUrl('@s/b', '1.0.0', 'https://npm.example/r')).toBe(
      'https://npm.example/r/@s/b/-/b-1.0.0.tgz',
    );
  });

  it('fails with the lockfile, the package and the fix', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [
        { 'node_modules/onnxruntime-node': entry('1.29.0') },
        /locks onnxruntime-node 1.29.0 but package.json pins 1.30.0; the lockfile is stale: run npm install/,
      ],
      [
        { 'node_modules/onnxruntime-node': entry('1.30.0', { dependencies: { gone: '^1' } }) },
        /node_modules\/onnxruntime-node depends on gone, which the lockfile does not have; reinstall/,
      ],
      [
        { 'node_modules/onnxruntime-node': { version: '1.30.0', resolved: 'https://x' } },
        /node_modules\/onnxruntime-node has no integrity hash; reinstall from a registry/,
      ],
      [
        { 'node_modules/onnxruntime-node': { resolved: '../ort', link: true } },
        /is a link to \.\.\/ort, which cannot be pinned/,
      ],
      [{}, /node_modules\/onnxruntime-node has no version/],
    ];
    for (const [packages, message] of cases) {
      expect(() => renderRuntimeManifests(source(packages))).toThrow(RuntimeLockError);
      expect(() => renderRuntimeManifests(source(packages))).toThrow(message);
      expect(() => renderRuntimeManifests(source(packages))).toThrow(/^\/p\/package-lock\.json: /);
    }
    expect(() =>
      renderRuntimeManifests({ ...source({}), lock: { lockfileVersion: 1, dependencies: {} } }),
    ).toThrow(/has no "packages" map .*npm 7 or later/);
  });

  it('refuses a tree that would resolve differently once moved', () => {
    // a (nested beside onnxruntime-node) needs b@1 from the project's root, which onnxruntime-node's own b@2 would shadow.
    expect(() =>
      renderRuntimeManifests(
        source(
          {
            'node_modules/m/node_modules/onnxruntime-node': entry('1.30.0', {
              dependencies: { a: '^1', b: '^2' },
            }),
            'node_modules/m/node_modules/a': entry('1.0.0', { dependencies: { b: '^1' } }),
            'node_modules/m/node_modules/onnxruntime-node/node_modules/b': entry('2.0.0'),
            'node_modules/m/node_modules/b': entry('1.0.0'),
          },
          'node_modules/m/node_modules/onnxruntime-node',
        ),
      ),
    ).not.toThrow();
    expect(() =>
      renderRuntimeManifests(
        source(
          {
            'node_modules/m/node_modules/onnxruntime-node': entry('1.30.0', {
              dependencies: { a: '^1', b: '^2' },
            }),
            'node_modules/m/node_modules/b': entry('2.0.0'),
            'node_modules/a': entry('1.0.0', { dependencies: { b: '^1' } }),
            'node_modules/b': entry('1.0.0'),
          },
          'node_modules/m/node_modules/onnxruntime-node',
        ),
      ),
    ).toThrow(/would both install at node_modules\/b; run npm dedupe/);
  });
});

describe('the built server bundle (build/server/, shipped in the package)', () => {
  const files = loadServerBundle();

  it('holds the server, the inference worker and the codec worker, bundled from lib/', () => {
    expect(files.map((f) => f.path)).toEqual([
      'server/codec-worker.js',
      'server/inference-worker.js',
      'server/main.js',
    ]);
    const main = files.find((f) => f.path === 'server/main.js')!.contents;
    expect(main.startsWith('"use strict";')).toBe(true);
    expect(main).toContain('// lib/server/main.ts'); // not minified: readable, with its sources named
    expect(main).not.toContain('sourceMappingURL');
    for (const file of files) {
      expect(file.contents, file.path).toBe(
        fs.readFileSync(path.join(ROOT, SERVER_BUILD_DIR, path.basename(file.path)), 'utf8'),
      );
    }
  });

  it('requires nothing but node builtins and onnxruntime-node', () => {
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    for (const file of files) {
      const calls = [...file.contents.matchAll(/\brequire\(([^)]*)\)/g)].map((m) => m[1].trim());
      expect(calls.length, file.path).toBeGreaterThan(0);
      for (const argument of calls) {
        const literal = /^"([^"]+)"$/.exec(argument)?.[1];
        expect(literal, `${file.path}: require(${argument})`).toBeDefined();
        expect(
          builtins.has(literal!) || literal === 'onnxruntime-node',
          `${file.path}: require(${argument})`,
        ).toBe(true);
      }
    }
    // The worker runs onnxruntime; it is the one external package, installed by npm in the image.
    expect(files.find((f) => f.path === 'server/inference-worker.js')!.contents).toContain(
      'require("onnxruntime-node")',
    );
  });

  it('is read once per process, and the build gives the same bytes wherever modelfab sits', () => {
    expect(loadServerBundle()).toBe(files);
    expect(loadRuntimeManifests()).toBe(runtime);
    // A second checkout (its sources and lockfile linked): the same four files, byte for byte.
    const copy = fs.mkdtempSync(path.join(scratch, 'checkout-'));
    for (const name of ['package.json', 'package-lock.json', 'tsconfig.json', 'lib', 'node_modules']) {
      fs.symlinkSync(path.join(ROOT, name), path.join(copy, name));
    }
    const built = buildServer(copy);
    expect(built.dir).toBe(path.join(copy, SERVER_BUILD_DIR));
    expect(built.files.map((f) => f.name)).toEqual([
      'codec-worker.js',
      'inference-worker.js',
      'main.js',
      RUNTIME_LOCK_FILE,
    ]);
    expect(built.runtimeVersion).toBe(ORT_VERSION);
    for (const { name } of built.files) {
      expect(fs.readFileSync(path.join(built.dir, name), 'utf8'), name).toBe(
        fs.readFileSync(path.join(ROOT, SERVER_BUILD_DIR, name), 'utf8'),
      );
    }
    expect(loadServerBundle(copy)).toEqual(files);
    // A file an earlier build left is removed, so the package ships only these.
    fs.writeFileSync(path.join(built.dir, 'old-worker.js'), '');
    buildServer(copy);
    expect(fs.readdirSync(built.dir).sort()).toEqual(built.files.map((f) => f.name));
  });

  it('says to run npm run build when it was not built, and never bundles at synth', () => {
    const bare = fs.mkdtempSync(path.join(scratch, 'bare-'));
    fs.writeFileSync(path.join(bare, 'package.json'), JSON.stringify({ name: 'modelfab', version: '0.0.0' }));
    expect(modelfabRoot(path.join(bare, 'build/lib/server'))).toBe(bare);
    const missing = path.join(bare, SERVER_BUILD_DIR, 'codec-worker.js');
    expect(() => loadServerBundle(bare)).toThrow(ServerBundleError);
    expect(() => loadServerBundle(bare)).toThrow(
      `the server bundle file ${missing} does not exist; it is made when modelfab is built: run npm run build in ${bare} when working from modelfab's sources, or reinstall modelfab (its npm package ships it)`,
    );
    expect(() => loadRuntimeManifests(bare)).toThrow(
      `the image's runtime lock ${path.join(bare, SERVER_BUILD_DIR, RUNTIME_LOCK_FILE)} does not exist; it is made when modelfab is built`,
    );
    expect(() => modelfabRoot(path.parse(scratch).root)).toThrow(/cannot find modelfab's package.json above/);
    // esbuild is a development tool: no library file imports it, and the package does not depend on it.
    const importers = (fs.readdirSync(path.join(ROOT, 'lib'), { recursive: true }) as string[])
      .filter((file) => file.endsWith('.ts'))
      .filter((file) =>
        /from 'esbuild'|require\('esbuild'\)/.test(fs.readFileSync(path.join(ROOT, 'lib', file), 'utf8')),
      );
    expect(importers).toEqual([]);
    expect(PACKAGE_JSON.dependencies.esbuild).toBeUndefined();
    expect(PACKAGE_JSON.devDependencies.esbuild).toBeDefined();
    expect(PACKAGE_JSON.files).toEqual(expect.arrayContaining(['build/lib', SERVER_BUILD_DIR]));
  });
});

describe("the image's runtime lock (build/server/runtime-lock.json)", () => {
  it("is rendered from modelfab's package-lock.json at the version package.json pins exactly", () => {
    expect(PACKAGE_JSON.dependencies['onnxruntime-node']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(runtime).toEqual(
      renderRuntimeManifests({
        lockfilePath: path.join(ROOT, 'package-lock.json'),
        lock: PACKAGE_LOCK,
        rootLocation: 'node_modules/onnxruntime-node',
        pinnedVersion: PACKAGE_JSON.dependencies['onnxruntime-node'],
      }),
    );
    expect(runtime.version).toBe(installedRuntimeVersion());
  });

  it('refuses to build when package.json pins onnxruntime-node with a range', () => {
    const copy = fs.mkdtempSync(path.join(scratch, 'range-'));
    for (const name of ['package-lock.json', 'tsconfig.json', 'lib', 'node_modules']) {
      fs.symlinkSync(path.join(ROOT, name), path.join(copy, name));
    }
    fs.writeFileSync(
      path.join(copy, 'package.json'),
      JSON.stringify({
        ...PACKAGE_JSON,
        dependencies: { ...PACKAGE_JSON.dependencies, 'onnxruntime-node': '^1.30.0' },
      }),
    );
    expect(() => buildServer(copy)).toThrow(ServerBuildError);
    expect(() => buildServer(copy)).toThrow(
      `${path.join(copy, 'package.json')}: dependencies.onnxruntime-node is "^1.30.0"; pin it at an exact version`,
    );
  });

  it('fails synth when the installed onnxruntime-node is not the version modelfab pins', () => {
    const root = fs.mkdtempSync(path.join(scratch, 'override-'));
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'modelfab', version: '0.0.0' }));
    fs.mkdirSync(path.join(root, SERVER_BUILD_DIR), { recursive: true });
    fs.copyFileSync(
      path.join(ROOT, SERVER_BUILD_DIR, RUNTIME_LOCK_FILE),
      path.join(root, SERVER_BUILD_DIR, RUNTIME_LOCK_FILE),
    );
    const ort = path.join(root, 'node_modules/onnxruntime-node');
    fs.mkdirSync(ort, { recursive: true });
    fs.writeFileSync(
      path.join(ort, 'package.json'),
      JSON.stringify({ name: 'onnxruntime-node', version: '1.29.1' }),
    );
    expect(installedRuntimeVersion(root)).toBe('1.29.1');
    expect(() => loadRuntimeManifests(root)).toThrow(ServerBundleError);
    expect(() => loadRuntimeManifests(root)).toThrow(
      `modelfab pins onnxruntime-node ${ORT_VERSION} for the image, but 1.29.1 is installed for the gate; remove the override or resolution that replaced it, so the gate measures the runtime the image runs`,
    );
  });

  it('is checked when read: one version throughout, every package pinned', () => {
    const file = '/m/build/server/runtime-lock.json';
    const copy = (): any => JSON.parse(JSON.stringify(runtime));
    expect(parseRuntimeManifests(copy(), file)).toEqual(runtime);
    const cases: Array<[(m: any) => unknown, string]> = [
      [() => [], 'is not a JSON object'],
      [(m) => ({ ...m, version: `^${ORT_VERSION}` }), `"version" is "^${ORT_VERSION}", not an exact version`],
      [
        (m) => ({ ...m, version: '1.29.0' }),
        '"packageJson.dependencies" is not {"onnxruntime-node":"1.29.0"}',
      ],
      [
        (m) => ({ ...m, packageLock: { ...m.packageLock, lockfileVersion: 2 } }),
        '"packageLock" is not a lockfile of lockfileVersion 3 with a "packages" map',
      ],
      [
        (m) => {
          m.packageLock.packages['node_modules/onnxruntime-node'].version = '1.29.0';
          return m;
        },
        `the lockfile does not lock node_modules/onnxruntime-node at ${ORT_VERSION}`,
      ],
      [
        (m) => {
          delete m.packageLock.packages['node_modules/adm-zip'].integrity;
          return m;
        },
        'node_modules/adm-zip is not pinned by a resolved URL and an integrity hash',
      ],
    ];
    for (const [change, message] of cases) {
      expect(() => parseRuntimeManifests(change(copy()), file)).toThrow(RuntimeLockError);
      expect(() => parseRuntimeManifests(change(copy()), file)).toThrow(`${file}: ${message}`);
      expect(() => parseRuntimeManifests(change(copy()), file)).toThrow(
        /; the file is written when modelfab is built: run npm run build in modelfab's sources, or reinstall modelfab$/,
      );
    }
  });
});
