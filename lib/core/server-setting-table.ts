/**
 * Every server setting, described once: the option of {@link ServerOptions} it is, the kind of
 * value it takes (its rule), its `MODELFAB_*` variable, its `modelfab serve` flag, where the
 * serving config file (`modelfab.json`) holds it, its default and its help line. `SERVER_ENV`,
 * `SERVER_DEFAULTS` (`server-options.ts`) and the settings' resolution and checks (lib/server `server-settings.ts`), and the flags
 * and help of `modelfab serve` (`lib/cli/serve-command.ts`) are derived from it; an option of
 * {@link ServerOptions} without a row does not compile.
 */
import { RUNTIME_CONTRACTS } from './model-image-source';
import {
  ADDRESS,
  BYTES,
  COUNT,
  filePath,
  MILLISECONDS,
  MODEL_NAME,
  MODEL_VERSION,
  oneOf,
  PORT,
  POSITIVE,
  SECONDS,
  SHA256_HEX,
  type SettingRule,
  suchAs,
} from './server-setting-rules';
import type { ServerOptions } from './server-options';
import { EXECUTION_PROVIDERS } from './execution-provider';

/** One setting: where its value can come from, what it must be, and how the help describes it. */
export interface SettingRow<T> {
  /** What its values must be, and how they are read. */
  readonly rule: SettingRule<T>;
  /** Its `MODELFAB_*` environment variable, if it has one. */
  readonly env?: string;
  /** Its `modelfab serve` flag, without the dashes, if it has one. */
  readonly flag?: string;
  /** Where the serving config file holds it, dotted (`threads.workers`), if it does. */
  readonly config?: string;
  /** The value when no source sets it; absent when it has none or it is derived (see `defaultHelp`). */
  readonly default?: T;
  /** The default of `modelfab serve` where it differs from the server's (the image's). */
  readonly serveDefault?: T;
  /** How the help states the default, where the value alone does not say it. */
  readonly defaultHelp?: string;
  /** The help line, lower-case, without the default (the help adds it, and the variable). */
  readonly help: string;
}

/** One row for each option of {@link ServerOptions}, of the option's type. */
export type ServerSettingTable = {
  readonly [K in keyof Required<ServerOptions>]: SettingRow<NonNullable<ServerOptions[K]>>;
};

/** The address `modelfab serve` listens on: this machine only (the image's server listens on every address). */
const SERVE_HOST = '127.0.0.1';

/** Every server setting, in the order `modelfab serve --help` lists them. */
export const SERVER_SETTING_TABLE = {
  configFile: {
    rule: filePath('modelfab.json'),
    env: 'MODELFAB_CONFIG',
    flag: 'config',
    help: "a serving config (an image's modelfab.json); its model.file is served unless <model.onnx> is given, and its model.sha256 is checked",
  },
  modelPath: {
    rule: filePath('model/iris.onnx'),
    env: 'MODELFAB_MODEL_PATH',
    config: 'model.file',
    help: "the onnx model file (modelfab serve's <model.onnx>; the config file's model.file is relative to the config file)",
  },
  modelName: {
    rule: MODEL_NAME,
    env: 'MODELFAB_MODEL_NAME',
    flag: 'name',
    config: 'model.name',
    defaultHelp:
      'the file name without .onnx as a dns label, as the image names it: hello_deepa.onnx serves hello-deepa',
    help: 'the model name in urls, /v2/models/NAME',
  },
  modelVersion: {
    rule: MODEL_VERSION,
    env: 'MODELFAB_MODEL_VERSION',
    flag: 'model-version',
    config: 'model.version',
    default: '1',
    help: 'the model version in urls',
  },
  modelSha256: {
    rule: SHA256_HEX,
    env: 'MODELFAB_MODEL_SHA256',
    flag: 'sha256',
    config: 'model.sha256',
    help: 'refuse to start unless the model file has this sha256 (modelfab inspect prints it)',
  },
  host: {
    rule: ADDRESS,
    flag: 'host',
    default: '0.0.0.0',
    serveDefault: SERVE_HOST,
    defaultHelp: `${SERVE_HOST}, this machine only; 0.0.0.0 for every interface, as the image does`,
    help: 'the address both ports listen on',
  },
  port: {
    rule: PORT,
    env: 'MODELFAB_PORT',
    flag: 'port',
    default: RUNTIME_CONTRACTS.modelfab.httpPort,
    help: 'the open inference protocol port; 0 picks a free one',
  },
  metricsPort: {
    rule: PORT,
    env: 'MODELFAB_METRICS_PORT',
    flag: 'metrics-port',
    default: RUNTIME_CONTRACTS.modelfab.metricsPort,
    help: 'the prometheus port, GET /metrics; 0 picks a free one',
  },
  workers: {
    rule: COUNT,
    env: 'MODELFAB_WORKERS',
    flag: 'workers',
    config: 'threads.workers',
    default: 1,
    help: 'inference worker threads, each with its own onnxruntime session',
  },
  intraOpThreads: {
    rule: COUNT,
    env: 'MODELFAB_INTRA_OP_THREADS',
    flag: 'intra-op-threads',
    config: 'threads.intraOpThreads',
    defaultHelp: 'the cpus shared by the workers',
    help: 'onnxruntime threads per worker',
  },
  executionProvider: {
    rule: oneOf(EXECUTION_PROVIDERS, 'PROVIDER'),
    env: 'MODELFAB_EXECUTION_PROVIDER',
    flag: 'execution-provider',
    default: 'cpu',
    help: "onnxruntime's execution provider: cpu, cuda (gpu 0), or tensorrt (gpu 0, cuda for what tensorrt cannot run); cuda and tensorrt need onnxruntime-node's cuda libraries (ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js)",
  },
  cpus: {
    rule: POSITIVE,
    flag: 'cpus',
    defaultHelp: 'the cores, capped by the cgroup cpu quota',
    help: 'the cpus the default intra-op threads are computed from',
  },
  maxBatchSize: {
    rule: COUNT,
    env: 'MODELFAB_MAX_BATCH_SIZE',
    flag: 'max-batch-size',
    config: 'batching.maxBatchSize',
    default: 1,
    help: 'the most rows of a dynamic batch; 1 turns batching off',
  },
  maxQueueDelayMs: {
    rule: MILLISECONDS,
    env: 'MODELFAB_MAX_QUEUE_DELAY_MS',
    flag: 'max-queue-delay-ms',
    config: 'batching.maxQueueDelayMs',
    default: 0,
    help: 'how long a request may wait for its batch to fill',
  },
  maxQueueSize: {
    rule: COUNT,
    env: 'MODELFAB_MAX_QUEUE_SIZE',
    flag: 'max-queue-size',
    default: 1024,
    help: 'requests that may wait for a worker; one more gets 429',
  },
  maxBodyBytes: {
    rule: BYTES,
    env: 'MODELFAB_MAX_BODY_BYTES',
    flag: 'max-body-bytes',
    default: 16 * 1024 * 1024,
    help: 'the largest request body, in bytes or as a quantity such as 16Mi; a larger one gets 413',
  },
  bodyTimeoutMs: {
    rule: {
      ...MILLISECONDS,
      must: 'a non-negative number of milliseconds (0: no deadline)',
      suggest: suchAs('10000'),
    },
    env: 'MODELFAB_BODY_TIMEOUT_MS',
    flag: 'body-timeout-ms',
    default: 10_000,
    help: 'a request body not complete this long after its headers gets 408 and its connection is closed; 0: no deadline',
  },
  requestTimeoutMs: {
    rule: {
      ...MILLISECONDS,
      must: 'a non-negative number of milliseconds (0: no limit)',
      suggest: suchAs('30000'),
    },
    env: 'MODELFAB_REQUEST_TIMEOUT_MS',
    flag: 'request-timeout-ms',
    default: 30_000,
    help: 'an inference not answered within this gets 504; 0 waits forever',
  },
  latencyBoundMs: {
    rule: {
      ...POSITIVE,
      must: 'a positive number of milliseconds',
      suggest: suchAs('25'),
      placeholder: 'MS',
    },
    env: 'MODELFAB_LATENCY_BOUND_MS',
    flag: 'latency-bound-ms',
    defaultHelp: 'none, the standard buckets only',
    help: "a latency bound that modelfab_request_duration_seconds gets a bucket boundary at, so an alert counts the requests slower than it exactly (an InferenceService with monitoring and a gate sets the gate's p99 bound)",
  },
  drainSeconds: {
    rule: SECONDS,
    env: 'MODELFAB_DRAIN_SECONDS',
    flag: 'drain-seconds',
    default: 20,
    help: 'how long a stop may wait for accepted requests to be answered',
  },
  apiKeyFile: {
    rule: filePath('/var/run/secrets/modelfab/api-key/api-key'),
    env: 'MODELFAB_API_KEY_FILE',
    flag: 'api-key-file',
    defaultHelp: 'no key, the api is open',
    help: 'a file holding an api key; every endpoint of the api port but health then needs "Authorization: Bearer KEY" or "X-API-Key: KEY". the metrics port takes no key: keep it private (the rendered NetworkPolicy admits only networkPolicy.metricsFrom to it)',
  },
} as const satisfies ServerSettingTable;

/** The key of a setting: an option of {@link ServerOptions}. */
export type SettingKey = keyof ServerSettingTable;

/** The value type of a setting. */
export type SettingValue<K extends SettingKey> = NonNullable<ServerOptions[K]>;

type Table = typeof SERVER_SETTING_TABLE;
type KeysWith<Field extends string> = {
  [K in SettingKey]: Table[K] extends { readonly [F in Field]: unknown } ? K : never;
}[SettingKey];

/** The settings that have a `MODELFAB_*` variable. */
export type EnvSettingKey = KeysWith<'env'>;
/** The settings with a default that depends on nothing. */
export type DefaultSettingKey = KeysWith<'default'>;

/** The row of one setting. */
export function settingRow<K extends SettingKey>(key: K): SettingRow<SettingValue<K>> {
  return SERVER_SETTING_TABLE[key] as SettingRow<SettingValue<K>>;
}

/** A value of any setting: a string or a number. */
export type AnySettingValue = SettingValue<SettingKey>;

/** Every row with its key, in the table's order. */
export function settingRows(): Array<{
  readonly key: SettingKey;
  readonly row: SettingRow<AnySettingValue>;
}> {
  return (Object.keys(SERVER_SETTING_TABLE) as SettingKey[]).map((key) => ({
    key,
    row: settingRow(key),
  }));
}

/** The `MODELFAB_*` variable of each setting that has one, by its key. */
export type ServerEnvNames = {
  readonly [K in EnvSettingKey]: Extract<Table[K], { readonly env: string }>['env'];
};

/** The default of each setting whose default depends on nothing, by its key. */
export type ServerDefaults = { readonly [K in DefaultSettingKey]: SettingValue<K> };
