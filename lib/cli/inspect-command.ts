/**
 * `modelfab inspect <model.onnx> [--json]`: prints what modelfab reads from a model file.
 */
import { parseArgs } from 'node:util';
import { ModelFileError, inspectModel } from '../model';
import {
  argumentError,
  type CliCommand,
  type CommandResult,
  failure,
  success,
  usageError,
} from './cli-command';
import { formatModelInfo, formatModelInfoJson } from './format-model-info';

const NAME = 'inspect';

/** The help text of `modelfab inspect`. */
export const INSPECT_USAGE = `usage: modelfab inspect <model.onnx> [--json]

print what modelfab reads from an onnx model file without running it: sha256, size, ir version,
opsets, producer, parameter and node counts, whether it is batchable, and its inputs and outputs.

options:
  --json      print the model info as json instead of a table
  -h, --help  print this help

exit status: 0 inspected, 1 the file cannot be inspected (missing, not onnx, corrupt, …),
2 bad usage.`;

/** Runs `modelfab inspect` with the arguments after `inspect`; reads the model file, writes nothing. */
export function runInspect(args: readonly string[]): CommandResult {
  let parsed: { values: { json?: boolean; help?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...args],
      options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return argumentError(NAME, err);
  }
  const { values, positionals } = parsed;
  if (values.help) return success(INSPECT_USAGE);
  if (positionals.length === 0) return usageError(NAME, 'missing the model file path');
  if (positionals.length > 1) {
    const received = positionals.map((p) => JSON.stringify(p)).join(' ');
    return usageError(NAME, `expected one model file, received ${positionals.length}: ${received}`);
  }
  const [modelPath] = positionals as [string];
  try {
    const info = inspectModel(modelPath);
    return success(values.json ? formatModelInfoJson(info) : formatModelInfo(info));
  } catch (err) {
    if (err instanceof ModelFileError) return failure(NAME, err.message);
    throw err;
  }
}

/** The `inspect` entry of the command table. */
export const inspectCommand: CliCommand = {
  name: NAME,
  summary: "print an onnx model's signature, opsets, size and digest",
  usage: INSPECT_USAGE,
  run: runInspect,
};
