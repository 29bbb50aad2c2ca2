/**
 * A ModelImage up to its written build context, the same for every engine: props resolved, the
 * model inspected, the context rendered with the server bundle and runtime manifests that were
 * built with modelfab (read from its package, never from the installing project). The adapters
 * (cdk8s, Pulumi) only decide where the context is written and what builds it.
 */
import { type ModelImageProps, type ModelImageSpec, resolveModelImage } from '../core';
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
