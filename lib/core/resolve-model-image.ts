/**
 * ModelImageProps → ModelImageSpec: defaults applied, every value checked. Pure: no files are read
 * here (lib/model inspects the model file).
 */
import * as path from 'node:path';
import { show } from './errors';
import { parseImageReference } from './image-reference';
import {
  MODEL_IMAGE_PROPS_SHAPE,
  type BaseImagesProps,
  type ImagePlatform,
  type ModelImageProps,
  type ModelImageSpec,
  type ServingProps,
  type TritonProps,
  type TritonSpec,
} from './model-image-props';
import { type ServingRuntime } from './model-image-source';
import { defaultModelName, isLabelValue } from './names';
import { PropsChecker } from './props-checker';

/** Where ModelImage props come from. */
export interface ModelImageResolveContext {
  /** Construct path or resource name, used in every message. */
  readonly constructPath: string;
  /** Directory a relative model path resolves from. @default process.cwd() */
  readonly cwd?: string;
}

/** The defaults ModelImage applies. The base images are pinned official images. */
export const MODEL_IMAGE_DEFAULTS = {
  version: '1',
  runtime: 'modelfab',
  platform: 'linux/amd64',
  builderImage: 'node:20-bookworm-slim',
  runtimeImage: 'gcr.io/distroless/nodejs20-debian12:nonroot',
  tritonImage: 'nvcr.io/nvidia/tritonserver:25.11-py3',
  batchingMaxBatchSize: 8,
  batchingMaxQueueDelayMs: 2,
  tritonInstanceCount: 1,
  tritonKind: 'gpu',
} as const;

const RUNTIMES: readonly ServingRuntime[] = ['modelfab', 'triton'];
const PLATFORMS: readonly ImagePlatform[] = ['linux/amd64', 'linux/arm64'];
const MAX_BATCH_SIZE = 4096;

/** Resolves and validates ModelImage props. Throws ModelfabValidationError on the first bad value. */
export function resolveModelImage(props: ModelImageProps, context: ModelImageResolveContext): ModelImageSpec {
  const check = new PropsChecker(context.constructPath);
  if (props === null || typeof props !== 'object' || Array.isArray(props)) {
    check.fail('props', `props must be an object, got ${show(props)}`);
  }
  check.knownProps(props, MODEL_IMAGE_PROPS_SHAPE, 'ModelImage');
  const d = MODEL_IMAGE_DEFAULTS;

  const model = check.string(
    'model',
    props.model,
    "set model to the path of the .onnx file, e.g. 'model/iris.onnx'",
  );
  const repository = resolveRepository(check, props.repository);

  const runtime = props.runtime ?? d.runtime;
  if (!RUNTIMES.includes(runtime)) {
    check.fail('runtime', `runtime ${show(runtime)} is not one of 'modelfab', 'triton'`);
  }
  const platform = props.platform ?? d.platform;
  if (!PLATFORMS.includes(platform)) {
    check.fail(
      'platform',
      `platform ${show(platform)} is not one of 'linux/amd64', 'linux/arm64'; onnxruntime-node ships linux binaries for these two`,
    );
  }

  const modelName = props.name ?? defaultModelName(model);
  if (typeof modelName !== 'string' || modelName === '' || !isLabelValue(modelName)) {
    check.fail(
      'name',
      `name ${show(modelName)} is not a valid model name; use at most 63 alphanumerics, '-', '_' or '.', alphanumeric at both ends, e.g. 'iris'`,
    );
  }

  const modelVersion = props.version ?? d.version;
  if (runtime === 'triton') {
    if (typeof modelVersion !== 'string' || !/^[1-9][0-9]{0,17}$/.test(modelVersion)) {
      check.fail(
        'version',
        `version ${show(modelVersion)} is not a positive integer; triton names model versions by number, e.g. '1'`,
      );
    }
  } else if (typeof modelVersion !== 'string' || modelVersion === '' || !isLabelValue(modelVersion)) {
    check.fail(
      'version',
      `version ${show(modelVersion)} is not a valid model version; use at most 63 alphanumerics, '-', '_' or '.', e.g. '1' or '2024-06-01'`,
    );
  }

  const baseImages = resolveBaseImages(check, props.baseImages ?? {}, runtime);
  const serving = resolveServing(check, props.serving ?? {}, runtime);
  if (props.triton !== undefined && runtime !== 'triton') {
    check.fail(
      'triton',
      `triton is set but runtime is ${show(runtime)}; set runtime: 'triton' or remove triton`,
    );
  }
  const triton =
    runtime === 'triton' ? resolveTriton(check, props.triton ?? {}, serving.maxBatchSize) : undefined;

  return {
    constructPath: context.constructPath,
    modelPath: path.resolve(context.cwd ?? process.cwd(), model),
    repository,
    modelName,
    modelVersion,
    runtime,
    platform,
    baseImages,
    serving,
    ...(triton ? { triton } : {}),
  };
}

function resolveRepository(check: PropsChecker, value: unknown): string {
  const repository = check.string(
    'repository',
    value,
    "set repository to where the image is pushed, e.g. 'ghcr.io/acme/iris'",
  );
  const reference = parseImageReference(repository);
  if (!reference) {
    check.fail(
      'repository',
      `repository ${show(repository)} is not a valid image repository; use [registry/]path in lower case, e.g. 'ghcr.io/acme/iris'`,
    );
  }
  if (reference.tag !== undefined || reference.digest !== undefined) {
    check.fail(
      'repository',
      `repository ${show(repository)} has a ${reference.digest !== undefined ? 'digest' : 'tag'}; remove it, the tag is the hash of the build context: ${show(reference.repository)}`,
    );
  }
  return reference.repository;
}

function resolveImage(check: PropsChecker, prop: string, value: unknown): string {
  const ref = check.string(prop, value, "use an image reference such as 'node:20-bookworm-slim'");
  const reference = parseImageReference(ref);
  if (!reference) {
    check.fail(
      prop,
      `${prop} ${show(ref)} is not a valid image reference; use [registry/]repository[:tag][@sha256:digest] in lower case`,
    );
  }
  if (reference.tag === undefined && reference.digest === undefined) {
    check.fail(
      prop,
      `${prop} ${show(ref)} has neither a tag nor a digest, so the build would take whatever 'latest' is; pin it, e.g. '${reference.repository}@sha256:<digest>'`,
    );
  }
  return ref;
}

function resolveBaseImages(
  check: PropsChecker,
  props: BaseImagesProps,
  runtime: ServingRuntime,
): ModelImageSpec['baseImages'] {
  check.record('baseImages', props);
  const d = MODEL_IMAGE_DEFAULTS;
  if (runtime === 'triton') {
    if (props.builder !== undefined) {
      check.fail(
        'baseImages.builder',
        `baseImages.builder ${show(props.builder)} is set, but the triton image has no build stage; remove it (baseImages.runtime sets the triton image)`,
      );
    }
    return { runtime: resolveImage(check, 'baseImages.runtime', props.runtime ?? d.tritonImage) };
  }
  return {
    builder: resolveImage(check, 'baseImages.builder', props.builder ?? d.builderImage),
    runtime: resolveImage(check, 'baseImages.runtime', props.runtime ?? d.runtimeImage),
  };
}

function optionalInteger(
  check: PropsChecker,
  prop: string,
  value: unknown,
  min: number,
  max: number,
  fix: string,
): number | undefined {
  return value === undefined ? undefined : check.integer(prop, value, min, max, fix);
}

function resolveServing(
  check: PropsChecker,
  props: ServingProps,
  runtime: ServingRuntime,
): ModelImageSpec['serving'] {
  check.record('serving', props);
  const maxBatchSize = optionalInteger(
    check,
    'serving.maxBatchSize',
    props.maxBatchSize,
    1,
    MAX_BATCH_SIZE,
    'use 1 to turn batching off, or the largest batch the model should run',
  );
  const maxQueueDelayMs = props.maxQueueDelayMs;
  if (
    maxQueueDelayMs !== undefined &&
    (typeof maxQueueDelayMs !== 'number' ||
      !Number.isFinite(maxQueueDelayMs) ||
      maxQueueDelayMs < 0 ||
      maxQueueDelayMs > 10_000)
  ) {
    check.fail(
      'serving.maxQueueDelayMs',
      `serving.maxQueueDelayMs must be a number from 0 to 10000, got ${show(maxQueueDelayMs)}; a few milliseconds is typical`,
    );
  }
  const workers = optionalInteger(
    check,
    'serving.workers',
    props.workers,
    1,
    256,
    'use at most one worker per cpu of the limit',
  );
  if (workers !== undefined && runtime === 'triton') {
    check.fail(
      'serving.workers',
      `serving.workers ${workers} applies to the modelfab runtime only; with triton set triton.instanceCount instead`,
    );
  }
  const intraOpThreads = optionalInteger(
    check,
    'serving.intraOpThreads',
    props.intraOpThreads,
    1,
    256,
    'use at most the cpu limit',
  );
  return {
    ...(maxBatchSize !== undefined ? { maxBatchSize } : {}),
    ...(maxQueueDelayMs !== undefined ? { maxQueueDelayMs } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(intraOpThreads !== undefined ? { intraOpThreads } : {}),
  };
}

function resolveTriton(
  check: PropsChecker,
  props: TritonProps,
  maxBatchSize: number | undefined,
): TritonSpec {
  check.record('triton', props);
  const d = MODEL_IMAGE_DEFAULTS;
  const instanceCount = check.integer(
    'triton.instanceCount',
    props.instanceCount ?? d.tritonInstanceCount,
    1,
    64,
    'use 1 to a few instances per device',
  );
  const kind = props.kind ?? d.tritonKind;
  if (kind !== 'cpu' && kind !== 'gpu') {
    check.fail('triton.kind', `triton.kind ${show(kind)} is not one of 'cpu', 'gpu'`);
  }
  const tensorrtFp16 = props.tensorrtFp16 ?? false;
  if (typeof tensorrtFp16 !== 'boolean') {
    check.fail('triton.tensorrtFp16', `triton.tensorrtFp16 must be true or false, got ${show(tensorrtFp16)}`);
  }
  if (tensorrtFp16 && kind === 'cpu') {
    check.fail(
      'triton.tensorrtFp16',
      "triton.tensorrtFp16 is true but triton.kind is 'cpu'; tensorrt runs on gpus, so set kind: 'gpu' or remove tensorrtFp16",
    );
  }
  const preferred = props.preferredBatchSizes ?? [];
  if (!Array.isArray(preferred)) {
    check.fail(
      'triton.preferredBatchSizes',
      `triton.preferredBatchSizes must be a list of batch sizes, got ${show(preferred)}`,
    );
  }
  const upper = maxBatchSize ?? MAX_BATCH_SIZE;
  const preferredBatchSizes = preferred.map((size: unknown) =>
    check.integer(
      'triton.preferredBatchSizes',
      size,
      1,
      upper,
      maxBatchSize === undefined
        ? 'each must be a batch size the model can run'
        : 'each must be at most serving.maxBatchSize',
    ),
  );
  const sorted = [...preferredBatchSizes].sort((a, b) => a - b);
  if (sorted.some((size, i) => i > 0 && size === sorted[i - 1])) {
    check.fail(
      'triton.preferredBatchSizes',
      `triton.preferredBatchSizes ${show(preferredBatchSizes)} lists a size twice; list each once`,
    );
  }
  return { instanceCount, kind, tensorrtFp16, preferredBatchSizes: sorted };
}
