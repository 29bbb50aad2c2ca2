/**
 * `modelfab inspect <model.onnx> [--json]`: prints what modelfab reads from a model file.
 */
import { ModelFileError, inspectModel } from '../model';
import {
  type CliCommand,
  type CommandResult,
  failure,
  isCommandResult,
  parseCommandLine,
  positionalError,
  success,
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
  const parsed = parseCommandLine(NAME, INSPECT_USAGE, args, { json: { type: 'boolean' } });
  if (isCommandResult(parsed)) return parsed;
  const { values, positionals } = parsed;
  const misuse = positionalError(NAME, positionals, 'model file');
  if (misuse) return misuse;
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
