/**
 * `modelfab bench --gpu`: the command a GPU service's refusal prints. It measures on this machine's
 * GPU of that name (refusing a name no pool knows, a machine without that GPU, or one without
 * onnxruntime-node's GPU libraries), and its report lands in the gate cache under the keys the synth
 * looks for. nvidia-smi and the libraries are given by a fake host; nothing here measures.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BENCH_USAGE, runBench } from '../lib/cli/bench-command';
import { EXIT_CODES } from '../lib/cli/cli-command';
import { defaultModelName, GPU_NAMES, PropsChecker, resolveGate } from '../lib/core';
import {
  buildGateReport,
  type GateRun,
  gateOutcomeSync,
  gpuCacheKey,
  gpuKeyInput,
  gpuLookupKey,
  type GpuHost,
  parseNvidiaSmi,
  writeGpuReport,
} from '../lib/gate';
import { inspectModel } from '../lib/model';
import { gpuProviderAvailability, type GpuProviderAvailability } from '../lib/runtime';
import { serverEntryFile } from '../lib/server/bundle-server';
import * as fx from './support/gate-fixtures';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-bench-gpu-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const IRIS = path.join(fx.IRIS_DIR, 'iris.onnx');
const A10G_SMI = 'NVIDIA A10G, 550.127.05, 23028\n';
const MISSING: GpuProviderAvailability = {
  available: false,
  problem: "onnxruntime's CUDA provider cannot load: onnxruntime-node's GPU libraries are not installed",
};

function host(csv: string, availability: GpuProviderAvailability = { available: true }): GpuHost {
  return { detectGpus: () => parseNvidiaSmi(csv), providerAvailability: () => availability };
}

/** The words of a command as a POSIX shell splits them (single quotes only, as gpuBenchCommand quotes). */
function words(command: string): string[] {
  return [...command.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) =>
    m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2],
  );
}

/** Quietly: the gate's progress lines go to stderr. */
function quiet<T>(fn: () => T): T {
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return fn();
  } finally {
    spy.mockRestore();
  }
}

describe('modelfab bench --gpu', () => {
  it('refuses a GPU name no pool knows, listing the known ones (exit 2)', () => {
    const result = runBench([IRIS, '--gpu', 'v100'], host(A10G_SMI));
    expect(result.exitCode).toBe(EXIT_CODES.usage);
    expect(result.stderr).toBe(
      `modelfab bench: --gpu "v100" is not a GPU a pool knows; pass one of t4, a10g, l4, l40s, a100, h100\nrun 'modelfab bench --help' for usage\n`,
    );
    expect(GPU_NAMES.join(', ')).toBe('t4, a10g, l4, l40s, a100, h100');
  });

  it('refuses a machine without that GPU (exit 1), naming what it has', () => {
    expect(runBench([IRIS, '--gpu', 'a10g'], host(''))).toEqual({
      exitCode: EXIT_CODES.failure,
      stdout: '',
      stderr:
        'modelfab bench: --gpu a10g: this machine has no NVIDIA GPU (nvidia-smi found none, or is not installed); run this command on a machine with a10g GPUs, or leave out --gpu to measure on the CPU\n',
    });
    expect(runBench([IRIS, '--gpu', 'l4'], host(A10G_SMI)).stderr).toBe(
      'modelfab bench: --gpu l4: this machine has only NVIDIA A10G; run this command on a machine with l4 GPUs, or leave out --gpu to measure on the CPU\n',
    );
  });

  it('refuses a machine with the GPU but without the provider libraries (exit 1)', () => {
    expect(runBench([IRIS, '--gpu', 'a10g'], host(A10G_SMI, MISSING))).toEqual({
      exitCode: EXIT_CODES.failure,
      stdout: '',
      stderr: `modelfab bench: --gpu a10g: this machine has NVIDIA A10G (driver 550.127.05), but ${MISSING.available ? '' : MISSING.problem}; the benchmark does not fall back to the CPU\n`,
    });
  });

  it('refuses an --env that is not NAME=VALUE and a utilization that is not a fraction (exit 2)', () => {
    expect(runBench([IRIS, '--env', 'TZ'], host('')).stderr).toMatch(
      /^modelfab bench: --env "TZ" is not NAME=VALUE; pass a variable such as --env MODELFAB_DRAIN_SECONDS=20\n/,
    );
    const result = runBench([IRIS, '--target-utilization', '1.5'], host(''));
    expect(result.exitCode).toBe(EXIT_CODES.usage);
    expect(result.stderr).toMatch(
      /--target-utilization must be a fraction above 0 and at most 1, got "1\.5"/,
    );
  });

  it('documents --gpu, --cache-dir, --env and --target-utilization', () => {
    expect(BENCH_USAGE).toMatch(
      /--gpu NAME\s+measure the served path on this machine's GPU of that name\s+\(t4, a10g, l4, l40s, a100, h100\)/,
    );
    expect(BENCH_USAGE).toMatch(
      /--cache-dir DIR\s+the gate cache \(default: \$MODELFAB_CACHE_DIR, else \.modelfab-cache\)/,
    );
    expect(BENCH_USAGE).toContain('--env NAME=VALUE');
    expect(BENCH_USAGE).toContain('--target-utilization FRACTION');
    // The new lines fit 100 columns (the --gate example above them was longer already).
    const long = BENCH_USAGE.split('\n').filter((line) => line.length > 100);
    expect(long).toEqual([expect.stringContaining('"accuracy": {"dataset": "eval.jsonl"')]);
  });

  it("run as the synth's refusal says, looks up and stores under the synth's keys", () => {
    const cacheDir = fs.mkdtempSync(path.join(scratch, 'cache-'));
    const run: GateRun & { gpu: 'a10g' } = {
      constructPath: 'prod/detector',
      modelName: 'detector',
      model: inspectModel(IRIS),
      gate: resolveGate(
        new PropsChecker('prod/detector'),
        { latencyP99Ms: 25, budgetSeconds: 3 },
        process.cwd(),
      ),
      slo: { targetRps: 500, targetUtilization: 0.6 },
      resources: { cpuMillis: 2000, memoryBytes: 4 * 2 ** 30 },
      server: { entry: serverEntryFile(), env: { TZ: 'UTC' } },
      cacheDir,
      gpu: 'a10g',
    };
    let refusal = '';
    try {
      gateOutcomeSync(run, {}, host(''));
    } catch (error) {
      refusal = (error as Error).message;
    }
    const command = /run from this directory: (npx modelfab bench .*?); then bring its cache here/.exec(
      refusal,
    )?.[1];
    expect(command).toBeDefined();
    const args = words(command!).slice(3); // after `npx modelfab bench`
    expect(args).toContain('--target-utilization');
    // The GPU runner measured it (here: its report, stored as bench stores it on an A10G).
    const device = parseNvidiaSmi(A10G_SMI)[0];
    const input = gpuKeyInput(run, 'a10g', 'cuda');
    const measured = buildGateReport({
      model: {
        name: defaultModelName(IRIS),
        path: IRIS,
        sha256: run.model.sha256,
        sizeBytes: run.model.sizeBytes,
      },
      gate: run.gate,
      measurements: fx.gateMeasurements({
        environment: {
          gpu: {
            name: 'a10g',
            product: device.product,
            driverVersion: device.driverVersion,
            memoryMiB: 23028,
            provider: 'cuda',
            measuredAt: '2026-11-20T09:30:00.000Z',
          },
        },
      }),
    });
    writeGpuReport(cacheDir, { lookupKey: gpuLookupKey(input), key: gpuCacheKey(input, device) }, measured);
    // The same command on that runner finds its own report: the keys it computes are the synth's.
    const result = quiet(() => runBench([...args, '--json'], host(A10G_SMI)));
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(EXIT_CODES.ok);
    const report = JSON.parse(result.stdout);
    expect(report.cached).toBe(true);
    expect(report.measurements.environment.gpu.product).toBe('NVIDIA A10G');
    // And a synth without the GPU uses it.
    expect(quiet(() => gateOutcomeSync(run, {}, host(''))).status).toBe('passed');
  });

  it.skipIf(gpuProviderAvailability('cuda').available)(
    'with --no-cache measures on CUDA, which fails here where its libraries are not installed (exit 1)',
    () => {
      const cacheDir = fs.mkdtempSync(path.join(scratch, 'cache-'));
      const result = quiet(() =>
        runBench(
          [IRIS, '--gpu', 'a10g', '--budget', '3', '--no-cache', '--cache-dir', cacheDir],
          host(A10G_SMI),
        ),
      );
      expect(result.exitCode).toBe(EXIT_CODES.failure);
      expect(result.stderr).toMatch(
        /^modelfab bench: \[bench\] gate could not run: onnxruntime's CUDA provider could not create a session on NVIDIA A10G \(driver 550\.127\.05\): .*Failed to load shared library/,
      );
      expect(fs.readdirSync(cacheDir)).toEqual([]);
    },
  );
});
