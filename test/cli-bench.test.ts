/**
 * `modelfab bench`: the gate from the command line. Two real benchmarks (a pass and a fail) prove
 * the wiring with the smallest budgets that reach a verdict; the rest is usage and messages.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBench } from '../lib/cli/bench-command';
import { runCli } from '../lib/cli/run-cli';

const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-cli-bench-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function gateFile(name: string, gate: object): string {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, JSON.stringify(gate));
  return file;
}

describe('modelfab bench', () => {
  it('prints the report and exits 0 when every threshold passes; dataset paths are relative to the gate file', () => {
    fs.copyFileSync(path.join(path.dirname(IRIS), 'eval.jsonl'), path.join(scratch, 'eval.jsonl'));
    const gate = gateFile('pass.json', {
      latencyP99Ms: 50,
      accuracy: { dataset: 'eval.jsonl', min: 0.9 },
      maxBatchSize: 2,
    });
    const reports = path.join(scratch, 'reports');
    // The smallest budget: enough for the served path to show a p99 within a 50 ms bound.
    const result = runBench([IRIS, '--gate', gate, '--budget', '3', '--no-cache', '--report-dir', reports]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^gate PASSED: iris/);
    expect(result.stdout).toMatch(/pass\s+accuracy\.min/);
    expect(result.stdout).toMatch(/<- serving config/);
    expect(fs.readdirSync(reports).sort()).toEqual(['iris.gate.json', 'iris.gate.md', 'iris.gate.svg']);
  });

  it('exits 1 when a threshold fails, and --json prints the report', () => {
    const gate = gateFile('fail.json', { latencyP99Ms: 0.0001, maxBatchSize: 1 });
    const result = runBench([IRIS, '--gate', gate, '--budget', '3', '--no-cache', '--json', '--cpu', '500m']);
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.passed).toBe(false);
    expect(report.measurements.environment.cpuLimitMillis).toBe(500);
    expect(report.verdicts[0]).toMatchObject({ threshold: 'latencyP99Ms', pass: false });
  });

  it.each([
    [['--gate', 'x.json'], /missing the model file/],
    [[IRIS, '--cpu', 'lots'], /"lots" is not a kubernetes quantity/],
    [[IRIS, '--budget=-3'], /--budget must be a positive number of seconds, got "-3"/],
    [[IRIS, '--frobnicate'], /unknown option '--frobnicate'/i],
  ])('rejects bad usage %j with exit 2', (args, message) => {
    const result = runBench(args);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('exits 1 with the file and the problem for an unreadable gate file or a bad gate value', () => {
    const missing = runBench([IRIS, '--gate', path.join(scratch, 'nope.json')]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toMatch(/cannot read the gate file .*nope\.json/);
    const bad = runBench([IRIS, '--gate', gateFile('bad.json', { latencyP99Ms: -1 })]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(/\[bench\] gate\.latencyP99Ms must be a number greater than 0, got -1/);
    const notJson = path.join(scratch, 'not.json');
    fs.writeFileSync(notJson, '{ latency: 1');
    expect(runBench([IRIS, '--gate', notJson]).stderr).toMatch(/is not valid json/);
    // Inline: the same checks, on the value itself.
    const inline = runBench([IRIS, '--gate', '{"latencyP99Ms": -1}']);
    expect(inline.exitCode).toBe(1);
    expect(inline.stderr).toMatch(/\[bench\] gate\.latencyP99Ms must be a number greater than 0, got -1/);
    expect(runBench([IRIS, '--gate', '{"latencyP99Ms": 2']).stderr).toMatch(
      /the --gate json is not valid json: .*; pass a json object such as '\{"latencyP99Ms": 20\}', or a file/,
    );
  });

  it('is listed in the top-level help', async () => {
    expect((await runCli(['--help'])).stdout).toMatch(/bench\s+benchmark a model against gate thresholds/);
  });
});
