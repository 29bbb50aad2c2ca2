/**
 * The server's settings, from four sources (highest first): explicit options (`modelfab serve`
 * flags, tests), `MODELFAB_*` environment variables (the Deployment, tuned by the gate), the
 * serving config file `modelfab.json` (the image), then defaults (from the CPU limit). What each
 * setting is, and the rule its values follow, is its row in `SERVER_SETTING_TABLE`; bad values fail
 * with a message naming where the value came from, the value and the fix.
 */
import fs from 'node:fs';
import path from 'node:path';
import { defaultModelName, parseServingConfigFile, ServingConfigFileError } from '../core';
import { availableCpus, intraOpThreadsFor } from '../runtime';
import {
  type DefaultSettingKey,
  type ExecutionProvider,
  explicitSettingProblem,
  SERVER_DEFAULTS,
  SERVER_ENV,
  type ServerOptions,
  type SettingKey,
  settingProblem,
  type SettingValue,
  settingRow,
  settingRows,
} from '../core';

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
  /** onnxruntime's execution provider of every session. */
  readonly executionProvider: ExecutionProvider;
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  readonly maxQueueSize: number;
  readonly maxBodyBytes: number;
  /** 0: no deadline. */
  readonly bodyTimeoutMs: number;
  /** 0: no limit. */
  readonly requestTimeoutMs: number;
  /** The latency bound the request duration histogram has a bucket boundary at, ms; none when not set. */
  readonly latencyBoundMs: number | undefined;
  readonly drainSeconds: number;
  /** Absolute path of the API key file, if any. */
  readonly apiKeyFile: string | undefined;
}

/** A setting has a value the server cannot use. */
export class ServerSettingsError extends Error {
  override readonly name = 'ServerSettingsError';
}

/**
 * What each option is called where the options come from (e.g. `{ configFile: '--config' }` for
 * the command line), for messages; an option without a name is called by its key.
 */
export type OptionNames = Readonly<Partial<Record<keyof ServerOptions, string>>>;

type Env = Readonly<Record<string, string | undefined>>;

/** A setting's value, and where it came from: the option's name or the variable. */
interface Given<T> {
  readonly value: T;
  readonly source: string;
}

/** The settings a serving config file holds, checked. */
type FileSettings = { readonly [K in SettingKey]?: SettingValue<K> };

/**
 * The option, else the environment variable, of a setting (undefined when neither is set; an
 * empty variable counts as unset), checked against its rule.
 */
function given<K extends SettingKey>(
  key: K,
  options: ServerOptions,
  env: Env,
  names: OptionNames,
): Given<SettingValue<K>> | undefined {
  const { rule, env: variable } = settingRow(key);
  const option: unknown = options[key];
  if (option !== undefined) {
    const name = names[key] ?? key;
    const value = rule.accept(option);
    if (value === undefined) throw new ServerSettingsError(explicitSettingProblem(name, rule, option));
    return { value, source: name };
  }
  if (variable === undefined) return undefined;
  const text = env[variable]?.trim();
  if (text === undefined || text === '') return undefined;
  const value = rule.fromText(text);
  if (value === undefined) {
    throw new ServerSettingsError(
      `${settingProblem(variable, rule, env[variable])}; set it to ${rule.suggest}, or unset it for the default`,
    );
  }
  return { value, source: variable };
}

/** The value at a dotted path (`threads.workers`) of parsed JSON. */
function valueAt(json: unknown, dotted: string): unknown {
  return dotted
    .split('.')
    .reduce<unknown>(
      (at, key) => (typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined),
      json,
    );
}

/** The settings the serving config file holds, each checked against its row's rule. */
function fileSettings(json: unknown, file: string): FileSettings {
  const settings: Partial<Record<SettingKey, unknown>> = {};
  for (const { key, row } of settingRows()) {
    if (row.config === undefined) continue;
    const received = valueAt(json, row.config);
    if (received === undefined) continue; // an optional one: parseServingConfigFile checked the others
    const value = row.rule.accept(received);
    if (value === undefined) {
      throw new ServingConfigFileError(
        `${file}: ${settingProblem(row.config, row.rule, received)}; regenerate the image with modelfab`,
      );
    }
    settings[key] = value;
  }
  return settings as FileSettings;
}

function readConfigFile(file: string, source: string): FileSettings {
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
  parseServingConfigFile(json, file); // its format and types; the settings' rules are the table's
  return fileSettings(json, file);
}

/**
 * Resolves the server's settings from `options`, then `env` (`MODELFAB_*`), then the serving
 * config file (`options.configFile` or `$MODELFAB_CONFIG`), then defaults. Empty environment
 * variables count as unset; relative paths are relative to the working directory, except the
 * config file's `model.file`, which is relative to the config file.
 * @param names what the options are called where they come from, for messages
 * @throws ServerSettingsError naming the option or variable, the value received and the fix
 * @throws ServingConfigFileError when the config file is not a serving config this version reads
 */
export function resolveServerSettings(
  options: ServerOptions = {},
  env: Env = process.env,
  names: OptionNames = {},
): ServerSettings {
  const read = <K extends SettingKey>(key: K): Given<SettingValue<K>> | undefined =>
    given(key, options, env, names);
  const configSetting = read('configFile');
  const configFile = configSetting ? path.resolve(configSetting.value) : undefined;
  const fromFile: FileSettings = configSetting ? readConfigFile(configFile!, configSetting.source) : {};
  const optional = <K extends SettingKey>(key: K): SettingValue<K> | undefined =>
    read(key)?.value ?? fromFile[key];
  const withDefault = <K extends DefaultSettingKey>(key: K): SettingValue<K> =>
    optional(key) ?? SERVER_DEFAULTS[key];

  const modelSetting = read('modelPath');
  let modelPath: string;
  if (modelSetting) modelPath = path.resolve(modelSetting.value);
  else if (fromFile.modelPath !== undefined) {
    modelPath = path.resolve(path.dirname(configFile!), fromFile.modelPath);
  } else {
    throw new ServerSettingsError(
      `no model to serve: pass ${names.modelPath ?? 'modelPath'}, set ${SERVER_ENV.modelPath} to an .onnx file, or set ${SERVER_ENV.configFile} to a modelfab.json`,
    );
  }

  // The digests the file must match: the one given, and the config file's when it names the file.
  const expectedSha256: ExpectedDigest[] = [];
  const sha = read('modelSha256');
  if (sha) expectedSha256.push({ sha256: sha.value, source: sha.source });
  if (fromFile.modelSha256 !== undefined && !modelSetting) {
    const where = settingRow('modelSha256').config!;
    expectedSha256.push({ sha256: fromFile.modelSha256, source: `${configFile} ${where}` });
  }

  const cpus = read('cpus')?.value ?? availableCpus();
  const workers = withDefault('workers');
  const apiKeyFile = optional('apiKeyFile');
  return {
    configFile,
    modelPath,
    modelName: optional('modelName') ?? defaultModelName(modelPath),
    modelVersion: withDefault('modelVersion'),
    expectedSha256,
    host: withDefault('host'),
    port: withDefault('port'),
    metricsPort: withDefault('metricsPort'),
    cpus,
    workers,
    intraOpThreads: optional('intraOpThreads') ?? intraOpThreadsFor((cpus * 1000) / workers),
    executionProvider: withDefault('executionProvider'),
    maxBatchSize: withDefault('maxBatchSize'),
    maxQueueDelayMs: withDefault('maxQueueDelayMs'),
    maxQueueSize: withDefault('maxQueueSize'),
    maxBodyBytes: withDefault('maxBodyBytes'),
    bodyTimeoutMs: withDefault('bodyTimeoutMs'),
    requestTimeoutMs: withDefault('requestTimeoutMs'),
    latencyBoundMs: optional('latencyBoundMs'),
    drainSeconds: withDefault('drainSeconds'),
    apiKeyFile: apiKeyFile === undefined ? undefined : path.resolve(apiKeyFile),
  };
}
