/**
 * The server's settings as options (`modelfab serve` flags, tests), with the names and defaults
 * derived from their table (`server-setting-table.ts`). In lib/core because the Deployment's
 * environment (lib/render) and the server (lib/server) both read them.
 */
import { type ExecutionProvider } from './execution-provider';
import { type ServerDefaults, type ServerEnvNames, settingRows } from './server-setting-table';

/**
 * The environment variable of each setting that has one. The Deployment sets some of them
 * (lib/render `serverEnv`); the others are for operators and local runs.
 */
export const SERVER_ENV = Object.fromEntries(
  settingRows().flatMap(({ key, row }) => (row.env === undefined ? [] : [[key, row.env]])),
) as ServerEnvNames;

/** The defaults of the settings that do not depend on the model or the CPU limit. */
export const SERVER_DEFAULTS = Object.fromEntries(
  settingRows().flatMap(({ key, row }) => (row.default === undefined ? [] : [[key, row.default]])),
) as ServerDefaults;

/**
 * Settings given explicitly (command-line flags, tests). Each overrides its `MODELFAB_*`
 * variable, which overrides the serving config file, which overrides the default. Each option has
 * its row in `SERVER_SETTING_TABLE` (its rule, variable, flag, default and help): an option
 * added here without one does not compile.
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
  /**
   * onnxruntime's execution provider: `'cpu'`, `'cuda'` (GPU 0), or `'tensorrt'` (GPU 0, with CUDA
   * for what TensorRT cannot run). The GPU providers need onnxruntime-node's CUDA libraries, which
   * its install script downloads only when asked (`ONNXRUNTIME_NODE_INSTALL=cuda12`). The gate
   * starts the server with `'cuda'` to measure a service placed on a GPU pool.
   * @default $MODELFAB_EXECUTION_PROVIDER, else 'cpu'
   */
  readonly executionProvider?: ExecutionProvider;
  /** The CPUs the server may use, for the default threads. @default availableCpus(): cores capped by the cgroup CPU quota */
  readonly cpus?: number;
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
  /**
   * A latency bound, ms, at which the request duration histogram gets a bucket boundary, so an
   * alert counts the requests slower than the bound exactly instead of interpolating between
   * buckets. An InferenceService with `monitoring` and a gate sets it to the gated p99 bound.
   * @default $MODELFAB_LATENCY_BOUND_MS, else none: the standard buckets only
   */
  readonly latencyBoundMs?: number;
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
}
