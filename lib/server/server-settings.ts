/**
 * The server's settings, in one place, from four sources (highest first): explicit options
 * (`modelfab serve` flags, tests), `MODELFAB_*` environment variables (the Deployment, tuned by
 * the gate), the serving config file `modelfab.json` (the image), then defaults (from the CPU
 * limit). Bad values fail with a message naming where the value came from, the value and the fix.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  defaultModelName,
  parseServingConfigFile,
  RUNTIME_CONTRACTS,
  type ServingConfigFile,
  show,
} from '../core';
import { availableCpus, intraOpThreadsFor } from '../runtime';

/**
 * The environment variable of each setting. The Deployment sets the first nine
 * (lib/render `serverEnv`); the others are for operators and local runs.
 */
export const SERVER_ENV = {
  configFile: 'MODELFAB_CONFIG',
  modelPath: 'MODELFAB_MODEL_PATH',
  modelName: 'MODELFAB_MODEL_NAME',
  modelVersion: 'MODELFAB_MODEL_VERSION',
  modelSha256: 'MODELFAB_MODEL_SHA256',
  port: 'MODELFAB_PORT',
  metricsPort: 'MODELFAB_METRICS_PORT',
  workers: 'MODELFAB_WORKERS',
  intraOpThreads: 'MODELFAB_INTRA_OP_THREADS',
  maxBatchSize: 'MODELFAB_MAX_BATCH_SIZE',
  maxQueueDelayMs: 'MODELFAB_MAX_QUEUE_DELAY_MS',
  maxQueueSize: 'MODELFAB_MAX_QUEUE_SIZE',
  maxBodyBytes: 'MODELFAB_MAX_BODY_BYTES',
  bodyTimeoutMs: 'MODELFAB_BODY_TIMEOUT_MS',
  requestTimeoutMs: 'MODELFAB_REQUEST_TIMEOUT_MS',
  drainSeconds: 'MODELFAB_DRAIN_SECONDS',
  apiKeyFile: 'MODELFAB_API_KEY_FILE',
} as const;

/** The defaults of the settings that do not depend on the model or the CPU limit. */
export const SERVER_DEFAULTS = {
  host: '0.0.0.0',
  port: RUNTIME_CONTRACTS.modelfab.httpPort,
  metricsPort: RUNTIME_CONTRACTS.modelfab.metricsPort,
  modelVersion: '1',
  workers: 1,
  maxBatchSize: 1,
  maxQueueDelayMs: 0,
  maxQueueSize: 1024,
  maxBodyBytes: 16 * 1024 * 1024,
  bodyTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  drainSeconds: 20,
} as const;

/**
 * Settings given explicitly (command-line flags, tests). Each overrides its `MODELFAB_*`
 * variable, which overrides the serving config file, which overrides the default.
 */
export interface ServerOptions {
  /**
   * The serving config file (`modelfab.json`); its `model.file` is relative to its directory.
   * @default $MODELFAB_CONFIG, else none
   */
  readonly configFile?: string;
  /** The ONNX model file. @default $MODELFAB_MODEL_PATH, else the config file's `model.file` */
  readonly modelPath?: string;
  /**
   * The model's name in URLs (`/v2/models/{name}`).
   * @default $MODELFAB_MODEL_NAME, else the config file's `model.name`, else the file name without `.onnx` as a DNS-1123 label, as ModelImage names it (`hello_deepa.onnx` → `hello-deepa`)
   */
  readonly modelName?: string;
  /** The model's version in URLs. @default $MODELFAB_MODEL_VERSION, else the config file's, else `'1'` */
  readonly modelVersion?: string;
  /**
   * The sha256 the model file must have (hex). The config file's `model.sha256` is checked as
   * well when the model file comes from the config file.
   * @default $MODELFAB_MODEL_SHA256, else only the config file's (no check without either)
   */
  readonly modelSha256?: string;
  /** The address both servers listen on. @default '0.0.0.0' */
  readonly host?: string;
  /** The Open Inference Protocol port; 0 picks a free one. @default $MODELFAB_PORT, else 8080 */
  readonly port?: number;
  /** The Prometheus metrics port; 0 picks a free one. @default $MODELFAB_METRICS_PORT, else 9090 */
  readonly metricsPort?: number;
  /** Inference worker threads, each with its own session. @default $MODELFAB_WORKERS, else the config file's, else 1 */
  readonly workers?: number;
  /**
   * onnxruntime intra-op threads per worker.
   * @default $MODELFAB_INTRA_OP_THREADS, else the config file's, else the CPU limit shared by the workers (whole CPUs, at least 1)
   */
  readonly intraOpThreads?: number;
  /** The most rows of a dynamic batch; 1 turns batching off. @default $MODELFAB_MAX_BATCH_SIZE, else the config file's, else 1 */
  readonly maxBatchSize?: number;
  /** How long a request may wait for its batch to fill, ms. @default $MODELFAB_MAX_QUEUE_DELAY_MS, else the config file's, else 0 */
  readonly maxQueueDelayMs?: number;
  /** Requests that may wait for a worker; one more gets 429. @default $MODELFAB_MAX_QUEUE_SIZE, else 1024 */
  readonly maxQueueSize?: number;
  /**
   * The largest request body, bytes; a larger one gets 413. 16 MiB holds one 640×640 RGB float32
   * image as JSON numbers (about 12 MB), or three as binary tensor data (4.9 MB each). The server
   * holds at most four bodies of this size at once; the README's server section says what memory
   * one request may take.
   * @default $MODELFAB_MAX_BODY_BYTES, else 16 MiB
   */
  readonly maxBodyBytes?: number;
  /**
   * How long a request body may take to arrive, ms, from the end of its headers; a body not
   * complete by then gets 408, its connection is closed and what arrived is dropped. 0: no deadline.
   * @default $MODELFAB_BODY_TIMEOUT_MS, else 10000
   */
  readonly bodyTimeoutMs?: number;
  /** An inference not answered within this many ms gets 504; 0 waits forever. @default $MODELFAB_REQUEST_TIMEOUT_MS, else 30000 */
  readonly requestTimeoutMs?: number;
  /** How long a graceful shutdown may wait for accepted requests, seconds. @default $MODELFAB_DRAIN_SECONDS, else 20 */
  readonly drainSeconds?: number;
  /**
   * A file holding the API key (a mounted secret; surrounding whitespace is ignored). When set,
   * every endpoint of the API port but health needs `Authorization: Bearer <key>` or
   * `X-API-Key: <key>`. The metrics port takes no key: keep it private (the rendered NetworkPolicy
   * admits only `networkPolicy.metricsFrom` to it).
   * @default $MODELFAB_API_KEY_FILE, else no key: the API is open
   */
  readonly apiKeyFile?: string;
  /** The CPUs the server may use, for the default threads. @default availableCpus(): cores capped by the cgroup CPU quota */
  readonly cpus?: number;
}

/** A digest the model file must have, and where it was declared. */
export interface ExpectedDigest {
  /** Lower-case hex sha256. */
  readonly sha256: string;
  /** Where it came from: `'modelSha256'`, `'MODELFAB_MODEL_SHA256'` or `'<config file> model.sha256'`. */
  readonly source: string;
}

/** The settings the server runs with, every one resolved. */
export interface ServerSettings {
  /** Absolute path of the serving config file read, if any. */
  readonly configFile: string | undefined;
  /** Absolute path of the model file. */
  readonly modelPath: string;
  readonly modelName: string;
  readonly modelVersion: string;
  /** The digests the model file must match (all of them); empty when none was declared. */
  readonly expectedSha256: readonly ExpectedDigest[];
  readonly host: string;
  readonly port: number;
  readonly metricsPort: number;
  /** The CPUs the server counts on: the default threads, and whether idle threads poll. */
  readonly cpus: number;
  readonly workers: number;
  readonly intraOpThreads: number;
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  readonly maxQueueSize: number;
  readonly maxBodyBytes: number;
  /** 0: no deadline. */
  readonly bodyTimeoutMs: number;
  /** 0: no limit. */
  readonly requestTimeoutMs: number;
  readonly drainSeconds: number;
  /** Absolute path of the API key file, if any. */
  readonly apiKeyFile: string | undefined;
}

/** A setting has a value the server cannot use. */
export class ServerSettingsError extends Error {
  override readonly name = 'ServerSettingsError';
}

type Env = Readonly<Record<string, string | undefined>>;
type Key = keyof typeof SERVER_ENV;

interface Rule {
  /** What the value must be, for messages: `'an integer of at least 1'`. */
  readonly must: string;
  /** An example of a good value. */
  readonly example: string;
  readonly parse: (text: string) => number | undefined;
  readonly check: (value: number) => boolean;
}

const INTEGER = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;

function integerRule(min: number, max: number, must: string, example: string): Rule {
  return {
    must,
    example,
    parse: (text) => (INTEGER.test(text) ? Number(text) : undefined),
    check: (v) => Number.isSafeInteger(v) && v >= min && v <= max,
  };
}

const COUNT = integerRule(1, Number.MAX_SAFE_INTEGER, 'an integer of at least 1', '2');
const PORT = integerRule(0, 65535, 'a port number from 0 to 65535 (0: any free port)', '8080');
const DURATION: Rule = {
  must: 'a non-negative number',
  example: '5',
  parse: (text) => (DECIMAL.test(text) ? Number(text) : undefined),
  check: (v) => Number.isFinite(v) && v >= 0,
};

const NUMBER_RULES = {
  port: PORT,
  metricsPort: PORT,
  workers: COUNT,
  intraOpThreads: COUNT,
  maxBatchSize: COUNT,
  maxQueueDelayMs: DURATION,
  maxQueueSize: COUNT,
  maxBodyBytes: { ...COUNT, example: '16777216' },
  bodyTimeoutMs: {
    ...DURATION,
    must: 'a non-negative number of milliseconds (0: no deadline)',
    example: '10000',
  },
  requestTimeoutMs: {
    ...DURATION,
    must: 'a non-negative number of milliseconds (0: no limit)',
    example: '30000',
  },
  drainSeconds: { ...DURATION, example: '20' },
} as const satisfies Partial<Record<Key, Rule>>;

type NumberKey = keyof typeof NUMBER_RULES;

/** A set environment variable's text; an empty one counts as unset. */
function envText(env: Env, key: Key): string | undefined {
  const text = env[SERVER_ENV[key]]?.trim();
  return text === undefined || text === '' ? undefined : text;
}

/** The option, else the environment variable, of a numeric setting (undefined when neither is set). */
function numberSetting(
  options: ServerOptions,
  env: Env,
  names: OptionNames,
  key: NumberKey,
): number | undefined {
  const rule: Rule = NUMBER_RULES[key];
  const given = options[key];
  if (given !== undefined) {
    if (typeof given !== 'number' || !rule.check(given)) {
      throw new ServerSettingsError(
        `${names[key] ?? key} must be ${rule.must}, received ${show(given)}; pass a value such as ${rule.example}`,
      );
    }
    return given;
  }
  const text = envText(env, key);
  if (text === undefined) return undefined;
  const value = rule.parse(text);
  if (value === undefined || !rule.check(value)) {
    throw new ServerSettingsError(
      `${SERVER_ENV[key]} must be ${rule.must}, received ${show(env[SERVER_ENV[key]])}; set it to a value such as ${rule.example}, or unset it for the default`,
    );
  }
  return value;
}

/** The option, else the environment variable, of a string setting, with where it came from. */
function stringSetting(
  options: ServerOptions,
  env: Env,
  names: OptionNames,
  key: 'configFile' | 'modelPath' | 'modelName' | 'modelVersion' | 'modelSha256' | 'apiKeyFile',
): { value: string; source: string } | undefined {
  const given = options[key];
  if (given !== undefined) {
    if (typeof given !== 'string' || given.trim() === '') {
      throw new ServerSettingsError(
        `${names[key] ?? key} must be a non-empty string, received ${show(given)}`,
      );
    }
    return { value: given.trim(), source: names[key] ?? key };
  }
  const text = envText(env, key);
  return text === undefined ? undefined : { value: text, source: SERVER_ENV[key] };
}

function readConfigFile(file: string, source: string): ServingConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ServerSettingsError(
      `cannot read the serving config file ${file} (from ${source}): ${(error as Error).message}; point ${source} at the image's modelfab.json`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ServerSettingsError(
      `the serving config file ${file} (from ${source}) is not JSON: ${(error as Error).message}; regenerate the image with modelfab`,
    );
  }
  return parseServingConfigFile(json, file);
}

/**
 * Resolves the server's settings from `options`, then `env` (`MODELFAB_*`), then the serving
 * config file (`options.configFile` or `$MODELFAB_CONFIG`), then defaults. Empty environment
 * variables count as unset; relative paths are relative to the working directory, except the
 * config file's `model.file`, which is relative to the config file.
 * @throws ServerSettingsError naming the option or variable, the value received and the fix
 * @throws ServingConfigFileError when the config file is not a serving config this version reads
 */
/**
 * What each option is called where the options come from (e.g. `{ configFile: '--config' }` for
 * the command line), for messages; an option without a name is called by its key.
 */
export type OptionNames = Readonly<Partial<Record<keyof ServerOptions, string>>>;

export function resolveServerSettings(
  options: ServerOptions = {},
  env: Env = process.env,
  names: OptionNames = {},
): ServerSettings {
  const configSetting = stringSetting(options, env, names, 'configFile');
  const configFile = configSetting ? path.resolve(configSetting.value) : undefined;
  const config = configFile ? readConfigFile(configFile, configSetting!.source) : undefined;

  const modelSetting = stringSetting(options, env, names, 'modelPath');
  let modelPath: string;
  if (modelSetting) modelPath = path.resolve(modelSetting.value);
  else if (config && configFile) modelPath = path.resolve(path.dirname(configFile), config.model.file);
  else {
    throw new ServerSettingsError(
      `no model to serve: pass ${names.modelPath ?? 'modelPath'}, set ${SERVER_ENV.modelPath} to an .onnx file, or set ${SERVER_ENV.configFile} to a modelfab.json`,
    );
  }

  const expectedSha256: ExpectedDigest[] = [];
  const sha = stringSetting(options, env, names, 'modelSha256');
  if (sha) {
    if (!SHA256.test(sha.value)) {
      throw new ServerSettingsError(
        `${sha.source} must be the model's sha256 as 64 hex digits, received ${show(sha.value)}; set it to the digest \`modelfab inspect\` prints`,
      );
    }
    expectedSha256.push({ sha256: sha.value.toLowerCase(), source: sha.source });
  }
  if (config && !modelSetting) {
    expectedSha256.push({ sha256: config.model.sha256, source: `${configFile} model.sha256` });
  }

  const name = stringSetting(options, env, names, 'modelName')?.value ?? config?.model.name;
  const modelName = name ?? defaultModelName(modelPath);
  if (modelName.includes('/') || modelName === '') {
    throw new ServerSettingsError(
      `the model name must be a non-empty name without "/", received ${show(modelName)}; set ${SERVER_ENV.modelName} to a name such as "iris"`,
    );
  }
  const modelVersion =
    stringSetting(options, env, names, 'modelVersion')?.value ??
    config?.model.version ??
    SERVER_DEFAULTS.modelVersion;
  if (modelVersion.includes('/')) {
    throw new ServerSettingsError(
      `the model version must not contain "/", received ${show(modelVersion)}; set ${SERVER_ENV.modelVersion} to a version such as "1"`,
    );
  }

  const host = options.host ?? SERVER_DEFAULTS.host;
  if (typeof host !== 'string' || host === '') {
    throw new ServerSettingsError(`host must be an address such as "0.0.0.0", received ${show(host)}`);
  }
  const cpus = options.cpus ?? availableCpus();
  if (typeof cpus !== 'number' || !(cpus > 0)) {
    throw new ServerSettingsError(
      `${names.cpus ?? 'cpus'} must be a positive number, received ${show(cpus)}`,
    );
  }
  const workers =
    numberSetting(options, env, names, 'workers') ?? config?.threads.workers ?? SERVER_DEFAULTS.workers;
  const intraOpThreads =
    numberSetting(options, env, names, 'intraOpThreads') ??
    config?.threads.intraOpThreads ??
    intraOpThreadsFor((cpus * 1000) / workers);
  const apiKeyFile = stringSetting(options, env, names, 'apiKeyFile');

  return {
    configFile,
    modelPath,
    modelName,
    modelVersion,
    expectedSha256,
    host,
    port: numberSetting(options, env, names, 'port') ?? SERVER_DEFAULTS.port,
    metricsPort: numberSetting(options, env, names, 'metricsPort') ?? SERVER_DEFAULTS.metricsPort,
    cpus,
    workers,
    intraOpThreads,
    maxBatchSize:
      numberSetting(options, env, names, 'maxBatchSize') ??
      config?.batching.maxBatchSize ??
      SERVER_DEFAULTS.maxBatchSize,
    maxQueueDelayMs:
      numberSetting(options, env, names, 'maxQueueDelayMs') ??
      config?.batching.maxQueueDelayMs ??
      SERVER_DEFAULTS.maxQueueDelayMs,
    maxQueueSize: numberSetting(options, env, names, 'maxQueueSize') ?? SERVER_DEFAULTS.maxQueueSize,
    maxBodyBytes: numberSetting(options, env, names, 'maxBodyBytes') ?? SERVER_DEFAULTS.maxBodyBytes,
    bodyTimeoutMs: numberSetting(options, env, names, 'bodyTimeoutMs') ?? SERVER_DEFAULTS.bodyTimeoutMs,
    requestTimeoutMs:
      numberSetting(options, env, names, 'requestTimeoutMs') ?? SERVER_DEFAULTS.requestTimeoutMs,
    drainSeconds: numberSetting(options, env, names, 'drainSeconds') ?? SERVER_DEFAULTS.drainSeconds,
    apiKeyFile: apiKeyFile ? path.resolve(apiKeyFile.value) : undefined,
  };
}
