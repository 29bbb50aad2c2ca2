/**
 * A ModelImage up to its written build context, the same for every engine: props resolved, the
 * model inspected, the context rendered with the server bundle and runtime manifests that were
 * built with modelfab (read from its package, never from the installing project). The adapters
 * (cdk8s, Pulumi) only decide where the context is written and what builds it.
 */
import path from 'node:path';
import {
  type ModelImageProps,
  type ModelImageSource,
  type ModelImageSpec,
  resolveModelImage,
  type ServingRuntime,
} from '../core';
import { inspectModelFor, type ModelInfo } from '../model';
import {
  type BuildContext,
  type ImageBatching,
  imageBatching,
  type ImageMetadata,
  renderBuildContext,
  renderImageMetadata,
} from '../render';
import { loadRuntimeManifests, loadServerBundle } from '../server/bundle-server';

/** A ModelImage's resolved spec, model and rendered build context. */
export interface PreparedModelImage {
  readonly spec: ModelImageSpec;
  readonly model: ModelInfo;
  /** The batching the image's server applies (from `serving`, or the model's defaults). */
  readonly batching: ImageBatching;
  readonly context: BuildContext;
  /** What `modelfab build` reads from the written context. */
  readonly metadata: ImageMetadata;
}

/** What a ModelImage exposes, the same in every engine. */
export interface ModelImageAttributes extends ModelImageSource {
  /** The resolved props, every default applied. */
  readonly spec: ModelImageSpec;
  /** What inspecting the model file found (digest, signature, size). */
  readonly model: ModelInfo;
  /** The rendered build context: files, hash and tag. */
  readonly context: BuildContext;
  /** The batching the image's server applies (from `serving`, or the model's defaults). */
  readonly batching: ImageBatching;
  /**
   * `repository:tag`. With Pulumi's ECR the repository is the name without the account's registry
   * host, and services deploy the pushed `repoDigest`.
   */
  readonly imageRef: string;
  /** The hash of the build context, shortened: the image's tag. */
  readonly tag: string;
  /** Absolute path of the folder the build context is written to. */
  readonly contextDir: string;
  /** Absolute path of the model file (the image holds a copy with the same bytes). */
  readonly modelPath: string;
  /** The server in the image: `modelfab` or `triton`. */
  readonly runtime: ServingRuntime;
  /** The model's name in the Open Inference Protocol's URLs (`/v2/models/{name}`). */
  readonly modelName: string;
  /** The model's version in those URLs. */
  readonly modelVersion: string;
}

/** The attributes of a prepared image whose context goes to `contextDir`. */
export function modelImageAttributes(prepared: PreparedModelImage, contextDir: string): ModelImageAttributes {
  const { spec, model, context } = prepared;
  return {
    spec,
    model,
    context,
    batching: prepared.batching,
    imageRef: context.imageRef,
    tag: context.tag,
    contextDir: path.resolve(contextDir),
    modelPath: model.path,
    runtime: spec.runtime,
    modelName: spec.modelName,
    modelVersion: spec.modelVersion,
    ...(spec.triton ? { tritonKind: spec.triton.kind } : {}),
  };
}

/**
 * Resolves the props (errors name `constructPath`), inspects the model, and renders the build
 * context with the server bundle and the pinned onnxruntime-node (modelfab runtime) or the Triton
 * model repository.
 *
 * @throws ServerBundleError (modelfab runtime) when modelfab's built server bundle or runtime lock
 *   is missing, or the installed onnxruntime-node is not the version modelfab pins
 */
export function prepareModelImage(props: ModelImageProps, constructPath: string): PreparedModelImage {
  const spec = resolveModelImage(props, { constructPath });
  const model = inspectModelFor(constructPath, spec.modelPath);
  const context = renderBuildContext({
    spec,
    model,
    ...(spec.runtime === 'modelfab' ? { bundle: loadServerBundle(), runtime: loadRuntimeManifests() } : {}),
  });
  return {
    spec,
    model,
    batching: imageBatching(spec, model),
    context,
    metadata: renderImageMetadata(spec, context),
  };
}
