/**
 * The image's metadata file: what `modelfab build` needs to build and tag the image that the
 * manifests reference. It sits in the build context folder but outside the context's hash and
 * outside what the build sees (`.dockerignore` admits only the listed files).
 */
import { type ModelImageSpec } from '../core';
import { type BuildContext } from './render-build-context';

/** The metadata file's name inside the build context folder. */
export const IMAGE_METADATA_FILE = '.modelfab-image.json';

/** The contents of {@link IMAGE_METADATA_FILE}. */
export interface ImageMetadata {
  /** `repository:tag`, the reference the manifests use. */
  readonly imageRef: string;
  readonly repository: string;
  readonly tag: string;
  /** The platform to build for (`linux/amd64`, `linux/arm64`). */
  readonly platform: string;
  readonly runtime: string;
  /** The construct that rendered it, for messages. */
  readonly constructPath: string;
}

/** The metadata of a rendered build context. */
export function renderImageMetadata(spec: ModelImageSpec, context: BuildContext): ImageMetadata {
  return {
    imageRef: context.imageRef,
    repository: spec.repository,
    tag: context.tag,
    platform: spec.platform,
    runtime: spec.runtime,
    constructPath: spec.constructPath,
  };
}
