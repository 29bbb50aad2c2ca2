#!/usr/bin/env node
/**
 * The `modelfab` executable (package.json `bin`): runs the command line and writes its output.
 * All the logic is in `runCli`; this file only does the process I/O.
 */
import { EXIT_CODES } from './cli-command';
import { runCli } from './run-cli';

runCli(process.argv.slice(2)).then(
  (result) => {
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    process.exitCode = result.exitCode;
  },
  (err: unknown) => {
    const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
    process.stderr.write(`modelfab: internal error: ${detail}\n`);
    process.exitCode = EXIT_CODES.failure;
  },
);
