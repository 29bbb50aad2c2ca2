/**
 * The server process's lifecycle, run as the image runs it (lib/server/main.ts in a child
 * process, from sources with the tsx loader): it refuses a model file whose sha256 is not the
 * pinned one; SIGTERM under load answers every accepted request, then exits 0 within the drain
 * time; health and metrics are answered while inference holds the worker and requests wait; and
 * 10,000 malformed bodies get no 5xx and leave the server up. Nothing here asserts a latency.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../lib/runtime';
import { ModelDigestMismatchError, startInferenceServer } from '../lib/server';
import { makeTempDir, removeDir } from './support/fixture-models';
import { slowBinaryRequest, slowModel, unknownOpModel, writeModel } from './support/runtime-fixtures';

const MAIN = path.join(__dirname, '..', 'lib', 'server', 'main.ts');
const IRIS = path.join(__dirname, '..', 'examples', 'iris', 'model', 'iris.onnx');
const IRIS_SHA256 = 'df4eca5ff4b3f326667d537b1323829edbbbbb6e24c4f2ef2140a2da14bc545b';
const WRONG_SHA256 = '0'.repeat(64);

let dir: string;
let slowPath: string;
const children: ChildProcess[] = [];

/** A server process and what it has written to stdout, parsed. */
interface ServerProcess {
  readonly child: ChildProcess;
  readonly lines: any[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  url: string;
  metricsUrl: string;
}

/** Starts lib/server/main.ts with `env` (and ephemeral ports) the way the gate starts its worker from sources. */
function spawnServer(env: Record<string, string>): ServerProcess {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('MODELFAB_')),
  );
  const child = spawn(process.execPath, ['--import', pathToFileURL(require.resolve('tsx')).href, MAIN], {
    env: { ...inherited, MODELFAB_PORT: '0', MODELFAB_METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const server: ServerProcess = {
    child,
    lines: [],
    url: '',
    metricsUrl: '',
    exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const part of parts) if (part.trim() !== '') server.lines.push(JSON.parse(part));
  });
  child.stderr.resume();
  return server;
}

/** Waits until the server logs `event`, failing if it exits first. */
async function waitForEvent(server: ServerProcess, event: string, timeoutMs = 30_000): Promise<any> {
  const started = performance.now();
  let exited = false;
  void server.exited.then(() => (exited = true));
  for (;;) {
    const line = server.lines.find((l) => l.event === event);
    if (line) return line;
    if (exited) throw new Error(`the server exited before "${event}": ${JSON.stringify(server.lines)}`);
    if (performance.now() - started > timeoutMs) throw new Error(`no "${event}" within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function startReady(env: Record<string, string>): Promise<ServerProcess> {
  const server = spawnServer(env);
  const listening = await waitForEvent(server, 'listening');
  server.url = listening.url;
  server.metricsUrl = listening.metricsUrl;
  await waitForEvent(server, 'ready');
  return server;
}

interface Reply {
  readonly status: number;
  readonly body: string;
}

/** One request over `agent`, answered once the whole body has arrived. */
function request(
  agent: http.Agent,
  url: string,
  init: { method?: string; body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        agent,
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: init.headers ?? {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

beforeAll(() => {
  dir = makeTempDir('modelfab-server-lifecycle-');
  slowPath = writeModel(dir, 'slow', slowModel(400)); // ~1 ms a row on one thread
});

afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  removeDir(dir);
});

describe('the model digest check', () => {
  it('refuses to start on a model whose sha256 is not the pinned one, with one clear log line', async () => {
    const server = spawnServer({ MODELFAB_MODEL_PATH: IRIS, MODELFAB_MODEL_SHA256: WRONG_SHA256 });
    const { code } = await server.exited;
    expect(code).toBe(1);
    expect(server.lines).toHaveLength(1);
    const [line] = server.lines;
    expect(line).toMatchObject({
      level: 'error',
      event: 'refused-to-start',
      sha256: IRIS_SHA256,
      expectedSha256: WRONG_SHA256,
      expectedBy: 'MODELFAB_MODEL_SHA256',
    });
    expect(line.msg).toBe(
      `model file ${IRIS} has sha256 ${IRIS_SHA256}, but MODELFAB_MODEL_SHA256 expects ${WRONG_SHA256}; refusing to start: deploy the model file the gate measured, or re-run the gate (synth) for this file`,
    );
  });

  it('checks the serving config file’s digest too', async () => {
    const image = path.join(dir, 'image');
    fs.mkdirSync(path.join(image, 'model'), { recursive: true });
    fs.copyFileSync(IRIS, path.join(image, 'model', 'iris.onnx'));
    const config = path.join(image, 'modelfab.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        format: 1,
        model: {
          name: 'iris',
          version: '1',
          file: 'model/iris.onnx',
          sha256: WRONG_SHA256,
          inputs: [],
          outputs: [],
        },
        batching: { maxBatchSize: 1, maxQueueDelayMs: 0 },
        threads: {},
      }),
    );
    const lines: string[] = [];
    const error = await startInferenceServer({
      configFile: config,
      port: 0,
      metricsPort: 0,
      env: {},
      log: (l) => lines.push(l),
    }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(ModelDigestMismatchError);
    expect(error!.message).toContain(`${config} model.sha256 expects ${WRONG_SHA256}`);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'error', msg: error!.message });
  });
});

describe('a model onnxruntime cannot load', () => {
  it('logs why and exits 1', async () => {
    const server = spawnServer({ MODELFAB_MODEL_PATH: writeModel(dir, 'unknown-op', unknownOpModel()) });
    const { code } = await server.exited;
    expect(code).toBe(1);
    expect(server.lines.map((l) => l.event)).toEqual(['listening', 'load-failed', 'stopped']);
    expect(server.lines[1].level).toBe('error');
    expect(server.lines[1].msg).toMatch(
      /^the model could not be loaded: onnxruntime could not load .*NoSuchOperator/,
    );
  });
});

describe('a saturated server', () => {
  let server: ServerProcess;

  beforeAll(async () => {
    server = await startReady({
      MODELFAB_MODEL_PATH: slowPath,
      MODELFAB_WORKERS: '1',
      MODELFAB_INTRA_OP_THREADS: '1',
      MODELFAB_MAX_BATCH_SIZE: '64',
      MODELFAB_MAX_QUEUE_DELAY_MS: '1',
      MODELFAB_DRAIN_SECONDS: '10',
    });
  });

  it('answers health and metrics while inference holds the worker and requests wait for it', async () => {
    const loadAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    // Four requests of 256 rows (~1 ms a row) for the one worker: one runs while the others wait.
    const { body, headers } = slowBinaryRequest(256);
    let settled = 0;
    const inference = Array.from({ length: 4 }, () =>
      request(loadAgent, `${server.url}/v2/models/slow/infer`, { body, headers }).finally(() => settled++),
    );
    const gauge = async (name: string) => {
      const scrape = await request(probeAgent, server.metricsUrl);
      expect(scrape.status).toBe(200);
      return Number(new RegExp(`^modelfab_${name}\\{model="slow"\\} (\\d+)$`, 'm').exec(scrape.body)?.[1]);
    };
    // All four in, their bodies read (a request counts in flight while its body still arrives).
    while (!((await gauge('inflight_requests')) >= 4 && (await gauge('receiving_requests')) === 0)) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Every probe is answered while requests still wait for the worker (the queue is not empty).
    for (let i = 0; i < 10; i++) {
      expect((await request(probeAgent, `${server.url}/v2/health/ready`)).status).toBe(200);
      expect((await request(probeAgent, `${server.url}/v2/health/live`)).status).toBe(200);
      expect(await gauge('queue_depth')).toBeGreaterThan(0);
    }
    expect(settled).toBeLessThan(4);
    const replies = await Promise.all(inference);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    loadAgent.destroy();
    probeAgent.destroy();
  });

  it('on SIGTERM answers every accepted request, refuses new ones, and exits 0 within the drain time', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const { body, headers } = slowBinaryRequest(32);
    const accepted = Array.from({ length: 24 }, () =>
      request(agent, `${server.url}/v2/models/slow/infer`, { body, headers }),
    );
    // Wait until the server holds all 24 (received, queued or running).
    for (;;) {
      const scrape = await request(agent, server.metricsUrl);
      if (Number(/^modelfab_inflight_requests\{model="slow"\} (\d+)$/m.exec(scrape.body)?.[1]) === 24) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    server.child.kill('SIGTERM');
    await waitForEvent(server, 'draining');
    const late = await request(new http.Agent(), `${server.url}/v2/models/slow/infer`, {
      body,
      headers,
    }).catch((error: Error) => error);
    // Refused: 503 while it drains, or no connection once it has closed.
    if (late instanceof Error) expect(late.message).toMatch(/ECONNREFUSED|ECONNRESET|socket hang up/);
    else expect(late.status).toBe(503);
    const replies = await Promise.all(accepted);
    expect(replies.map((r) => r.status)).toEqual(Array(24).fill(200));
    for (const reply of replies) expect(JSON.parse(reply.body).outputs[0].shape).toEqual([32, 512]);
    const { code } = await server.exited;
    agent.destroy();
    expect(code).toBe(0);
    // Drained: every request answered before the drain time (MODELFAB_DRAIN_SECONDS) ran out.
    expect(server.lines.find((l) => l.event === 'stopped')).toMatchObject({ drained: true });
  });
});

/** A valid Iris request body. */
function validIris(rows: number): string {
  return JSON.stringify({
    id: 'x',
    inputs: [
      {
        name: 'input',
        shape: [rows, 4],
        datatype: 'FP32',
        data: Array.from({ length: rows * 4 }, (_, i) => i / 10),
      },
    ],
    outputs: [{ name: 'label' }],
  });
}

const KEYS = [
  'inputs',
  'outputs',
  'name',
  'shape',
  'datatype',
  'data',
  'parameters',
  'id',
  'binary_data_size',
  'binary_data_output',
  'binary_data',
];
const DATATYPES = [
  'FP32',
  'FP64',
  'FP16',
  'INT64',
  'INT32',
  'UINT8',
  'BOOL',
  'BYTES',
  'BF16',
  'fp32',
  '',
  'COMPLEX64',
];

/** A random JSON value of the request's vocabulary, `depth` levels deep at most. */
function randomJson(next: () => number, depth: number): unknown {
  const pick = next() % (depth > 0 ? 9 : 6);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return (next() % 2000) - 1000 + (next() % 2 ? 0.5 : 0);
    case 2:
      return [2 ** 53, -1, 1e308, -0, 4294967296, 2 ** 31][next() % 6];
    case 3:
      return DATATYPES[next() % DATATYPES.length];
    case 4:
      return next() % 2 === 0;
    case 5:
      return ['NaN', 'Infinity', '1e999', '', 'input', 'label', '\u0000'][next() % 7];
    case 6:
    case 7: {
      const object: Record<string, unknown> = {};
      const count = next() % 5;
      for (let i = 0; i < count; i++) object[KEYS[next() % KEYS.length]] = randomJson(next, depth - 1);
      return object;
    }
    default:
      return Array.from({ length: next() % 5 }, () => randomJson(next, depth - 1));
  }
}

/** The i-th malformed request: bytes, truncations, flipped bytes, confused types, bad binary framing, deep nesting. */
function malformed(i: number, next: () => number): { body: Buffer; headers: Record<string, string> } {
  const valid = validIris(1 + (next() % 3));
  switch (i % 8) {
    case 0:
      return { body: Buffer.from(Array.from({ length: next() % 300 }, () => next() & 0xff)), headers: {} };
    case 1:
      return { body: Buffer.from(valid.slice(0, next() % valid.length)), headers: {} };
    case 2: {
      const bytes = Buffer.from(valid);
      for (let k = 0; k <= next() % 3; k++) bytes[next() % bytes.length] = next() & 0xff;
      return { body: bytes, headers: {} };
    }
    case 3:
      return { body: Buffer.from(JSON.stringify(randomJson(next, 5)) ?? 'null'), headers: {} };
    case 4: {
      const data = new Float32Array(4).fill(1);
      const header = Buffer.from(
        JSON.stringify({
          inputs: [
            {
              name: 'input',
              shape: [1, 4],
              datatype: 'FP32',
              parameters: { binary_data_size: [16, 15, 17, -1, 0, 1e12][next() % 6] },
            },
          ],
          parameters: { binary_data_output: [true, 'yes', 1][next() % 3] },
        }),
      );
      const lengths = [
        String(header.length),
        String(header.length + 1),
        String(header.length - 3),
        '0',
        '-1',
        '1e3',
        '99999999999999999999',
        '',
      ];
      return {
        body: Buffer.concat([header, Buffer.from(data.buffer)]),
        headers: { 'Inference-Header-Content-Length': lengths[next() % lengths.length] },
      };
    }
    case 5: {
      const depth = 1 + (next() % 20_000);
      const nested = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
      const body =
        next() % 2 === 0
          ? nested
          : `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":${nested}}]}`;
      return { body: Buffer.from(body), headers: {} };
    }
    case 6: {
      const shapes = [[-1, 4], [1.5, 4], [2 ** 53, 4], [0, 4], [1, 4, 1], [], [1e9, 1e9], ['1', '4'], [1]];
      const data = [
        [1, 2, 3, 4],
        [
          [1, 2],
          [3, 4],
        ],
        ['a', 'b', 'c', 'd'],
        [true, false, true, false],
        [null, 1, 2, 3],
        {},
        'data',
        [[[1, 2, 3, 4]]],
      ];
      return {
        body: Buffer.from(
          JSON.stringify({
            inputs: [
              {
                name: ['input', 'Input', '', 'label'][next() % 4],
                shape: shapes[next() % shapes.length],
                datatype: DATATYPES[next() % DATATYPES.length],
                data: data[next() % data.length],
              },
            ],
            outputs: [
              [{ name: 'label' }],
              [{ name: 'nope' }],
              [{}],
              'label',
              [{ name: 'label', parameters: { binary_data: 'x' } }],
            ][next() % 5],
          }),
        ),
        headers: {},
      };
    }
    default: {
      const text = valid.replace(/"FP32"|\[1,4\]|"input"|"id":"x"/g, (m) =>
        next() % 2 ? m : JSON.stringify(randomJson(next, 2)),
      );
      return { body: Buffer.from(text), headers: {} };
    }
  }
}

describe('malformed bodies', () => {
  it('answers 10,000 malformed bodies without a 5xx and stays up', async () => {
    const server = await startReady({
      MODELFAB_MODEL_PATH: IRIS,
      MODELFAB_WORKERS: '1',
      MODELFAB_INTRA_OP_THREADS: '1',
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const next = mulberry32(20_251_123);
    const requests = Array.from({ length: 10_000 }, (_, i) => malformed(i, next));
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let at = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (at < requests.length) {
          const { body, headers } = requests[at++];
          const reply = await request(agent, `${server.url}/v2/models/iris/infer`, { body, headers });
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
          if (reply.status >= 500 && failures.length < 5)
            failures.push(`${reply.status} ${reply.body} for ${body.toString('base64').slice(0, 300)}`);
        }
      }),
    );
    expect(failures).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(statuses.get(400)).toBeGreaterThan(9_000);
    expect([...statuses.keys()].every((s) => s === 200 || s === 400)).toBe(true);
    // Still up, still serving.
    expect(server.child.exitCode).toBeNull();
    expect((await request(agent, `${server.url}/v2/health/ready`)).status).toBe(200);
    const ok = await request(agent, `${server.url}/v2/models/iris/infer`, { body: validIris(2) });
    expect(ok.status).toBe(200);
    agent.destroy();
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });
});
