import { type CliCommand } from './cli-command';
import { benchCommand } from './bench-command';
import { inspectCommand } from './inspect-command';

/** Every `modelfab` subcommand, in the order `modelfab --help` lists them. Add new commands here. */
export const COMMANDS: readonly CliCommand[] = [inspectCommand, benchCommand];
