/**
 * The served model the gate measures: the real server bundle in its own process, inside the
 * pod's limits (a cgroup here, when one can be made), loaded over loopback HTTP. Real processes
 * and real timing, so it runs in the measuring project (vitest.config.mts), with generous bounds.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultModelName, PropsChecker, resolveGate, SERVER_ENV } from '../lib/core';
import { cpuEnforcementPreference, runGateSync } from '../lib/gate';
import { realClock } from '../lib/gate/bench-environment';
import { saturatedThroughput } from '../lib/gate/measure-performance';
import { createResourceBudget, detectEnforcement } from '../lib/gate/resource-budget';
import { encodeInferRequest } from '../lib/gate/request-bodies';
import { type ServedModel, ServerOutOfMemoryError, startServedModel } from '../lib/gate/served-model';
import { inspectModel } from '../lib/model';
import { serverEntryFile } from '../lib/server/bundle-server';
import { writeLargeModel } from './support/fixture-models';
import * as fx from './support/gate-fixtures';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-served-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const IRIS = path.join(fx.IRIS_DIR, 'iris.onnx');
const MIB = 2 ** 20;

/** An Iris request body, as clients send it. */
const irisBody = encodeInferRequest(
  { input: { type: 'float32', dims: [1, 4], data: Float32Array.from([5.1, 3.5, 1.4, 0.2]) } },
  'json',
);

function start(modelPath: string, cpuMillis: number, memoryBytes: number, bodies = [irisBody]) {
  return startServedModel({
    entry: serverEntryFile(),
    env: { [SERVER_ENV.modelPath]: modelPath, [SERVER_ENV.intraOpThreads]: '1' },
    budget: createResourceBudget({ cpuMillis, memoryBytes }),
    modelName: defaultModelName(modelPath),
    memoryLimitBytes: memoryBytes,
    readyTimeoutMs: 30_000,
    bodies,
  });
}

/** Requests per second with `clients` always outstanding, for `ms`: what the gate's search measures. */
function saturated(served: ServedModel, clients: number, ms: number): Promise<number> {
  return saturatedThroughput(served, clients, ms, realClock);
}

const enforcement = detectEnforcement();

describe('the served model', () => {
  it('starts the image server in its own process, answers, measures its start, and stops', async () => {
    const served = await start(IRIS, 1000, 512 * MIB);
    try {
      expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(served.readyMs).toBeGreaterThan(0);
      await served.infer();
      expect(served.peakMemoryBytes()).toBeGreaterThan(10 * MIB);
    } finally {
      await served.close();
    }
    await expect(served.infer()).rejects.toThrow(/answered nothing|exited/);
  });

  it.skipIf(enforcement.cpu !== 'quota')(
    'serves about half as much of a CPU-bound model under a 0.5-CPU quota as under 1 CPU',
    async () => {
      // 32 chained 1024×1024 MatMuls: about 2 ms of arithmetic per request, so the quota, not
      // HTTP, is what limits it (a model of a few hundred µs also pays the server's fixed cost per
      // request and a quota's stalls, and serves nearer 40% than half). Binary bodies keep the JSON
      // codec out of the comparison.
      const model = fx.chainedMatMulModel(scratch, 32, 1024);
      const x = { type: 'float32' as const, dims: [1, 1024], data: new Float32Array(1024).fill(0.5) };
      const bodies = [encodeInferRequest({ x }, 'binary')];
      const rate = async (cpuMillis: number) => {
        const served = await start(model, cpuMillis, 512 * MIB, bodies);
        try {
          // Enough clients that the server always has work when its quota lets it run.
          await saturated(served, 16, 300); // warm up
          return await saturated(served, 16, 1200);
        } finally {
          await served.close();
        }
      };
      const whole = await rate(1000);
      const half = await rate(500);
      process.stderr.write(
        `quota: ${whole.toFixed(0)} rps under 1 CPU, ${half.toFixed(0)} rps under 0.5 CPU: ${(half / whole).toFixed(2)}\n`,
      );
      expect(half / whole).toBeGreaterThan(0.35);
      expect(half / whole).toBeLessThan(0.65);
    },
    30_000,
  );

  it.runIf(enforcement.cpu !== 'quota')('says why the quota test did not run here', () => {
    // No cgroup could be made on this machine (not root, or no writable cgroup filesystem).
    expect(detectEnforcement().cpu).not.toBe('quota');
  });

  it('refuses a model larger than the memory limit the way an OOM kill would, naming resources.memory', async () => {
    const big = writeLargeModel(scratch, 300 * MIB, 'large-reduced.onnx', 'reduced').path;
    const attempt = start(big, 1000, 192 * MIB, [
      encodeInferRequest({ x: { type: 'float32', dims: [1, 1], data: Float32Array.of(1) } }, 'json'),
    ]).then(async (served) => {
      await served.infer();
      await served.close();
    });
    await expect(attempt).rejects.toThrow(ServerOutOfMemoryError);
    await expect(attempt).rejects.toThrow(
      /ran out of memory under resources\.memory 192 MiB .*raise resources\.memory/,
    );
  }, 60_000);

  it('fails the gate on such a model with the construct path and resources.memory', () => {
    const big = writeLargeModel(scratch, 300 * MIB, 'large-gated.onnx', 'reduced').path;
    const model = inspectModel(big);
    expect(() =>
      runGateSync({
        constructPath: 'prod/big',
        modelName: 'big',
        model,
        gate: resolveGate(new PropsChecker('prod/big'), { latencyP99Ms: 500, budgetSeconds: 3 }, scratch),
        resources: { cpuMillis: 1000, memoryBytes: 192 * MIB },
        server: { entry: serverEntryFile(), env: {} },
        cacheDir: fs.mkdtempSync(path.join(scratch, 'cache-')),
      }),
    ).toThrow(
      /\[prod\/big\] gate could not run: the server ran out of memory under resources\.memory 192 MiB/,
    );
  }, 60_000);

  it('says why when the server cannot start with the environment it was given, with its own log line', async () => {
    // A setting the Deployment could carry through the service's env, refused by the server at start.
    const attempt = startServedModel({
      entry: serverEntryFile(),
      env: { [SERVER_ENV.modelPath]: IRIS, [SERVER_ENV.maxQueueSize]: 'many' },
      budget: createResourceBudget({ cpuMillis: 1000, memoryBytes: 512 * MIB }),
      modelName: 'iris',
      memoryLimitBytes: 512 * MIB,
      readyTimeoutMs: 30_000,
      bodies: [irisBody],
    });
    await expect(attempt).rejects.toThrow(
      /^the server exited before listening \(exit code 1\); its last lines: .*MODELFAB_MAX_QUEUE_SIZE.*"many"/,
    );
  });
});

describe('MODELFAB_GATE_CPU_ENFORCEMENT', () => {
  it('takes auto, quota, affinity or none, auto when unset', () => {
    expect(cpuEnforcementPreference({})).toBe('auto');
    expect(cpuEnforcementPreference({ MODELFAB_GATE_CPU_ENFORCEMENT: ' affinity ' })).toBe('affinity');
  });

  it('refuses anything else with the value and the choices', () => {
    expect(() => cpuEnforcementPreference({ MODELFAB_GATE_CPU_ENFORCEMENT: 'cgroup' })).toThrow(
      'MODELFAB_GATE_CPU_ENFORCEMENT must be auto, quota, affinity or none, received "cgroup"',
    );
  });
});
