/**
 * Container image references, with the grammar of github.com/distribution/reference:
 * `[host[:port]/]path[:tag][@algorithm:hex]`.
 */

const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN =
  '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?';
const REFERENCE = new RegExp(
  `^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::([\\w][\\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$`,
);

export interface ImageReference {
  /** The reference as given. */
  readonly ref: string;
  /** Registry and path, without tag or digest. */
  readonly repository: string;
  /** @default - no tag */
  readonly tag?: string;
  /** `sha256:…` @default - no digest */
  readonly digest?: string;
}

/** Parses an image reference, or returns undefined when it is not one. */
export function parseImageReference(ref: string): ImageReference | undefined {
  const match = REFERENCE.exec(ref);
  if (!match || ref.length > 255 + 128 + 80) return undefined;
  const [, repository, tag, digest] = match;
  return {
    ref,
    repository: repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}
