/**
 * `modelfab serve <model.onnx> [options]`: runs the inference server the image runs, on this
 * machine, with a flag for every server setting. Flags override `MODELFAB_*` variables, which
 * override the serving config file (`--config`), which overrides the defaults. The server's JSON
 * log lines go to stdout; where it listens, and that it stopped, go to stderr. SIGINT or SIGTERM
 * drains and stops it (exit 0); a second signal stops at once (exit 1).
 */
import { parseMemoryBytes, QuantityError, show } from '../core';
import {
  type InferenceServer,
  type LogSink,
  type OptionNames,
  SERVER_ENV,
  type ServerOptions,
  startInferenceServer,
} from '../server';
import {
  type CliCommand,
  type CommandResult,
  EXIT_CODES,
  failure,
  isCommandResult,
  parseCommandLine,
  positionalError,
  usageError,
} from './cli-command';

const NAME = 'serve';

/**
 * The address `modelfab serve` listens on unless `--host` says otherwise: this machine only, so a
 * local run does not open an API (without a key, by default) to the network. The image listens on
 * all addresses (`0.0.0.0`, the server's own default), where the NetworkPolicy guards it.
 */
export const SERVE_DEFAULT_HOST = '127.0.0.1';

/** A flag's value cannot be used; the message names the flag, the value and what it must be. */
class FlagValueError extends Error {}

type Value = string | number;

/** One flag of `modelfab serve`: the server option it sets and how its text becomes a value. */
interface ServeFlag {
  /** The option of {@link ServerOptions} it sets. */
  readonly key: Exclude<keyof ServerOptions, 'modelPath'>;
  /** Without the dashes: `max-batch-size`. */
  readonly flag: string;
  /** The placeholder in the help: `N`, `FILE`. */
  readonly value: string;
  /** The help line (lower-case). */
  readonly help: string;
  /** What the text must be, for the message when it is not. */
  readonly must: string;
  /** The value, or undefined when the text is not one. */
  readonly parse: (text: string) => Value | undefined;
}

const INTEGER = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;

function integerIn(min: number, max: number): (text: string) => number | undefined {
  return (text) => {
    if (!INTEGER.test(text)) return undefined;
    const value = Number(text);
    return Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
  };
}

const count = integerIn(1, Number.MAX_SAFE_INTEGER);
const port = integerIn(0, 65535);
const nonNegative = (text: string): number | undefined => (DECIMAL.test(text) ? Number(text) : undefined);
const positive = (text: string): number | undefined => {
  const value = nonNegative(text);
  return value !== undefined && value > 0 ? value : undefined;
};
const name = (text: string): string | undefined => (text !== '' && !text.includes('/') ? text : undefined);
const nonEmpty = (text: string): string | undefined => (text.trim() !== '' ? text : undefined);
const bytes = (text: string): number | undefined => {
  try {
    return parseMemoryBytes(text);
  } catch (error) {
    if (error instanceof QuantityError) return undefined;
    throw error;
  }
};

/** Every flag, in the order the help lists them; `--host` has no environment variable. */
const FLAGS: readonly ServeFlag[] = [
  {
    key: 'configFile',
    flag: 'config',
    value: 'FILE',
    help: "a serving config (an image's modelfab.json); its model.file is served unless <model.onnx> is given, and its model.sha256 is checked",
    must: 'a file path',
    parse: nonEmpty,
  },
  {
    key: 'modelName',
    flag: 'name',
    value: 'NAME',
    help: "the model name in urls, /v2/models/NAME (default: the config's, else the file name without .onnx as a dns label, as the image names it: hello_deepa.onnx serves hello-deepa)",
    must: 'a non-empty name without "/", such as iris',
    parse: name,
  },
  {
    key: 'modelVersion',
    flag: 'model-version',
    value: 'VERSION',
    help: "the model version in urls (default: the config's, else 1)",
    must: 'a non-empty version without "/", such as 1',
    parse: name,
  },
  {
    key: 'modelSha256',
    flag: 'sha256',
    value: 'HEX',
    help: 'refuse to start unless the model file has this sha256 (modelfab inspect prints it)',
    must: "the model's sha256 as 64 hex digits",
    parse: (text) => (/^[0-9a-fA-F]{64}$/.test(text) ? text.toLowerCase() : undefined),
  },
  {
    key: 'host',
    flag: 'host',
    value: 'ADDRESS',
    help: `the address both ports listen on (default: ${SERVE_DEFAULT_HOST}, this machine only; 0.0.0.0 for every interface, as the image does)`,
    must: 'an address such as 127.0.0.1 or 0.0.0.0',
    parse: nonEmpty,
  },
  {
    key: 'port',
    flag: 'port',
    value: 'PORT',
    help: 'the open inference protocol port; 0 picks a free one (default: 8080)',
    must: 'a port number from 0 to 65535 (0: any free port)',
    parse: port,
  },
  {
    key: 'metricsPort',
    flag: 'metrics-port',
    value: 'PORT',
    help: 'the prometheus port, GET /metrics; 0 picks a free one (default: 9090)',
    must: 'a port number from 0 to 65535 (0: any free port)',
    parse: port,
  },
  {
    key: 'workers',
    flag: 'workers',
    value: 'N',
    help: "inference worker threads, each with its own onnxruntime session (default: the config's, else 1)",
    must: 'an integer of at least 1',
    parse: count,
  },
  {
    key: 'intraOpThreads',
    flag: 'intra-op-threads',
    value: 'N',
    help: "onnxruntime threads per worker (default: the config's, else the cpus shared by the workers)",
    must: 'an integer of at least 1',
    parse: count,
  },
  {
    key: 'cpus',
    flag: 'cpus',
    value: 'N',
    help: 'the cpus the default intra-op threads are computed from (default: the cores, capped by the cgroup cpu quota)',
    must: 'a positive number, such as 2',
    parse: positive,
  },
  {
    key: 'maxBatchSize',
    flag: 'max-batch-size',
    value: 'N',
    help: "the most rows of a dynamic batch; 1 turns batching off (default: the config's, else 1)",
    must: 'an integer of at least 1',
    parse: count,
  },
  {
    key: 'maxQueueDelayMs',
    flag: 'max-queue-delay-ms',
    value: 'MS',
    help: "how long a request may wait for its batch to fill (default: the config's, else 0)",
    must: 'a non-negative number of milliseconds',
    parse: nonNegative,
  },
  {
    key: 'maxQueueSize',
    flag: 'max-queue-size',
    value: 'N',
    help: 'requests that may wait for a worker; one more gets 429 (default: 1024)',
    must: 'an integer of at least 1',
    parse: count,
  },
  {
    key: 'maxBodyBytes',
    flag: 'max-body-bytes',
    value: 'BYTES',
    help: 'the largest request body, in bytes or as a quantity such as 16Mi; a larger one gets 413 (default: 16Mi)',
    must: 'a positive whole number of bytes, or a quantity such as 16Mi',
    parse: bytes,
  },
  {
    key: 'bodyTimeoutMs',
    flag: 'body-timeout-ms',
    value: 'MS',
    help: 'a request body not complete this long after its headers gets 408 and its connection is closed; 0: no deadline (default: 10000)',
    must: 'a non-negative number of milliseconds (0: no deadline)',
    parse: nonNegative,
  },
  {
    key: 'requestTimeoutMs',
    flag: 'request-timeout-ms',
    value: 'MS',
    help: 'an inference not answered within this gets 504; 0 waits forever (default: 30000)',
    must: 'a non-negative number of milliseconds (0: no limit)',
    parse: nonNegative,
  },
  {
    key: 'drainSeconds',
    flag: 'drain-seconds',
    value: 'SECONDS',
    help: 'how long a stop may wait for accepted requests to be answered (default: 20)',
    must: 'a non-negative number of seconds',
    parse: nonNegative,
  },
  {
    key: 'apiKeyFile',
    flag: 'api-key-file',
    value: 'FILE',
    help: 'a file holding an api key; every endpoint of the api port but health then needs "Authorization: Bearer KEY" or "X-API-Key: KEY" (default: no key, the api is open). the metrics port takes no key: keep it private (the rendered NetworkPolicy admits only networkPolicy.metricsFrom to it)',
    must: 'a file path',
    parse: nonEmpty,
  },
];

function envOf(flag: ServeFlag): string | undefined {
  return flag.key in SERVER_ENV ? SERVER_ENV[flag.key as keyof typeof SERVER_ENV] : undefined;
}

/** The options section of the help: each flag, its help line and its environment variable. */
function optionsHelp(): string {
  const rows: Array<[string, string]> = FLAGS.map((f) => {
    const env = envOf(f);
    return [`  --${f.flag} ${f.value}`, `${f.help}${env ? `; env ${env}` : ''}`];
  });
  rows.push(['  -h, --help', 'print this help']);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const indent = `\n${' '.repeat(width)}`;
  return rows
    .map(([left, right]) => `${left.padEnd(width)}${wrap(right, HELP_COLUMNS - width).join(indent)}`)
    .join('\n');
}

const HELP_COLUMNS = 100;

/** Splits text into lines of at most `columns` characters at spaces (a longer word gets its own line). */
function wrap(text: string, columns: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > columns) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines;
}

/** The help text of `modelfab serve`. */
export const SERVE_USAGE = `usage: modelfab serve <model.onnx> [options]
       modelfab serve --config modelfab.json [options]

run the inference server the image runs, on this machine: the open inference protocol (kserve v2)
rest api on --port, prometheus metrics on --metrics-port. the server's json log lines go to stdout;
where it listens goes to stderr. ctrl-c or SIGTERM stops it gracefully: readiness fails, intake
stops, accepted requests are answered (for up to --drain-seconds), then it exits 0; a second
signal stops at once with exit 1.

each setting comes from its flag, else its MODELFAB_* environment variable, else the --config
file ($${SERVER_ENV.configFile}), else its default. <model.onnx> ($${SERVER_ENV.modelPath}) may be
left out when a config file is given.

options:
${optionsHelp()}

exit status: 0 stopped by a signal after draining, 1 the server could not start (a model file that
is missing, corrupt or not the pinned sha256, a model onnxruntime cannot load, a busy port, a bad
environment variable or config file), 2 bad usage.`;

/** Where SIGINT and SIGTERM come from: `process`, or an emitter in tests. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

/** The process context of {@link runServe}; every field defaults to the real process. */
export interface ServeContext {
  /** Where the `MODELFAB_*` settings are read from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the server's JSON log lines go (one per call, no newline). @default stdout */
  readonly log?: LogSink;
  /** Where the command's own lines go, while it runs (one per call, with its newline). @default stderr */
  readonly notice?: (line: string) => void;
  /** Where the stop signals come from. @default process */
  readonly signals?: SignalSource;
  /** Ends the process at once, on a second signal. @default process.exit */
  readonly exit?: (code: number) => void;
}

type Parsed = { options: ServerOptions } | CommandResult;

/** Turns the arguments into server options, or the usage error that explains what is wrong. */
function parseServeArgs(args: readonly string[], env: ServeContext['env'] & object): Parsed {
  const parsed = parseCommandLine(
    NAME,
    SERVE_USAGE,
    args,
    Object.fromEntries(FLAGS.map((f) => [f.flag, { type: 'string' as const }])),
  );
  if (isCommandResult(parsed)) return parsed;
  const { values, positionals } = parsed;
  const misuse = positionalError(NAME, positionals, 'model file', true);
  if (misuse) return misuse;
  const options: Record<string, Value> = {};
  try {
    for (const flag of FLAGS) {
      const text = values[flag.flag];
      if (typeof text !== 'string') continue;
      const value = flag.parse(text.trim());
      if (value === undefined) {
        throw new FlagValueError(`--${flag.flag} must be ${flag.must}, received ${show(text)}`);
      }
      options[flag.key] = value;
    }
  } catch (error) {
    if (error instanceof FlagValueError) return usageError(NAME, error.message);
    throw error;
  }
  const [modelPath] = positionals;
  if (modelPath !== undefined) {
    if (modelPath.trim() === '') return usageError(NAME, 'the model file path is empty');
    options.modelPath = modelPath;
  } else if (
    options.configFile === undefined &&
    !env[SERVER_ENV.modelPath]?.trim() &&
    !env[SERVER_ENV.configFile]?.trim()
  ) {
    return usageError(
      NAME,
      `missing the model file path: pass <model.onnx>, or --config with a serving config (modelfab.json), or set ${SERVER_ENV.modelPath} or ${SERVER_ENV.configFile}`,
    );
  }
  options.host ??= SERVE_DEFAULT_HOST;
  return { options };
}

/** What each server option is called on this command line, for the server's messages. */
const OPTION_NAMES: OptionNames = {
  modelPath: '<model.onnx>',
  ...Object.fromEntries(FLAGS.map((f) => [f.key, `--${f.flag}`])),
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function listeningNotice(server: InferenceServer): string {
  const s = server.settings;
  const checked = s.expectedSha256.length > 0 ? ' (checked)' : '';
  const everywhere = s.host === '0.0.0.0' || s.host === '::' ? `, on every interface (${s.host})` : '';
  const key = s.apiKeyFile ? `; the api needs the key in ${s.apiKeyFile}` : '';
  return (
    `modelfab ${NAME}: serving ${JSON.stringify(s.modelName)} version ${JSON.stringify(s.modelVersion)} from ${s.modelPath}, sha256 ${server.model.sha256}${checked}\n` +
    `modelfab ${NAME}: listening on ${server.url} (open inference protocol) and ${server.metricsUrl} (prometheus)${everywhere}${key}; loading the model\n`
  );
}

function readyNotice(server: InferenceServer): string {
  const s = server.settings;
  const batching =
    s.maxBatchSize <= 1
      ? 'batching off'
      : server.model.batchable
        ? `batches of up to ${s.maxBatchSize} rows, waiting up to ${s.maxQueueDelayMs} ms`
        : `batching off (the model has no batch dimension; --max-batch-size ${s.maxBatchSize} is ignored)`;
  const infer = `${server.url}/v2/models/${encodeURIComponent(s.modelName)}/infer`;
  return `modelfab ${NAME}: ready, POST ${infer}: ${plural(s.workers, 'worker')} × ${plural(s.intraOpThreads, 'intra-op thread')}, ${batching}; ctrl-c stops it (draining for up to ${s.drainSeconds} s)\n`;
}

/**
 * Runs `modelfab serve` with the arguments after `serve`: starts the server and resolves once it
 * has stopped, after a signal (exit 0) or because it could not start (exit 1); bad arguments
 * resolve at once with exit 2. Writes while it runs (the log to stdout, notices to stderr), so
 * the result only holds the last line.
 */
export async function runServe(args: readonly string[], context: ServeContext = {}): Promise<CommandResult> {
  const env = context.env ?? process.env;
  const parsed = parseServeArgs(args, env);
  if (isCommandResult(parsed)) return parsed;
  const notice = context.notice ?? ((line: string) => void process.stderr.write(line));
  const signals = context.signals ?? process;
  const exit = context.exit ?? ((code: number) => process.exit(code));

  let stopSignal: NodeJS.Signals | undefined;
  let requestStop: (signal: NodeJS.Signals) => void = () => undefined;
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
    requestStop = resolve;
  });
  const stop = (signal: NodeJS.Signals): void => {
    if (stopSignal !== undefined) {
      notice(`modelfab ${NAME}: received ${signal} again; stopping without waiting for the drain\n`);
      exit(EXIT_CODES.failure);
      return;
    }
    stopSignal = signal;
    notice(`modelfab ${NAME}: received ${signal}; draining, then stopping\n`);
    requestStop(signal);
  };
  signals.on('SIGINT', stop);
  signals.on('SIGTERM', stop);
  try {
    let server: InferenceServer;
    try {
      server = await startInferenceServer({
        ...parsed.options,
        env,
        waitUntilReady: false,
        optionNames: OPTION_NAMES,
        ...(context.log ? { log: context.log } : {}),
      });
    } catch (error) {
      return failure(NAME, (error as Error).message);
    }
    notice(listeningNotice(server));
    const loaded = server.whenReady().then(
      () => ({ loadError: undefined }),
      (error: Error) => ({ loadError: error }),
    );
    // A signal while the model loads stops the server without waiting for it.
    const first = await Promise.race([loaded, stopRequested]);
    if (typeof first === 'object') {
      if (first.loadError) {
        await server.close();
        return failure(NAME, `the model could not be loaded: ${first.loadError.message}`);
      }
      notice(readyNotice(server));
    }
    const signal = await stopRequested;
    await server.close();
    return { exitCode: EXIT_CODES.ok, stdout: '', stderr: `modelfab ${NAME}: stopped after ${signal}\n` };
  } finally {
    signals.off('SIGINT', stop);
    signals.off('SIGTERM', stop);
  }
}

/** The `serve` entry of the command table. */
export const serveCommand: CliCommand = {
  name: NAME,
  summary: 'run the inference server on this machine for a model or a serving config',
  usage: SERVE_USAGE,
  run: (args) => runServe(args),
};
