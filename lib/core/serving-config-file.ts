/**
 * The serving config file (`modelfab.json`) that ModelImage writes into the image beside the model
 * and the server reads at start. Plain JSON so people can read it in the image; the server checks
 * its format with {@link parseServingConfigFile} and its values against the rules of its settings
 * table, and refuses to start on anything it does not understand.
 *
 * Precedence at start: `MODELFAB_*` environment variables (the Deployment, tuned by the gate) over
 * this file (the image) over the server's defaults (from the CPU limit).
 */
import { show } from './errors';

/** The version of the file format this code writes and reads. */
export const SERVING_CONFIG_FILE_FORMAT = 1;

/** One tensor of the model's signature, as OIP metadata shows it. */
export interface ServingTensorSignature {
  readonly name: string;
  /** onnxruntime element type (`float32`, `int64`, …). */
  readonly elementType: string;
  /** Dims; symbolic dims by name, -1 never appears. */
  readonly shape: ReadonlyArray<number | string>;
}

/** The contents of `modelfab.json`. */
export interface ServingConfigFile {
  readonly format: typeof SERVING_CONFIG_FILE_FORMAT;
  readonly model: {
    /** The model name in OIP URLs (`/v2/models/{name}`). */
    readonly name: string;
    /** The model version in OIP URLs (`/v2/models/{name}/versions/{version}`). */
    readonly version: string;
    /** The model file, relative to this file's directory. */
    readonly file: string;
    /** Hex sha256 of the model file; the server refuses to start on any other file. */
    readonly sha256: string;
    readonly inputs: readonly ServingTensorSignature[];
    readonly outputs: readonly ServingTensorSignature[];
  };
  /** Dynamic batching; `maxBatchSize` 1 turns it off. */
  readonly batching: { readonly maxBatchSize: number; readonly maxQueueDelayMs: number };
  /** Executor threads; absent values come from the CPU limit at start. */
  readonly threads: { readonly workers?: number; readonly intraOpThreads?: number };
}

/** `modelfab.json` does not hold a serving config this version understands. */
export class ServingConfigFileError extends Error {
  override readonly name = 'ServingConfigFileError';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(file: string, what: string, value: unknown, fix: string): never {
  throw new ServingConfigFileError(`${file}: ${what} ${show(value)}; ${fix}`);
}

/** `value` when it is a string; the setting's own rule is the server's to check. */
function text(file: string, key: string, value: unknown): string {
  if (typeof value !== 'string')
    fail(file, `${key} must be a string, received`, value, 'regenerate the image');
  return value;
}

/** `value` when it is a number (or undefined, for an optional one); the server checks its range. */
function numeric(file: string, key: string, value: unknown, optional = false): number | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'number')
    fail(file, `${key} must be a number, received`, value, 'regenerate the image');
  return value;
}

function signatures(file: string, key: string, value: unknown): ServingTensorSignature[] {
  if (!Array.isArray(value)) fail(file, `${key} must be a list, received`, value, 'regenerate the image');
  return value.map((entry: unknown, i) => {
    if (
      !isRecord(entry) ||
      typeof entry.name !== 'string' ||
      typeof entry.elementType !== 'string' ||
      !Array.isArray(entry.shape) ||
      !entry.shape.every((d) => typeof d === 'string' || (typeof d === 'number' && Number.isSafeInteger(d)))
    ) {
      fail(
        file,
        `${key}[${i}] must be { name, elementType, shape }, received`,
        entry,
        'regenerate the image',
      );
    }
    return { name: entry.name, elementType: entry.elementType, shape: entry.shape as Array<number | string> };
  });
}

/**
 * Checks parsed JSON against the serving config format: its version, its shape and the types of
 * its values. What values the server takes (a batch size of at least 1, a sha256 of 64 hex
 * digits…) are the rules of the server's settings table (lib/core/server-setting-table.ts),
 * which the server checks the file's values against when it reads the file.
 * @param file where it came from, for messages
 * @throws ServingConfigFileError naming the key, the value received and the fix
 */
export function parseServingConfigFile(json: unknown, file: string): ServingConfigFile {
  if (!isRecord(json)) fail(file, 'must hold a JSON object, received', json, 'regenerate the image');
  if (json.format !== SERVING_CONFIG_FILE_FORMAT) {
    fail(
      file,
      `format must be ${SERVING_CONFIG_FILE_FORMAT}, received`,
      json.format,
      'build the image with the modelfab version that matches this server',
    );
  }
  const model = json.model;
  if (!isRecord(model)) fail(file, 'model must be an object, received', model, 'regenerate the image');
  const batching = json.batching;
  if (!isRecord(batching))
    fail(file, 'batching must be an object, received', batching, 'regenerate the image');
  const threads = json.threads ?? {};
  if (!isRecord(threads)) fail(file, 'threads must be an object, received', threads, 'regenerate the image');
  const workers = numeric(file, 'threads.workers', threads.workers, true);
  const intraOpThreads = numeric(file, 'threads.intraOpThreads', threads.intraOpThreads, true);
  return {
    format: SERVING_CONFIG_FILE_FORMAT,
    model: {
      name: text(file, 'model.name', model.name),
      version: text(file, 'model.version', model.version),
      file: text(file, 'model.file', model.file),
      sha256: text(file, 'model.sha256', model.sha256),
      inputs: signatures(file, 'model.inputs', model.inputs),
      outputs: signatures(file, 'model.outputs', model.outputs),
    },
    batching: {
      maxBatchSize: numeric(file, 'batching.maxBatchSize', batching.maxBatchSize)!,
      maxQueueDelayMs: numeric(file, 'batching.maxQueueDelayMs', batching.maxQueueDelayMs)!,
    },
    threads: {
      ...(workers !== undefined ? { workers } : {}),
      ...(intraOpThreads !== undefined ? { intraOpThreads } : {}),
    },
  };
}
