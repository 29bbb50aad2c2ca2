/**
 * `modelfab bench <model.onnx> [--gate gate.json] [--cpu 1] [--memory 512Mi] [--gpu a10g] [--json]`:
 * runs the quality gate on a model outside any chart, prints the report and exits 1 when a
 * threshold fails. With `--gpu`, the served path is measured on this machine's GPU of that name
 * with onnxruntime's CUDA provider, and the report goes into the gate cache, where a synth on a
 * machine without the GPU finds it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  defaultModelName,
  GATE_DEFAULTS,
  type GateProps,
  GPU_NAMES,
  type GpuName,
  ModelfabValidationError,
  parseCpuMillis,
  parseMemoryBytes,
  PropsChecker,
  QuantityError,
  resolveGate,
} from '../core';
import {
  benchGpuRefusal,
  defaultCacheDir,
  GATE_GPU_PROVIDER,
  type GpuHost,
  LOCAL_GPU_HOST,
  measuringDevice,
  runGateSync,
  writeGateReports,
} from '../gate';
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

export const BENCH_USAGE = `usage: modelfab bench <model.onnx> [--gate gate.json|JSON] [--cpu 1] [--memory 512Mi]
                      [--gpu NAME [--cache-dir DIR] [--env NAME=VALUE]...] [--json]

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
  --gpu NAME         measure the served path on this machine's GPU of that name
                     (${GPU_NAMES.join(', ')}) with onnxruntime's cuda provider,
                     as the gate of a service placed on such a pool needs; accuracy and
                     parity still run on the cpu provider. refused when this machine lacks
                     the GPU or onnxruntime-node's GPU libraries. the report goes into the
                     gate cache: commit it, or restore it where synth runs
  --cache-dir DIR    the gate cache (default: $MODELFAB_CACHE_DIR, else .modelfab-cache)
  --env NAME=VALUE   a variable of the server's environment, as the service's Deployment sets it;
                     repeat it for each (the synth's refusal prints the ones it needs)
  --target-utilization FRACTION
                     the planned utilization the latency is measured at, the service's
                     slo.targetUtilization (default: ${GATE_DEFAULTS.targetUtilization})
  --report-dir DIR   also write the json, markdown and svg reports there
  --no-cache         measure even when the same model and settings were measured before (the
                     new report goes into --cache-dir, or with --gpu the gate cache; else nowhere)
  --json             print the report as json instead of a table
  -h, --help         print this help

exit status: 0 every threshold passed, 1 a threshold failed or the gate could not run (no such
GPU here, no GPU libraries), 2 bad usage (an unknown GPU name among them).`;

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

/** `NAME=VALUE` pairs of `--env`, or the usage error for one that is not. */
function parseEnv(pairs: readonly string[]): Record<string, string> | CommandResult {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
    if (!match) {
      return usageError(
        NAME,
        `--env ${JSON.stringify(pair)} is not NAME=VALUE; pass a variable such as --env MODELFAB_DRAIN_SECONDS=20`,
      );
    }
    env[match[1]] = match[2];
  }
  return env;
}

/**
 * `modelfab bench`. `host` is what the command asks of this machine about GPUs (nvidia-smi,
 * onnxruntime-node's GPU libraries); tests pass their own.
 */
export function runBench(args: readonly string[], host: GpuHost = LOCAL_GPU_HOST): CommandResult {
  const parsed = parseCommandLine(NAME, BENCH_USAGE, args, {
    gate: { type: 'string' },
    cpu: { type: 'string' },
    memory: { type: 'string' },
    budget: { type: 'string' },
    gpu: { type: 'string' },
    'cache-dir': { type: 'string' },
    env: { type: 'string', multiple: true },
    'target-utilization': { type: 'string' },
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
  const gpu = values.gpu;
  if (gpu !== undefined && !(GPU_NAMES as readonly string[]).includes(gpu)) {
    return usageError(
      NAME,
      `--gpu ${JSON.stringify(gpu)} is not a GPU a pool knows; pass one of ${GPU_NAMES.join(', ')}`,
    );
  }
  const utilization =
    values['target-utilization'] === undefined ? undefined : Number(values['target-utilization']);
  if (utilization !== undefined && !(utilization > 0 && utilization <= 1)) {
    return usageError(
      NAME,
      `--target-utilization must be a fraction above 0 and at most 1, got ${JSON.stringify(values['target-utilization'])}`,
    );
  }
  const serverEnv = parseEnv((values.env as string[] | undefined) ?? []);
  if (isCommandResult(serverEnv)) return serverEnv;
  let measure;
  if (gpu !== undefined) {
    const detected = host.detectGpus();
    const device = measuringDevice(gpu as GpuName, detected);
    const refusal = benchGpuRefusal(
      gpu as GpuName,
      detected,
      device ? host.providerAvailability(GATE_GPU_PROVIDER) : undefined,
    );
    if (refusal !== undefined || device === undefined)
      return failure(NAME, refusal ?? `--gpu ${gpu}: no such GPU here`);
    measure = { device, provider: GATE_GPU_PROVIDER };
  }
  const cacheDir =
    values['cache-dir'] !== undefined
      ? path.resolve(values['cache-dir'])
      : values['no-cache'] && gpu === undefined
        ? fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-bench-'))
        : defaultCacheDir();
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
    const report = runGateSync(
      {
        constructPath: NAME,
        modelName: defaultModelName(model.path),
        model,
        gate,
        ...(utilization !== undefined ? { targetUtilization: utilization } : {}),
        resources: { cpuMillis, memoryBytes },
        server: { entry: serverEntryFile(), env: serverEnv },
        cacheDir,
        remeasure: values['no-cache'] === true,
        ...(gpu !== undefined ? { gpu: gpu as GpuName } : {}),
      },
      measure,
    );
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
