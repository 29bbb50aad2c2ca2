/**
 * A slow model judged within the default-sized budget: about 100 ms per inference, a 30-second
 * budget, a p99 bound far from it (passes) and one it cannot meet (fails); each decision within
 * the budget. Real server, real load, real cgroup where one can be made.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PropsChecker, resolveGate } from '../../lib/core';
import { type GateReport, runGateSync } from '../../lib/gate';
import { inspectModel } from '../../lib/model';
import { serverEntryFile } from '../../lib/server/bundle-server';
import { heavyMatMulModel } from '../support/gate-fixtures';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-slow-gate-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const MODEL = heavyMatMulModel(scratch, 2200, 1024);
const BUDGET_SECONDS = 30;

function gate(latencyP99Ms: number): GateReport {
  return runGateSync({
    constructPath: 'prod/slow',
    modelName: 'slow',
    model: inspectModel(MODEL),
    gate: resolveGate(
      new PropsChecker('prod/slow'),
      { latencyP99Ms, budgetSeconds: BUDGET_SECONDS },
      scratch,
    ),
    // The detector ran on 2 CPUs; so does this model.
    resources: { cpuMillis: 2000, memoryBytes: 2 * 2 ** 30 },
    server: { entry: serverEntryFile(), env: {} },
    cacheDir: fs.mkdtempSync(path.join(scratch, 'cache-')),
  });
}

describe('a model of about 100 ms per inference, 30-second budget', () => {
  it('passes a 2,000 ms p99 bound, within the budget', () => {
    const report = gate(2000);
    const m = report.measurements;
    process.stderr.write(
      `slow model: ${(m.durationMs / 1000).toFixed(1)} s; model alone p50 ${m.modelAlone.p50Ms.toFixed(1)} ms; ` +
        `${m.throughput.rps.toFixed(1)} rps at the bound; p99 ${m.latency.p99Ms.toFixed(0)} ms ` +
        `(<= ${m.latency.bounds.p99.upperMs?.toFixed(0)} ms) from ${m.latency.bounds.p99.samples} samples\n`,
    );
    expect(m.modelAlone.p50Ms).toBeGreaterThan(40); // "about 100 ms" on one core; two threads here
    expect(m.modelAlone.p50Ms).toBeLessThan(200);
    expect(report.verdicts.filter((v) => !v.pass).map((v) => v.message)).toEqual([]);
    expect(report.passed).toBe(true);
    expect(m.durationMs).toBeLessThanOrEqual(BUDGET_SECONDS * 1000 * 1.1);
  });

  it('fails a 50 ms p99 bound as shown beyond it, not as undecided, within the budget', () => {
    const report = gate(50);
    const m = report.measurements;
    const p99 = report.verdicts.find((v) => v.metric === 'latency p99')!;
    expect(p99.pass).toBe(false);
    expect(p99.message).toMatch(/^latency p99 [\d.,]+ ms > latencyP99Ms 50 \(/);
    expect(p99.message).not.toMatch(/not shown/);
    expect(m.durationMs).toBeLessThanOrEqual(BUDGET_SECONDS * 1000 * 1.1);
  });
});
