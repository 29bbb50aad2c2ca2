/**
 * A model image's build context, as plain data: every file with its path and contents (or, for the
 * model, the file to copy and its known sha256, so a model of gigabytes is never read into
 * memory), and the context's hash, which is the image tag. Pure: the server bundle and the runtime
 * manifests come in as data (both built with modelfab, see `lib/server/bundle-server.ts`), and the
 * same inputs give the same context and tag.
 */
import * as crypto from 'node:crypto';
import {
  ModelfabValidationError,
  type ModelImageSpec,
  SERVING_CONFIG_FILE_FORMAT,
  type ServingConfigFile,
  type ServingTensorSignature,
} from '../core';
import { type ModelInfo, type ValueSignature } from '../model';
import { IMAGE_CONFIG_FILE, renderModelfabDockerfile, renderTritonDockerfile } from './render-dockerfile';
import { renderTritonConfig } from './render-triton-config';
import { type RuntimeManifests } from './runtime-lockfile';

/** A file of the server bundle, relative to the build context (`server/main.js`, …). */
export interface BundleFile {
  readonly path: string;
  readonly contents: string;
}

/** A file written from memory. */
export interface ContentFile {
  /** Relative to the context, '/'-separated. */
  readonly path: string;
  readonly content: string | Uint8Array;
  /** Hex sha256 of the content. */
  readonly sha256: string;
}

/** A file copied from disk (the model), with the digest it is known to have. */
export interface CopiedFile {
  /** Relative to the context, '/'-separated. */
  readonly path: string;
  /** Absolute path of the source file. */
  readonly copyFrom: string;
  /** Hex sha256 of the source file. */
  readonly sha256: string;
}

export type BuildContextFile = ContentFile | CopiedFile;

/** Whether a context file is copied from disk rather than written from memory. */
export function isCopiedFile(file: BuildContextFile): file is CopiedFile {
  return 'copyFrom' in file;
}

/** A build context, ready to write. */
export interface BuildContext {
  /** Sorted by path. */
  readonly files: readonly BuildContextFile[];
  /**
   * Hex sha256 of the sorted `<sha256>  <path>\n` lines of every file (what `sha256sum` prints
   * in the context folder, sorted by path).
   */
  readonly hash: string;
  /** The image tag: the first 16 hex digits of the hash. */
  readonly tag: string;
  /** `repository:tag`. */
  readonly imageRef: string;
  /** The model file's path in the context. */
  readonly modelFile: string;
}

/** What a build context is rendered from. */
export interface BuildContextInput {
  readonly spec: ModelImageSpec;
  readonly model: ModelInfo;
  /** The server bundle (modelfab runtime only). */
  readonly bundle?: readonly BundleFile[];
  /** The image's package.json and package-lock.json, pinning onnxruntime-node (modelfab runtime only). */
  readonly runtime?: RuntimeManifests;
}

/** The digits of the context hash used as the image tag. */
export const TAG_LENGTH = 16;

/** The batching the image's server applies to this model. */
export interface ImageBatching {
  /** 1 turns batching off (Triton's config then says 0 when the model has no batch dimension). */
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
}

function sha256(content: string | Uint8Array): string {
  return crypto.createHash('sha256').update(content).digest('hex');
}

/** The first input or output without a batch dimension, in words. */
function notBatchable(model: ModelInfo): string {
  if (model.inputs.length === 0) return 'the model has no inputs';
  const first = [
    ...model.inputs.map((v) => ['input', v] as const),
    ...model.outputs.map((v) => ['output', v] as const),
  ].find(([, v]) => !v.batchDim);
  return first
    ? `${first[0]} ${JSON.stringify(first[1].name)} has no batch dimension 0`
    : 'the model cannot batch';
}

/**
 * The batching for this model: the spec's values, or the defaults (batches of up to 8 within 2 ms
 * when the model has a batch dimension, none otherwise).
 *
 * @throws ModelfabValidationError when batching is asked of a model without a batch dimension
 */
export function imageBatching(spec: ModelImageSpec, model: ModelInfo): ImageBatching {
  const fail = (prop: string, detail: string): never => {
    throw new ModelfabValidationError(spec.constructPath, prop, detail);
  };
  const requested = spec.serving.maxBatchSize;
  if (!model.batchable && requested !== undefined && requested > 1) {
    fail(
      'serving.maxBatchSize',
      `serving.maxBatchSize ${requested} needs a model that batches along dimension 0, but ${notBatchable(model)}; remove serving.maxBatchSize or set it to 1`,
    );
  }
  const maxBatchSize = model.batchable ? (requested ?? 8) : 1;
  const preferred = spec.triton?.preferredBatchSizes ?? [];
  if (preferred.length > 0) {
    if (maxBatchSize <= 1) {
      fail(
        'triton.preferredBatchSizes',
        `triton.preferredBatchSizes ${JSON.stringify(preferred)} needs batching, but ${model.batchable ? 'serving.maxBatchSize is 1' : notBatchable(model)}; remove triton.preferredBatchSizes`,
      );
    }
    const over = preferred.find((size) => size > maxBatchSize);
    if (over !== undefined) {
      fail(
        'triton.preferredBatchSizes',
        `triton.preferredBatchSizes has ${over}, above the max batch size ${maxBatchSize}; lower it or raise serving.maxBatchSize`,
      );
    }
  }
  return { maxBatchSize, maxQueueDelayMs: spec.serving.maxQueueDelayMs ?? (maxBatchSize > 1 ? 2 : 0) };
}

function servingSignatures(values: readonly ValueSignature[]): ServingTensorSignature[] {
  const out: ServingTensorSignature[] = [];
  for (const v of values) {
    // A value of undeclared rank: one unknown dimension, the closest the format says "unknown".
    if (v.isTensor)
      out.push({ name: v.name, elementType: v.elementType, shape: v.shape ? [...v.shape] : [''] });
  }
  return out;
}

/** `modelfab.json`: the model's identity and tensor signature, batching and threads (see ServingConfigFile). */
export function renderServingConfig(
  spec: ModelImageSpec,
  model: ModelInfo,
  modelFile: string,
): ServingConfigFile {
  const batching = imageBatching(spec, model);
  return {
    format: SERVING_CONFIG_FILE_FORMAT,
    model: {
      name: spec.modelName,
      version: spec.modelVersion,
      file: modelFile,
      sha256: model.sha256,
      inputs: servingSignatures(model.inputs),
      outputs: servingSignatures(model.outputs),
    },
    batching,
    threads: {
      ...(spec.serving.workers !== undefined ? { workers: spec.serving.workers } : {}),
      ...(spec.serving.intraOpThreads !== undefined ? { intraOpThreads: spec.serving.intraOpThreads } : {}),
    },
  };
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function dockerignore(included: readonly string[]): string {
  return ['# Only what the Dockerfile copies.', '*', ...included.map((p) => `!${p}`), ''].join('\n');
}

function modelfabFiles(
  input: BuildContextInput,
  modelFile: string,
): Array<{ path: string; content: string }> {
  const { spec, model, bundle, runtime: manifests } = input;
  if (!bundle || !manifests) {
    throw new Error(
      'renderBuildContext: the modelfab runtime needs the server bundle and the runtime manifests',
    );
  }
  return [
    {
      path: 'Dockerfile',
      content: renderModelfabDockerfile({ spec, model, onnxruntimeVersion: manifests.version, modelFile }),
    },
    {
      path: '.dockerignore',
      content: dockerignore(['package.json', 'package-lock.json', 'server', 'model', IMAGE_CONFIG_FILE]),
    },
    { path: 'package.json', content: json(manifests.packageJson) },
    { path: 'package-lock.json', content: json(manifests.packageLock) },
    { path: IMAGE_CONFIG_FILE, content: json(renderServingConfig(spec, model, modelFile)) },
    ...bundle.map((file) => ({ path: file.path, content: file.contents })),
  ];
}

function tritonFiles(input: BuildContextInput, modelDir: string): Array<{ path: string; content: string }> {
  const { spec, model } = input;
  const batching = imageBatching(spec, model);
  return [
    { path: 'Dockerfile', content: renderTritonDockerfile({ spec, model }) },
    { path: '.dockerignore', content: dockerignore(['model_repository']) },
    {
      path: `${modelDir}/config.pbtxt`,
      content: renderTritonConfig({
        spec,
        triton: spec.triton!,
        model,
        // Triton says 0 for a model without a batch dimension.
        batching: { ...batching, maxBatchSize: model.batchable ? batching.maxBatchSize : 0 },
      }),
    },
  ];
}

/**
 * The build context of a model image.
 *
 * - modelfab runtime: `Dockerfile`, `.dockerignore`, `package.json` and `package-lock.json`
 *   (onnxruntime-node pinned), `server/main.js`, `server/inference-worker.js` and `server/codec-worker.js`,
 *   `model/<name>.onnx`, `modelfab.json`.
 * - triton runtime: `Dockerfile`, `.dockerignore`, `model_repository/<name>/config.pbtxt` and
 *   `model_repository/<name>/<version>/model.onnx`.
 *
 * @throws ModelfabValidationError when the settings do not fit the model (batching without a
 *   batch dimension, a tensor Triton cannot describe)
 */
export function renderBuildContext(input: BuildContextInput): BuildContext {
  const { spec, model } = input;
  let modelFile: string;
  let written: Array<{ path: string; content: string }>;
  if (spec.runtime === 'triton') {
    const modelDir = `model_repository/${spec.modelName}`;
    modelFile = `${modelDir}/${spec.modelVersion}/model.onnx`;
    written = tritonFiles(input, modelDir);
  } else {
    modelFile = `model/${spec.modelName}.onnx`;
    written = modelfabFiles(input, modelFile);
  }
  const files: BuildContextFile[] = [
    ...written.map((f) => ({ path: f.path, content: f.content, sha256: sha256(f.content) })),
    { path: modelFile, copyFrom: model.path, sha256: model.sha256 },
  ].sort((a, b) => (a.path < b.path ? -1 : 1));
  const seen = new Set<string>();
  for (const file of files) {
    if (seen.has(file.path)) throw new Error(`renderBuildContext: two files at ${file.path}`);
    seen.add(file.path);
  }
  const hash = sha256(files.map((f) => `${f.sha256}  ${f.path}\n`).join(''));
  const tag = hash.slice(0, TAG_LENGTH);
  return { files, hash, tag, imageRef: `${spec.repository}:${tag}`, modelFile };
}
