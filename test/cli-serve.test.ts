/**
 * `modelfab serve`: the real executable from sources on the Iris model (inference over HTTP, the
 * JSON log on stdout, a graceful stop on SIGTERM and SIGINT, the precedence of flags over
 * `MODELFAB_*` variables over the serving config file, a pinned digest that does not match), and
 * the command as a function for its usage errors and start failures.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../lib/cli/cli-command';
import { runCli } from '../lib/cli/run-cli';
import { runServe, SERVE_USAGE, type ServeContext } from '../lib/cli/serve-command';
import { SERVING_CONFIG_FILE_FORMAT } from '../lib/core';
import { settingRows } from '../lib/core';
import { inspectModel } from '../lib/model';
import { chainedMatMulModel } from './support/gate-fixtures';
import { multiInputModel } from './support/hostile-fixtures';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'lib', 'cli', 'main.ts');
const IRIS_DIR = path.join(ROOT, 'examples', 'iris', 'model');
const IRIS = path.join(IRIS_DIR, 'iris.onnx');
const IRIS_SHA256 = inspectModel(IRIS).sha256;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-cli-serve-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

interface ExpectedRow {
  inputs: { input: number[] };
  outputs: { probabilities: number[]; label: number };
}

/** The first row of each class from the Iris model's expected outputs. */
function oneRowPerClass(): ExpectedRow[] {
  const rows = fs
    .readFileSync(path.join(IRIS_DIR, 'expected.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ExpectedRow);
  return [0, 1, 2].map((label) => rows.find((r) => r.outputs.label === label)!);
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `modelfab serve …` as a real process, from sources. */
class ServeProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;

  constructor(args: readonly string[], env: Readonly<Record<string, string>> = {}) {
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith('MODELFAB_')),
    );
    this.child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', ...args], {
      cwd: ROOT,
      env: { ...clean, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.stdout += text));
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) =>
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }),
      );
    });
  }

  /** Resolves with the match once stderr matches `pattern`; rejects if the process exits first. */
  async waitForStderr(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    for (;;) {
      const match = this.stderr.match(pattern);
      if (match) return match;
      if (exited || Date.now() > deadline) {
        throw new Error(
          `modelfab serve ${exited ? 'exited' : 'timed out'} before printing ${pattern}; stderr: ${this.stderr}; stdout: ${this.stdout}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Waits for the ready line and returns the inference and metrics base URLs. */
  async ready(): Promise<{ url: string; metricsUrl: string }> {
    const [, url, metricsUrl] = await this.waitForStderr(
      /listening on (http:\/\/\S+) \(open inference protocol\) and (http:\/\/\S+) \(prometheus\)/,
    );
    await this.waitForStderr(/: ready, POST /);
    return { url, metricsUrl };
  }

  /** The JSON log lines printed so far. */
  logLines(): Array<Record<string, unknown>> {
    return this.stdout
      .trim()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

const running: ServeProcess[] = [];
function serve(args: readonly string[], env?: Readonly<Record<string, string>>): ServeProcess {
  const process = new ServeProcess(args, env);
  running.push(process);
  return process;
}
afterEach(() => {
  for (const p of running.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

async function inferIris(url: string, model: string, row: number[]): Promise<Response> {
  return fetch(`${url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      id: 'row',
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: row }],
    }),
  });
}

describe('modelfab serve (the executable)', () => {
  it('serves the Iris model over HTTP, logs JSON lines on stdout and drains on SIGTERM with exit 0', async () => {
    const server = serve([
      IRIS,
      '--port',
      '0',
      '--metrics-port',
      '0',
      '--workers',
      '1',
      '--intra-op-threads',
      '1',
      '--max-batch-size',
      '4',
      '--max-queue-delay-ms',
      '1',
      '--sha256',
      IRIS_SHA256.toUpperCase(),
    ]);
    const { url, metricsUrl } = await server.ready();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/); // a local run listens on this machine only
    expect(server.stderr).toContain(
      `serving "iris" version "1" from ${IRIS}, sha256 ${IRIS_SHA256} (checked)`,
    );
    expect(server.stderr).toMatch(
      /ready, POST http:\/\/127\.0\.0\.1:\d+\/v2\/models\/iris\/infer: 1 worker × 1 intra-op thread, batches of up to 4 rows, waiting up to 1 ms/,
    );
    expect((await fetch(`${url}/v2/health/ready`)).status).toBe(200);

    for (const row of oneRowPerClass()) {
      const response = await inferIris(url, 'iris', row.inputs.input);
      expect(response.status).toBe(200);
      const body = (await response.json()) as {
        id: string;
        outputs: Array<{ name: string; shape: number[]; data: number[] }>;
      };
      expect(body.id).toBe('row');
      const label = body.outputs.find((o) => o.name === 'label')!;
      expect(label).toMatchObject({ shape: [1], data: [row.outputs.label] });
      const probabilities = body.outputs.find((o) => o.name === 'probabilities')!.data;
      probabilities.forEach((p, i) => expect(p).toBeCloseTo(row.outputs.probabilities[i], 5));
    }
    const metrics = await fetch(metricsUrl);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/model="iris"/);

    server.child.kill('SIGTERM');
    const exit = await server.exited;
    expect(exit.code).toBe(EXIT_CODES.ok);
    expect(exit.stderr).toMatch(
      /received SIGTERM; draining, then stopping\nmodelfab serve: stopped after SIGTERM\n$/,
    );
    const log = server.logLines();
    expect(log.map((l) => l.event).filter(Boolean)).toEqual(['listening', 'ready', 'draining', 'stopped']);
    const requests = log.filter((l) => l.msg === 'request' && l.path === '/v2/models/iris/infer');
    expect(requests).toHaveLength(3);
    for (const line of requests) expect(line).toMatchObject({ status: 200, model: 'iris', method: 'POST' });
    for (const row of oneRowPerClass()) {
      expect(exit.stdout).not.toContain(JSON.stringify(row.inputs.input).slice(1, -1)); // no tensor data in the log
    }
  });

  it('takes flags over MODELFAB_* variables over the --config file, and stops on SIGINT', async () => {
    const dir = fs.mkdtempSync(path.join(scratch, 'config-'));
    fs.copyFileSync(IRIS, path.join(dir, 'flower.onnx'));
    fs.writeFileSync(
      path.join(dir, 'modelfab.json'),
      JSON.stringify({
        format: SERVING_CONFIG_FILE_FORMAT,
        model: {
          name: 'from-config',
          version: '3',
          file: 'flower.onnx',
          sha256: IRIS_SHA256,
          inputs: [{ name: 'input', elementType: 'float32', shape: ['batch', 4] }],
          outputs: [
            { name: 'probabilities', elementType: 'float32', shape: ['batch', 3] },
            { name: 'label', elementType: 'int64', shape: ['batch'] },
          ],
        },
        batching: { maxBatchSize: 8, maxQueueDelayMs: 2 },
        threads: { workers: 1, intraOpThreads: 1 },
      }),
    );
    const server = serve(
      ['--config', path.join(dir, 'modelfab.json'), '--name', 'from-flag', '--port', '0'],
      {
        MODELFAB_MODEL_NAME: 'from-env',
        MODELFAB_MODEL_VERSION: '5',
        MODELFAB_METRICS_PORT: '0',
      },
    );
    const { url } = await server.ready();
    expect(server.stderr).toContain(
      `serving "from-flag" version "5" from ${path.join(dir, 'flower.onnx')}, sha256 ${IRIS_SHA256} (checked)`,
    );
    expect(server.stderr).toContain('batches of up to 8 rows, waiting up to 2 ms');
    expect((await fetch(`${url}/v2/models/from-flag/versions/5`)).status).toBe(200);
    expect((await fetch(`${url}/v2/models/from-env`)).status).toBe(404);
    expect((await fetch(`${url}/v2/models/from-flag/versions/3`)).status).toBe(404);
    const response = await inferIris(url, 'from-flag', oneRowPerClass()[2].inputs.input);
    expect(((await response.json()) as { outputs: Array<{ data: number[] }> }).outputs[1].data).toEqual([2]);

    server.child.kill('SIGINT');
    const exit = await server.exited;
    expect(exit.code).toBe(EXIT_CODES.ok);
    expect(exit.stderr).toMatch(/stopped after SIGINT\n$/);
  });

  it('answers a request in flight when SIGTERM arrives, then exits 0', async () => {
    const model = chainedMatMulModel(scratch, 32, 1024); // 512 rows: ~17 G multiply-adds, a second or so
    const rows = 512;
    const data = Float32Array.from({ length: rows * 1024 }, (_, i) => ((i % 7) - 3) / 10);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          {
            name: 'x',
            shape: [rows, 1024],
            datatype: 'FP32',
            parameters: { binary_data_size: data.byteLength },
          },
        ],
        parameters: { binary_data_output: true },
      }),
    );
    const server = serve([model, '--port', '0', '--metrics-port', '0', '--intra-op-threads', '1']);
    const { url, metricsUrl } = await server.ready();
    const answer = fetch(`${url}/v2/models/matmul-32x1024/infer`, {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(header.length),
      },
      body: Buffer.concat([header, Buffer.from(data.buffer)]),
    });
    // SIGTERM once the server counts the request in flight.
    while (!/^modelfab_inflight_requests\{[^}]*\} 1$/m.test(await (await fetch(metricsUrl)).text())) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    server.child.kill('SIGTERM');
    const response = await answer;
    expect(response.status).toBe(200);
    const length = Number(response.headers.get('inference-header-content-length'));
    const body = Buffer.from(await response.arrayBuffer());
    const json = JSON.parse(body.subarray(0, length).toString('utf8')) as {
      outputs: Array<{ shape: number[] }>;
    };
    expect(json.outputs[0].shape).toEqual([rows, 1024]);
    expect(body.length - length).toBe(rows * 1024 * 4);
    const exit = await server.exited;
    expect(exit.code).toBe(EXIT_CODES.ok);
    const draining = server.logLines().find((l) => l.event === 'draining');
    expect(draining).toMatchObject({ activeRequests: 1 }); // the request was in flight at SIGTERM
    expect(server.logLines().find((l) => l.event === 'stopped')).toMatchObject({ drained: true });
  });

  it("keeps onnxruntime's own log out: a failed inference leaves only JSON on stdout and the notices on stderr", async () => {
    const model = multiInputModel(scratch);
    const server = serve([model, '--port', '0', '--metrics-port', '0', '--workers', '1']);
    const { url } = await server.ready();
    // An id outside the embedding table: onnxruntime's Gather fails, and would log a coloured line.
    const response = await fetch(`${url}/v2/models/multi-input/infer`, {
      method: 'POST',
      body: JSON.stringify({
        inputs: [
          { name: 'ids', shape: [1, 2], datatype: 'INT64', data: [1, 99] },
          { name: 'mask', shape: [1, 2], datatype: 'BOOL', data: [true, true] },
          { name: 'scale', shape: [], datatype: 'FP16', data: [1] },
        ],
      }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(
      /onnxruntime failed to run the model/,
    );
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(EXIT_CODES.ok);
    const lines = server.logLines(); // every stdout line parses as JSON
    expect(lines.find((l) => l.status === 400)).toMatchObject({ level: 'info', errorKind: 'InferenceError' });
    expect(server.stderr).not.toContain('onnxruntime');
    expect(server.stderr).not.toContain('\u001b['); // no terminal colours
    for (const line of server.stderr.trim().split('\n')) expect(line).toMatch(/^modelfab serve: /);
  });

  it('refuses to start with exit 1 when the model is not the --sha256 one, naming both digests', async () => {
    const wrong = 'ab'.repeat(32);
    const exit = await serve([IRIS, '--sha256', wrong, '--port', '0', '--metrics-port', '0']).exited;
    expect(exit.code).toBe(EXIT_CODES.failure);
    expect(exit.stderr).toContain(
      `modelfab serve: model file ${IRIS} has sha256 ${IRIS_SHA256}, but --sha256 expects ${wrong}; refusing to start`,
    );
    const [line] = exit.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(line).toMatchObject({
      level: 'error',
      event: 'refused-to-start',
      sha256: IRIS_SHA256,
      expectedSha256: wrong,
    });
  });

  it('exits 2 on a bad flag value, naming the flag and the value', async () => {
    const exit = await serve([IRIS, '--max-batch-size', 'many']).exited;
    expect(exit.code).toBe(EXIT_CODES.usage);
    expect(exit.stderr).toBe(
      'modelfab serve: --max-batch-size must be an integer of at least 1, received "many"; pass a value such as 2\nrun \'modelfab serve --help\' for usage\n',
    );
    expect(exit.stdout).toBe('');
  });
});

/** A context that touches neither the process's signals nor its output. */
function quiet(overrides: Partial<ServeContext> = {}): ServeContext & { lines: string[]; notices: string[] } {
  const lines: string[] = [];
  const notices: string[] = [];
  return {
    env: {},
    log: (line) => lines.push(line),
    notice: (line) => notices.push(line),
    signals: new EventEmitter(),
    exit: () => {
      throw new Error('exit was not expected');
    },
    ...overrides,
    lines,
    notices,
  };
}

describe('modelfab serve (the command)', () => {
  it.each([
    [
      [IRIS, '--port', 'abc'],
      '--port must be a port number from 0 to 65535 (0: any free port), received "abc"; pass a value such as 8080',
    ],
    [
      [IRIS, '--metrics-port', '65536'],
      '--metrics-port must be a port number from 0 to 65535 (0: any free port), received "65536"; pass a value such as 8080',
    ],
    [
      [IRIS, '--workers', '0'],
      '--workers must be an integer of at least 1, received "0"; pass a value such as 2',
    ],
    [
      [IRIS, '--intra-op-threads', '1.5'],
      '--intra-op-threads must be an integer of at least 1, received "1.5"; pass a value such as 2',
    ],
    [[IRIS, '--cpus', '0'], '--cpus must be a positive number, received "0"; pass a value such as 2'],
    [
      [IRIS, '--max-queue-delay-ms=-1'],
      '--max-queue-delay-ms must be a non-negative number of milliseconds, received "-1"; pass a value such as 5',
    ],
    [
      [IRIS, '--max-queue-size', ''],
      '--max-queue-size must be an integer of at least 1, received ""; pass a value such as 2',
    ],
    [
      [IRIS, '--max-body-bytes', 'lots'],
      '--max-body-bytes must be a positive whole number of bytes, or a quantity such as 16Mi, received "lots"; pass a value such as 16777216',
    ],
    [
      [IRIS, '--body-timeout-ms=-5'],
      '--body-timeout-ms must be a non-negative number of milliseconds (0: no deadline), received "-5"; pass a value such as 10000',
    ],
    [
      [IRIS, '--request-timeout-ms', 'soon'],
      '--request-timeout-ms must be a non-negative number of milliseconds (0: no limit), received "soon"; pass a value such as 30000',
    ],
    [
      [IRIS, '--latency-bound-ms', '0'],
      '--latency-bound-ms must be a positive number of milliseconds, received "0"; pass a value such as 25',
    ],
    [
      [IRIS, '--drain-seconds', '1e3'],
      '--drain-seconds must be a non-negative number of seconds, received "1e3"; pass a value such as 20',
    ],
    [
      [IRIS, '--sha256', 'xyz'],
      '--sha256 must be the model\'s sha256 as 64 hex digits, received "xyz"; pass the digest `modelfab inspect` prints',
    ],
    [
      [IRIS, '--name', 'a/b'],
      '--name must be a non-empty name without "/", received "a/b"; pass a value such as iris',
    ],
    [
      [IRIS, '--model-version', ''],
      '--model-version must be a non-empty version without "/", received ""; pass a value such as 1',
    ],
    [
      [IRIS, '--host', ' '],
      '--host must be a host name or ip address, received " "; pass a value such as 127.0.0.1 or 0.0.0.0',
    ],
    [[IRIS, '--frobnicate'], "unknown option '--frobnicate'"],
    [[IRIS, '--port'], "option '--port <value>' argument missing"],
    [[IRIS, IRIS], `expected one model file, received 2: "${IRIS}" "${IRIS}"`],
    [
      ['--port', '0'],
      'missing the model file path: pass <model.onnx>, or --config with a serving config (modelfab.json), or set MODELFAB_MODEL_PATH or MODELFAB_CONFIG',
    ],
  ])('rejects %j with exit 2', async (args, message) => {
    const result = await runServe(args, quiet());
    expect(result.exitCode).toBe(EXIT_CODES.usage);
    expect(result.stderr).toBe(`modelfab serve: ${message}\nrun 'modelfab serve --help' for usage\n`);
  });

  it('prints its help, lists every flag with its variable, and is listed by modelfab --help', async () => {
    const help = await runServe(['--help'], quiet());
    expect(help).toEqual({ exitCode: 0, stdout: `${SERVE_USAGE}\n`, stderr: '' });
    // Every setting with a flag, from the settings table: its flag, and its variable if it has one.
    const flags = settingRows().filter(({ row }) => row.flag !== undefined);
    expect(flags.map(({ row }) => row.flag)).toContain('max-queue-delay-ms');
    for (const { row } of flags) {
      const entry = `\\n  --${row.flag} ${row.rule.placeholder} `;
      expect(SERVE_USAGE).toMatch(new RegExp(row.env ? `${entry}[^]*?env\\s+${row.env}\\n` : entry));
    }
    expect(SERVE_USAGE).toMatch(
      /\n {2}--sha256 HEX\s+refuse to start unless[^]*?env\s+MODELFAB_MODEL_SHA256\n/,
    );
    expect(SERVE_USAGE).toMatch(/--max-body-bytes BYTES[^]*?\(default: 16Mi\)/);
    expect(SERVE_USAGE).toMatch(
      /--workers N\s+inference worker threads[^]*?\(default:\s+the config's,\s+else 1\)/,
    );
    expect(SERVE_USAGE).toMatch(/--host ADDRESS\s+the address both ports listen on \(default: 127\.0\.0\.1/);
    expect(SERVE_USAGE.split('\n').every((line) => line.length <= 100)).toBe(true);
    expect((await runCli(['--help'])).stdout).toMatch(/serve\s+run the inference server on this machine/);
  });

  it('the model path may come from MODELFAB_MODEL_PATH', async () => {
    const context = quiet({ env: { MODELFAB_MODEL_PATH: path.join(scratch, 'missing.onnx') } });
    const result = await runServe([], context);
    expect(result.exitCode).toBe(EXIT_CODES.failure);
    expect(result.stderr).toMatch(/^modelfab serve: .*missing\.onnx/);
  });

  it('exits 1 with the reason for a file that is not onnx, an unreadable config file and a bad variable', async () => {
    const notOnnx = path.join(scratch, 'not-a-model.onnx');
    fs.writeFileSync(notOnnx, 'this is not a protobuf');
    const corrupt = await runServe([notOnnx, '--port', '0', '--metrics-port', '0'], quiet());
    expect(corrupt.exitCode).toBe(EXIT_CODES.failure);
    expect(corrupt.stderr).toMatch(/^modelfab serve: .*not-a-model\.onnx/);

    const noConfig = await runServe(['--config', path.join(scratch, 'nope.json')], quiet());
    expect(noConfig.exitCode).toBe(EXIT_CODES.failure);
    // named as the user gave it: the flag, not the option's key
    expect(noConfig.stderr).toMatch(
      /cannot read the serving config file .*nope\.json \(from --config\).*point --config at/,
    );

    const badEnv = await runServe([IRIS], quiet({ env: { MODELFAB_WORKERS: 'two' } }));
    expect(badEnv.exitCode).toBe(EXIT_CODES.failure);
    expect(badEnv.stderr).toMatch(/MODELFAB_WORKERS must be an integer of at least 1, received "two"/);
  });

  it('exits 1 when a port is taken, and a second signal stops at once', async () => {
    const signals = new EventEmitter();
    const exits: number[] = [];
    const first = quiet({ signals, exit: (code) => void exits.push(code) });
    const running = runServe([IRIS, '--port', '0', '--metrics-port', '0', '--workers', '1'], first);
    while (!first.notices.some((n) => n.includes(': ready, POST '))) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(first.notices.join(''))![1];
    const busy = await runServe([IRIS, '--port', port, '--metrics-port', '0'], quiet());
    expect(busy.exitCode).toBe(EXIT_CODES.failure);
    expect(busy.stderr).toMatch(/EADDRINUSE/);

    signals.emit('SIGTERM', 'SIGTERM');
    signals.emit('SIGTERM', 'SIGTERM');
    expect(exits).toEqual([EXIT_CODES.failure]);
    expect(first.notices.at(-1)).toBe(
      'modelfab serve: received SIGTERM again; stopping without waiting for the drain\n',
    );
    expect(await running).toMatchObject({ exitCode: 0, stderr: 'modelfab serve: stopped after SIGTERM\n' });
    expect(signals.listenerCount('SIGTERM') + signals.listenerCount('SIGINT')).toBe(0);
  });
});
