import { type CliCommand } from './cli-command';
import { benchCommand } from './bench-command';
import { buildCommand } from './build-command';
import { inspectCommand } from './inspect-command';
import { serveCommand } from './serve-command';

/** Every `modelfab` subcommand, in the order `modelfab --help` lists them. Add new commands here. */
export const COMMANDS: readonly CliCommand[] = [inspectCommand, benchCommand, serveCommand, buildCommand];
