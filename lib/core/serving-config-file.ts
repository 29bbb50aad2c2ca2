/**
 * The serving config file (`modelfab.json`) that ModelImage writes into the image beside the model
 * and the server reads at start. Plain JSON so people can read it in the image; the server checks
 * it with {@link parseServingConfigFile} and refuses to start on anything it does not understand.
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

function positiveInteger(file: string, key: string, value: unknown, optional: boolean): number | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    fail(
      file,
      `${key} must be an integer of at least 1, received`,
      value,
      'regenerate the image with modelfab',
    );
  }
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
 * Checks parsed JSON against the serving config format.
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
  for (const key of ['name', 'version', 'file'] as const) {
    if (typeof model[key] !== 'string' || model[key] === '') {
      fail(file, `model.${key} must be a non-empty string, received`, model[key], 'regenerate the image');
    }
  }
  if (typeof model.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(model.sha256)) {
    fail(
      file,
      'model.sha256 must be 64 lower-case hex digits, received',
      model.sha256,
      'regenerate the image',
    );
  }
  const batching = json.batching;
  if (!isRecord(batching))
    fail(file, 'batching must be an object, received', batching, 'regenerate the image');
  const maxQueueDelayMs = batching.maxQueueDelayMs;
  if (typeof maxQueueDelayMs !== 'number' || !Number.isFinite(maxQueueDelayMs) || maxQueueDelayMs < 0) {
    fail(
      file,
      'batching.maxQueueDelayMs must be a non-negative number, received',
      maxQueueDelayMs,
      'regenerate the image',
    );
  }
  const threads = json.threads ?? {};
  if (!isRecord(threads)) fail(file, 'threads must be an object, received', threads, 'regenerate the image');
  const workers = positiveInteger(file, 'threads.workers', threads.workers, true);
  const intraOpThreads = positiveInteger(file, 'threads.intraOpThreads', threads.intraOpThreads, true);
  return {
    format: SERVING_CONFIG_FILE_FORMAT,
    model: {
      name: model.name as string,
      version: model.version as string,
      file: model.file as string,
      sha256: model.sha256,
      inputs: signatures(file, 'model.inputs', model.inputs),
      outputs: signatures(file, 'model.outputs', model.outputs),
    },
    batching: {
      maxBatchSize: positiveInteger(file, 'batching.maxBatchSize', batching.maxBatchSize, false) as number,
      maxQueueDelayMs,
    },
    threads: {
      ...(workers !== undefined ? { workers } : {}),
      ...(intraOpThreads !== undefined ? { intraOpThreads } : {}),
    },
  };
}
