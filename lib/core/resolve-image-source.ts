/**
 * The image an InferenceService runs and the model it serves: a ModelImage's, or a reference and `model`.
 */

import * as path from 'node:path';
import { show } from './errors';
import { type ImageReference, parseImageReference } from './image-reference';
import { isModelImageSource, type ServingRuntime } from './model-image-source';
import { type InferenceServiceProps } from './inference-service-props';
import { defaultModelName } from './names';
import { type PropsChecker } from './props-checker';

export interface ImageSourceSpec {
  readonly image: ImageReference;
  readonly modelPath: string;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly runtime: ServingRuntime;
  /** Where Triton runs the model, when the ModelImage says. */
  readonly tritonKind?: 'cpu' | 'gpu';
}

/** The image and the model it serves: from a ModelImage, or from an image reference and `model`. */
export function resolveImageSource(
  check: PropsChecker,
  props: InferenceServiceProps,
  cwd: string,
): ImageSourceSpec {
  const given = props.image as unknown;
  if (isModelImageSource(given)) {
    const image = parseImageReference(given.imageRef);
    if (!image) {
      check.fail(
        'image',
        `image.imageRef ${show(given.imageRef)} is not a valid image reference; check the ModelImage's repository`,
      );
    }
    const modelPath = path.resolve(cwd, given.modelPath);
    if (props.model !== undefined) {
      const own = typeof props.model === 'string' ? path.resolve(cwd, props.model) : props.model;
      if (own !== modelPath) {
        check.fail(
          'model',
          `model ${show(props.model)} is not the ModelImage's model ${show(modelPath)}; remove model (the image's model is used)`,
        );
      }
    }
    return {
      image,
      modelPath,
      modelName: given.modelName,
      modelVersion: given.modelVersion,
      runtime: given.runtime,
      ...(given.tritonKind !== undefined ? { tritonKind: given.tritonKind } : {}),
    };
  }
  if (typeof given !== 'string') {
    check.fail(
      'image',
      `image must be a ModelImage or an image reference string, got ${show(given)}; e.g. new ModelImage(chart, 'image', { model, repository }) or 'ghcr.io/acme/iris:1.0.0'`,
    );
  }
  const image = parseImageReference(given);
  if (!image) {
    check.fail(
      'image',
      `image ${show(given)} is not a valid image reference; use [registry/]repository[:tag][@sha256:digest] in lower case, e.g. 'ghcr.io/acme/iris:1.0.0'`,
    );
  }
  const model = check.string(
    'model',
    props.model,
    "set model to the path of the .onnx file, e.g. 'model/iris.onnx', or pass a ModelImage as image",
  );
  const modelPath = path.resolve(cwd, model);
  return { image, modelPath, modelName: defaultModelName(modelPath), modelVersion: '1', runtime: 'modelfab' };
}
