/**
 * `modelfab serve <model.onnx> [options]`: runs the inference server the image runs, on this
 * machine, with a flag for every server setting. Flags override `MODELFAB_*` variables, which
 * override the serving config file (`--config`), which overrides the defaults. The server's JSON
 * log lines go to stdout; where it listens, and that it stopped, go to stderr. SIGINT or SIGTERM
 * drains and stops it (exit 0); a second signal stops at once (exit 1).
 */
import {
  type AnySettingValue,
  explicitSettingProblem,
  SERVER_ENV,
  type ServerOptions,
  type SettingKey,
  type SettingRow,
  settingRows,
} from '../core';
import { type InferenceServer, type LogSink, type OptionNames, startInferenceServer } from '../server';
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

/** One flag of `modelfab serve`: a server setting's row that names a flag. */
interface ServeFlag {
  /** The option of {@link ServerOptions} it sets. */
  readonly key: SettingKey;
  /** Without the dashes: `max-batch-size`. */
  readonly flag: string;
  readonly row: SettingRow<AnySettingValue>;
}

/** Every flag, in the order of the settings table (and of the help). */
const FLAGS: readonly ServeFlag[] = settingRows().flatMap(({ key, row }) =>
  row.flag === undefined ? [] : [{ key, flag: row.flag, row }],
);

/** How the help states a setting's default: ` (default: the config's, else 1)`, or nothing. */
function defaultHelp(row: SettingRow<AnySettingValue>): string {
  const value = row.serveDefault ?? row.default;
  const stated =
    row.defaultHelp ?? (value === undefined ? undefined : (row.rule.format?.(value) ?? String(value)));
  if (stated === undefined) return '';
  return ` (default: ${row.config === undefined ? '' : "the config's, else "}${stated})`;
}

/** The options section of the help: each flag, its help line and its environment variable. */
function optionsHelp(): string {
  const rows: Array<[string, string]> = FLAGS.map(({ flag, row }) => [
    `  --${flag} ${row.rule.placeholder}`,
    `${row.help}${defaultHelp(row)}${row.env === undefined ? '' : `; env ${row.env}`}`,
  ]);
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
  const options: Record<string, unknown> = {};
  for (const { key, flag, row } of FLAGS) {
    const text = values[flag];
    if (typeof text !== 'string') continue;
    const value = row.rule.fromText(text.trim());
    if (value === undefined) return usageError(NAME, explicitSettingProblem(`--${flag}`, row.rule, text));
    options[key] = value;
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
  for (const { key, row } of FLAGS) if (row.serveDefault !== undefined) options[key] ??= row.serveDefault;
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
