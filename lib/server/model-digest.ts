/**
 * The model file's digest check at start: the server serves only the file the gate measured.
 */
import { type ExpectedDigest } from './server-settings';

/** The model file is not the one the deployment or the image pinned; the server refuses to start. */
export class ModelDigestMismatchError extends Error {
  override readonly name = 'ModelDigestMismatchError';

  constructor(
    /** The model file. */
    readonly modelPath: string,
    /** The file's sha256. */
    readonly actualSha256: string,
    /** The digest it should have had, and where that was declared. */
    readonly expected: ExpectedDigest,
  ) {
    super(
      `model file ${modelPath} has sha256 ${actualSha256}, but ${expected.source} expects ${expected.sha256}; refusing to start: deploy the model file the gate measured, or re-run the gate (synth) for this file`,
    );
  }
}

/**
 * Checks a model file's sha256 against every expected digest.
 * @throws ModelDigestMismatchError for the first digest that differs
 */
export function checkModelDigest(
  modelPath: string,
  actualSha256: string,
  expected: readonly ExpectedDigest[],
): void {
  for (const digest of expected) {
    if (digest.sha256 !== actualSha256) throw new ModelDigestMismatchError(modelPath, actualSha256, digest);
  }
}
