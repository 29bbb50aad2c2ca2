import { type CliCommand, type CommandResult, EXIT_CODES, success, usageError } from './cli-command';
import { COMMANDS } from './commands';

/** The top-level help: the commands and how to get each one's help. */
export function topLevelUsage(commands: readonly CliCommand[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const list = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
  return [
    'usage: modelfab <command> [options]',
    '',
    'commands:',
    list,
    '',
    "run 'modelfab <command> --help' for a command's options.",
  ].join('\n');
}

/**
 * Runs `modelfab` with the given arguments (without the node and script paths) and returns
 * what it printed and its exit status; the caller writes them out.
 */
export async function runCli(
  argv: readonly string[],
  commands: readonly CliCommand[] = COMMANDS,
): Promise<CommandResult> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    return {
      exitCode: EXIT_CODES.usage,
      stdout: '',
      stderr: `modelfab: missing a command\n${topLevelUsage(commands)}\n`,
    };
  }
  if (name === '--help' || name === '-h' || name === 'help') return success(topLevelUsage(commands));
  const command = commands.find((c) => c.name === name);
  if (!command) {
    const known = commands.map((c) => c.name).join(', ');
    return usageError('', `unknown command ${JSON.stringify(name)}; the commands are: ${known}`);
  }
  return command.run(rest);
}
