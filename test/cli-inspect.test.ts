/**
 * lib/cli: `modelfab inspect` as a function (output text and exit status) and once as the real
 * executable, plus the command dispatch.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../lib/cli/cli-command';
import { formatBytes, formatShape, formatTable } from '../lib/cli/format-model-info';
import { INSPECT_USAGE, runInspect } from '../lib/cli/inspect-command';
import { runCli } from '../lib/cli/run-cli';
import { inspectModel } from '../lib/model';
import * as fx from './support/fixture-models';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'lib', 'cli', 'main.ts');
const IRIS = path.join(ROOT, 'examples', 'iris', 'model', 'iris.onnx');

let dir: string;
let fixtures: Record<fx.FixtureName, fx.WrittenFixture>;

beforeAll(() => {
  dir = fx.makeTempDir('modelfab-cli-inspect-');
  fixtures = fx.writeFixtureModels(dir);
});

afterAll(() => {
  fx.removeDir(dir);
});

/** The value of a `key  value` line of the summary block. */
function field(stdout: string, key: string): string | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(`${key} `));
  return line?.slice(key.length).trim();
}

describe('modelfab inspect (as a function)', () => {
  it('prints the summary and the io table', () => {
    const file = fixtures['multi-io'].path;
    const info = inspectModel(file);
    const result = runInspect([file]);
    expect(result.exitCode).toBe(EXIT_CODES.ok);
    expect(result.stderr).toBe('');
    const out = result.stdout;
    expect(field(out, 'file')).toBe(file);
    expect(field(out, 'sha256')).toBe(info.sha256);
    expect(field(out, 'size')).toBe(`${info.sizeBytes} bytes`);
    expect(field(out, 'ir version')).toBe('8');
    expect(field(out, 'opsets')).toBe('ai.onnx 13, ai.onnx.ml 3');
    expect(field(out, 'producer')).toBe('modelfab-tools 1');
    expect(field(out, 'parameters')).toBe('4');
    expect(field(out, 'nodes')).toBe('4');
    expect(field(out, 'batchable')).toBe('no (input "k" is a scalar)');
    const table = out
      .slice(out.indexOf('\n\n') + 2)
      .trimEnd()
      .split('\n');
    expect(table.map((row) => row.split(/\s{2,}/))).toEqual([
      ['kind', 'name', 'type', 'shape'],
      ['input', 'features', 'float32', '[batch, 4]'],
      ['input', 'tokens', 'float32', '[batch, seq, 8]'],
      ['input', 'k', 'int64', '[] (scalar)'],
      ['input', 'mask', 'bool', '[batch]'],
      ['output', 'scaled', 'float32', '[batch, 4]'],
      ['output', 'pooled', 'float32', '[batch, 8]'],
      ['output', 'k_out', 'int64', '[] (scalar)'],
      ['output', 'not_mask', 'bool', '[batch]'],
    ]);
  });

  it('explains why a model is or is not batchable', () => {
    const batchable = (name: fx.FixtureName): string | undefined =>
      field(runInspect([fixtures[name].path]).stdout, 'batchable');
    expect(batchable('batchable-classifier')).toBe('yes (dim 0 of every input and output is a batch dim)');
    expect(batchable('fixed-shape')).toBe('no (dim 0 of input "image" is fixed at 1)');
    expect(batchable('unnamed-dims')).toBe('no (the rank of input "z" is not declared)');
    expect(batchable('sequence-input')).toBe('no (input "items" is a sequence, not a tensor)');
    expect(batchable('no-inputs')).toBe('no (the model has no inputs)');
  });

  it('shows unnamed dims, undeclared ranks and non-tensors', () => {
    const unnamed = runInspect([fixtures['unnamed-dims'].path]).stdout;
    expect(unnamed).toMatch(/^input +x +float32 +\[\?, 4\]$/m);
    expect(unnamed).toMatch(/^input +z +int32 +unknown rank$/m);
    expect(runInspect([fixtures['sequence-input'].path]).stdout).toMatch(/^input +items +sequence +-$/m);
  });

  it('prints the ModelInfo as json with --json, an undeclared rank as null', () => {
    const file = fixtures['unnamed-dims'].path;
    const result = runInspect(['--json', file]);
    expect(result.exitCode).toBe(EXIT_CODES.ok);
    const parsed = JSON.parse(result.stdout) as { inputs: { name: string; shape: unknown }[] };
    const info = inspectModel(file);
    expect(parsed).toEqual({
      ...info,
      inputs: info.inputs.map((v) => (v.isTensor && v.shape === undefined ? { ...v, shape: null } : v)),
      outputs: info.outputs.map((v) => (v.isTensor && v.shape === undefined ? { ...v, shape: null } : v)),
    });
    expect(parsed.inputs[1]).toMatchObject({ name: 'z', shape: null });
  });

  it('prints its usage with --help', () => {
    expect(runInspect(['--help'])).toEqual({ exitCode: 0, stdout: `${INSPECT_USAGE}\n`, stderr: '' });
    expect(runInspect(['-h', 'ignored.onnx']).exitCode).toBe(0);
  });

  it.each([
    [[], 'missing the model file'],
    [['a.onnx', 'b.onnx'], 'expected one model file, received 2: "a.onnx" "b.onnx"'],
    [['--yaml', 'a.onnx'], "unknown option '--yaml'"],
    [['--json=yes', 'a.onnx'], "option '--json' does not take an argument"],
  ])('usage error for %j: exit 2', (args, message) => {
    const result = runInspect(args);
    expect(result.exitCode).toBe(EXIT_CODES.usage);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`modelfab inspect: ${message}\nrun 'modelfab inspect --help' for usage\n`);
  });

  it.each([
    ['missing', () => path.join(dir, 'absent.onnx'), 'model file not found'],
    ['not onnx', () => fx.writeJsonFile(dir), 'not an onnx model'],
    [
      'truncated',
      () => fx.writeTruncatedModel(dir, fixtures['fixed-shape'].bytes, 60),
      'model file is truncated',
    ],
  ])('a model file that cannot be inspected (%s): exit 1 with the reason', (_name, write, message) => {
    const file = write();
    const result = runInspect([file]);
    expect(result.exitCode).toBe(EXIT_CODES.failure);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^modelfab inspect: /);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain(file);
  });
});

describe('command dispatch', () => {
  it('runs inspect', async () => {
    const file = fixtures['batchable-classifier'].path;
    expect(await runCli(['inspect', file, '--json'])).toEqual(runInspect([file, '--json']));
  });

  it('lists the commands with --help', async () => {
    const result = await runCli(['--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('usage: modelfab <command> [options]');
    expect(result.stdout).toMatch(/^ {2}inspect {2}print an onnx model's signature/m);
  });

  it('refuses a missing or unknown command with exit 2', async () => {
    const none = await runCli([]);
    expect(none.exitCode).toBe(EXIT_CODES.usage);
    expect(none.stderr).toContain('modelfab: missing a command');
    const unknown = await runCli(['deploy']);
    expect(unknown.exitCode).toBe(EXIT_CODES.usage);
    expect(unknown.stderr).toContain('modelfab: unknown command "deploy"; the commands are: inspect');
  });

  it('dispatches through the table it is given', async () => {
    const echo = {
      name: 'echo',
      summary: 'echo',
      usage: 'usage: echo',
      run: (args: readonly string[]) => ({ exitCode: 3, stdout: args.join(' '), stderr: '' }),
    };
    expect(await runCli(['echo', 'a', 'b'], [echo])).toEqual({ exitCode: 3, stdout: 'a b', stderr: '' });
  });
});

describe('formatting', () => {
  it('formats shapes', () => {
    expect(formatShape(['batch', 3, ''])).toBe('[batch, 3, ?]');
    expect(formatShape([])).toBe('[] (scalar)');
    expect(formatShape(undefined)).toBe('unknown rank');
  });

  it('formats sizes', () => {
    expect(formatBytes(871)).toBe('871 bytes');
    expect(formatBytes(1536)).toBe('1.5 KiB (1,536 bytes)');
    expect(formatBytes(300 * 1024 * 1024)).toBe('300.0 MiB (314,572,800 bytes)');
  });

  it('aligns table columns', () => {
    expect(
      formatTable([
        ['a', 'bb', 'c'],
        ['ddd', 'e', 'f'],
      ]),
    ).toBe('a    bb  c\nddd  e   f');
  });
});

describe('the modelfab executable', () => {
  function modelfab(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('inspects the Iris model as json', () => {
    const result = modelfab('inspect', IRIS, '--json');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(inspectModel(IRIS));
  });

  it('exits 1 for a missing model file and 2 for bad usage', () => {
    const missing = modelfab('inspect', 'no/such/model.onnx');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`model file not found: ${path.join(ROOT, 'no/such/model.onnx')}`);
    const usage = modelfab('inspect');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('missing the model file');
  });
});
