/**
 * Why a model file could not be inspected:
 * - `missing`: nothing at the path;
 * - `not-a-file`: the path is a directory (or a device, socket, …);
 * - `unreadable`: the file exists but cannot be read (permissions, I/O error);
 * - `empty`: the file has 0 bytes;
 * - `truncated`: an onnx model cut short (an interrupted download or copy);
 * - `corrupt`: starts like an onnx model but its structure or content is invalid;
 * - `not-onnx`: the bytes are not an onnx model at all (json, text, an image, another format);
 * - `no-graph`: an onnx model without a graph, so there is nothing to run;
 * - `unsupported`: a valid model modelfab cannot handle (too new an IR version, an unknown
 *   element type, a file over 2 GiB).
 */
export type ModelFileErrorCode =
  | 'missing'
  | 'not-a-file'
  | 'unreadable'
  | 'empty'
  | 'truncated'
  | 'corrupt'
  | 'not-onnx'
  | 'no-graph'
  | 'unsupported';

/** A model file that cannot be inspected. The message is lower-case, names the absolute path and says what to do. */
export class ModelFileError extends Error {
  override readonly name = 'ModelFileError';

  constructor(
    readonly code: ModelFileErrorCode,
    /** Absolute path of the model file. */
    readonly path: string,
    message: string,
    /** For `truncated` and `corrupt`: the byte offset of the problem, when known. */
    readonly offset?: number,
  ) {
    super(message);
  }
}
