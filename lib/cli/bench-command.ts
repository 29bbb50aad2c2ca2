/**
 * `modelfab bench <model.onnx> [--gate gate.json] [--cpu 1] [--memory 512Mi] [--json]`: runs the
 * quality gate on a model outside any chart, prints the report and exits 1 when a threshold fails.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  defaultModelName,
  type GateProps,
  ModelfabValidationError,
  parseCpuMillis,
  parseMemoryBytes,
  PropsChecker,
  QuantityError,
  resolveGate,
} from '../core';
import { runGateSync, writeGateReports } from '../gate';
import { ModelFileError, inspectModel } from '../model';
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
import { serverEntryFile } from '../server/bundle-server';
import { formatGateReport } from './format-gate-report';

const NAME = 'bench';

export const BENCH_USAGE = `usage: modelfab bench <model.onnx> [--gate gate.json|JSON] [--cpu 1] [--memory 512Mi] [--json]

benchmark an onnx model with onnxruntime the way an InferenceService would serve it, check the
gate's thresholds and print the report. progress goes to stderr.

options:
  --gate FILE|JSON   the gate as json, in a file or inline: the same fields as the InferenceService
                     gate prop, e.g. {"latencyP99Ms": 20, "accuracy": {"dataset": "eval.jsonl", "min": 0.9}};
                     dataset paths are relative to the file, or to the working directory when inline
                     (default: {}, measure only)
  --cpu QUANTITY     the container's cpu limit; intra-op threads follow it (default: 1)
  --memory QUANTITY  the container's memory limit (default: 512Mi)
  --budget SECONDS   time the measurement may take (default: the gate's budgetSeconds, 20)
  --report-dir DIR   also write the json, markdown and svg reports there
  --no-cache         measure even when the same model and settings were measured before
  --json             print the report as json instead of a table
  -h, --help         print this help

exit status: 0 every threshold passed, 1 a threshold failed or the gate could not run,
2 bad usage.`;

/** `--gate` inline: its value is a JSON object itself, not a file name. */
function isInlineGate(value: string): boolean {
  return value.trimStart().startsWith('{');
}

/** `text` as gate props; `what` names where it came from, `fix` (when given) what to do instead. */
function parseGate(text: string, what: string, fix?: string): GateProps {
  try {
    return JSON.parse(text) as GateProps;
  } catch (error) {
    const message = `${what} is not valid json: ${(error as Error).message}`;
    throw new ModelfabValidationError(NAME, 'gate', fix === undefined ? message : `${message}; ${fix}`);
  }
}

/** The gate props of `--gate`: an inline JSON object, or the JSON file it names. */
function readGate(value: string): GateProps {
  if (isInlineGate(value)) {
    return parseGate(
      value,
      'the --gate json',
      `pass a json object such as '{"latencyP99Ms": 20}', or a file`,
    );
  }
  let text: string;
  try {
    text = fs.readFileSync(value, 'utf8');
  } catch (error) {
    throw new ModelfabValidationError(
      NAME,
      'gate',
      `cannot read the gate file ${path.resolve(value)}: ${(error as Error).message}`,
    );
  }
  return parseGate(text, `the gate file ${path.resolve(value)}`);
}

export function runBench(args: readonly string[]): CommandResult {
  const parsed = parseCommandLine(NAME, BENCH_USAGE, args, {
    gate: { type: 'string' },
    cpu: { type: 'string' },
    memory: { type: 'string' },
    budget: { type: 'string' },
    'report-dir': { type: 'string' },
    'no-cache': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (isCommandResult(parsed)) return parsed;
  const { values, positionals } = parsed;
  const misuse = positionalError(NAME, positionals, 'model file');
  if (misuse) return misuse;
  let cpuMillis: number;
  let memoryBytes: number;
  try {
    cpuMillis = parseCpuMillis(values.cpu ?? '1');
    memoryBytes = parseMemoryBytes(values.memory ?? '512Mi');
  } catch (error) {
    if (error instanceof QuantityError) return usageError(NAME, error.message);
    throw error;
  }
  const budget = values.budget === undefined ? undefined : Number(values.budget);
  if (budget !== undefined && !(budget > 0))
    return usageError(
      NAME,
      `--budget must be a positive number of seconds, got ${JSON.stringify(values.budget)}`,
    );
  try {
    const model = inspectModel(positionals[0]);
    const gateProps = values.gate === undefined ? {} : readGate(values.gate);
    const gateDir =
      values.gate === undefined || isInlineGate(values.gate)
        ? process.cwd()
        : path.dirname(path.resolve(values.gate));
    const gate = resolveGate(
      new PropsChecker(NAME),
      { ...gateProps, ...(budget !== undefined ? { budgetSeconds: budget } : {}) },
      gateDir,
    );
    const report = runGateSync({
      constructPath: NAME,
      modelName: defaultModelName(model.path),
      model,
      gate,
      resources: { cpuMillis, memoryBytes },
      server: { entry: serverEntryFile(), env: {} },
      ...(values['no-cache'] ? { cacheDir: fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-bench-')) } : {}),
    });
    if (values['report-dir'] !== undefined)
      writeGateReports(values['report-dir'], defaultModelName(model.path), report);
    const text = values.json ? JSON.stringify(report, null, 2) : formatGateReport(report);
    return { exitCode: report.passed ? EXIT_CODES.ok : EXIT_CODES.failure, stdout: `${text}\n`, stderr: '' };
  } catch (error) {
    if (error instanceof ModelFileError || error instanceof ModelfabValidationError)
      return failure(NAME, error.message);
    throw error;
  }
}

export const benchCommand: CliCommand = {
  name: NAME,
  summary: 'benchmark a model against gate thresholds and print the report',
  usage: BENCH_USAGE,
  run: runBench,
};
