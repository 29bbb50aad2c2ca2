import { parseArgs, type ParseArgsConfig } from 'node:util';
/** Exit statuses of the `modelfab` command. */
export const EXIT_CODES = {
  /** The command did what was asked. */
  ok: 0,
  /** The command ran but failed (a model file that cannot be read, a failed gate, …). */
  failure: 1,
  /** The command line was wrong: unknown command or option, missing argument. */
  usage: 2,
} as const;

/** What a command produced: the text for stdout and stderr and the exit status. */
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A `modelfab` subcommand. `run` gets the arguments after the command name and returns its
 * output rather than writing it, so commands are testable without spawning a process.
 */
export interface CliCommand {
  /** The word that selects it: `modelfab <name> …`. */
  readonly name: string;
  /** One lower-case line for the command list. */
  readonly summary: string;
  /** The full help text, printed by `modelfab <name> --help`. */
  readonly usage: string;
  run(args: readonly string[]): CommandResult | Promise<CommandResult>;
}

/** A result that prints `text` to stdout and exits 0. */
export function success(text: string): CommandResult {
  return { exitCode: EXIT_CODES.ok, stdout: ensureNewline(text), stderr: '' };
}

/** A result that prints `modelfab <command>: <message>` to stderr with the given exit status. */
export function failure(
  command: string,
  message: string,
  exitCode: number = EXIT_CODES.failure,
): CommandResult {
  return { exitCode, stdout: '', stderr: `modelfab ${command}: ${message}\n` };
}

/** A usage error: the message, where to find help, and exit status 2. */
export function usageError(command: string, message: string): CommandResult {
  const help =
    command === '' ? "run 'modelfab --help' for usage" : `run 'modelfab ${command} --help' for usage`;
  const prefix = command === '' ? 'modelfab' : `modelfab ${command}`;
  return { exitCode: EXIT_CODES.usage, stdout: '', stderr: `${prefix}: ${message}\n${help}\n` };
}

/**
 * A usage error from node's `parseArgs`: its first sentence, lower-cased (the rest is advice
 * about '--' that does not fit here).
 */
export function argumentError(command: string, error: unknown): CommandResult {
  const message = error instanceof Error ? error.message : String(error);
  const first = message.split('. ', 1).join('');
  return usageError(command, first.charAt(0).toLowerCase() + first.slice(1));
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** The option declarations of a command (node's `parseArgs` form); `--help`/`-h` is added. */
export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** Parsed option values: booleans for boolean options, strings for string options. */
export type CommandValues<T extends CommandOptions> = {
  [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string;
};

/** A command line, parsed. */
export interface ParsedCommandLine<T extends CommandOptions> {
  readonly values: CommandValues<T>;
  readonly positionals: readonly string[];
}

/**
 * Parses a command's arguments strictly (unknown options are errors; positionals allowed). Returns
 * the result to print instead when there is nothing to run: the help text for `--help`, or the
 * usage error.
 */
export function parseCommandLine<T extends CommandOptions>(
  command: string,
  usage: string,
  args: readonly string[],
  options: T,
): ParsedCommandLine<T> | CommandResult {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...args],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    return argumentError(command, error);
  }
  if (parsed.values.help === true) return success(usage);
  return { values: parsed.values as CommandValues<T>, positionals: parsed.positionals };
}

/** Whether a parse ended in a result to print rather than a command line to run. */
export function isCommandResult(value: object): value is CommandResult {
  return 'exitCode' in value;
}

/**
 * The usage error for a command that takes one `what` (e.g. 'model file') as its positional
 * argument, or undefined when `positionals` holds exactly one (or none, when it is optional).
 */
export function positionalError(
  command: string,
  positionals: readonly string[],
  what: string,
  optional = false,
): CommandResult | undefined {
  if (positionals.length === 0 && !optional) return usageError(command, `missing the ${what}`);
  if (positionals.length <= 1) return undefined;
  const received = positionals.map((p) => JSON.stringify(p)).join(' ');
  return usageError(command, `expected one ${what}, received ${positionals.length}: ${received}`);
}
