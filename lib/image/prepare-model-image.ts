/**
 * A ModelImage up to its written build context, the same for every engine: props resolved, the
 * model inspected, the server bundled, the context rendered. The adapters (cdk8s, Pulumi) only
 * decide where the context is written and what builds it.
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
import { bundleServer, loadRuntimeLockSource } from '../server/bundle-server';

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
 */
export function prepareModelImage(props: ModelImageProps, constructPath: string): PreparedModelImage {
  const spec = resolveModelImage(props, { constructPath });
  const model = inspectModelFor(constructPath, spec.modelPath);
  const context = renderBuildContext({
    spec,
    model,
    ...(spec.runtime === 'modelfab' ? { bundle: bundleServer(), runtimeLock: loadRuntimeLockSource() } : {}),
  });
  return {
    spec,
    model,
    batching: imageBatching(spec, model),
    context,
    metadata: renderImageMetadata(spec, context),
  };
}
