/**
 * The server against hostile and careless clients, with real servers on 127.0.0.1 and real
 * onnxruntime: inputs onnxruntime would die on are refused before they reach it; requests are
 * admitted or refused from their headers alone; bodies have a deadline and a memory budget;
 * uploads still arriving at shutdown are cut; large bodies are decoded off the main thread (and
 * one too large to decode ends a worker, not the server); refusals are counted by reason and
 * logged sampled. Decisions are checked by what the server answers and counts, never by timing.
 */
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModel } from '../lib/model';
import {
  CodecMemoryError,
  CodecThread,
  type InferenceServer,
  type InferenceServerOptions,
  OFF_THREAD_BODY_BYTES,
  OipRequestError,
} from '../lib/server';
import { makeTempDir, removeDir } from './support/fixture-models';
import {
  ABORTING_INPUT,
  abortingModel,
  multiInputModel,
  statefulScalarModel,
} from './support/hostile-fixtures';
import { startLocalServer } from './support/local-server';
import { slowBinaryRequest, slowModel, writeModel } from './support/runtime-fixtures';

const IRIS = path.join(__dirname, '..', 'examples', 'iris', 'model', 'iris.onnx');

let dir: string;
let slowPath: string;
let abortingPath: string;
let statefulPath: string;
let multiPath: string;
const servers: InferenceServer[] = [];

beforeAll(() => {
  dir = makeTempDir('modelfab-protection-');
  slowPath = writeModel(dir, 'slow', slowModel(400)); // ~1 ms a row on one thread
  abortingPath = abortingModel(dir);
  statefulPath = statefulScalarModel(dir);
  multiPath = multiInputModel(dir);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  removeDir(dir);
});

async function start(options: InferenceServerOptions, lines: string[] = []): Promise<InferenceServer> {
  const server = await startLocalServer({ workers: 1, intraOpThreads: 1, ...options }, lines);
  servers.push(server);
  return server;
}

async function post(
  server: InferenceServer,
  model: string,
  request: unknown,
): Promise<{ status: number; json: any }> {
  const response = await fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST',
    body: typeof request === 'string' ? request : JSON.stringify(request),
  });
  return { status: response.status, json: await response.json() };
}

/** A metric's value from the metrics port, 0 when the series is absent. */
async function metric(server: InferenceServer, series: string): Promise<number> {
  const text = await (await fetch(server.metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** What a raw connection received: the bytes, and whether the server closed it. */
interface RawExchange {
  readonly socket: net.Socket;
  /** Resolves with the text received once the server has closed the connection (or `ms` passed). */
  readonly closed: (ms: number) => Promise<{ text: string; closedByServer: boolean }>;
  /** Resolves once some response text has arrived. */
  readonly answered: () => Promise<string>;
}

/** Opens a connection and writes `head` (and `bodyPart`), leaving the rest of the body unsent. */
function rawRequest(server: InferenceServer, head: string, bodyPart: Buffer = Buffer.alloc(0)): RawExchange {
  const url = new URL(server.url);
  const socket = net.connect({ host: url.hostname, port: Number(url.port) });
  let text = '';
  let ended = false;
  const waiters: Array<() => void> = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
    wake();
  });
  socket.on('close', () => {
    ended = true;
    wake();
  });
  socket.on('error', () => undefined);
  socket.write(head);
  if (bodyPart.length > 0) socket.write(bodyPart);
  return {
    socket,
    answered: () =>
      new Promise((resolve) => {
        const check = (): void => {
          if (text.includes('\r\n\r\n') || ended) resolve(text);
          else waiters.push(check);
        };
        check();
      }),
    closed: (ms) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve({ text, closedByServer: false }), ms);
        const check = (): void => {
          if (!ended) {
            waiters.push(check);
            return;
          }
          clearTimeout(timer);
          resolve({ text, closedByServer: true });
        };
        check();
      }),
  };
}

function inferHead(model: string, contentLength: number): string {
  return (
    `POST /v2/models/${model}/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${contentLength}\r\n\r\n`
  );
}

async function postSlow(server: InferenceServer, rows: number): Promise<{ status: number }> {
  const { body, headers } = slowBinaryRequest(rows);
  const response = await fetch(`${server.url}/v2/models/slow/infer`, { method: 'POST', body, headers });
  await response.arrayBuffer();
  return { status: response.status };
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the condition never held');
}

/**
 * Resolves once the server's one request is running: in flight, its body in (a request counts
 * against the queue bound while its body arrives, which on a loaded machine takes a while), and
 * not waiting for the worker.
 */
async function untilRunning(server: InferenceServer, model: string): Promise<void> {
  await waitFor(async () => {
    const text = await (await fetch(server.metricsUrl)).text();
    const gauge = (name: string) => new RegExp(`^${name}\\{model="${model}"\\} (\\d+)$`, 'm').exec(text)?.[1];
    return (
      gauge('modelfab_inflight_requests') === '1' &&
      gauge('modelfab_receiving_requests') === '0' &&
      gauge('modelfab_queue_depth') === '0'
    );
  });
}

describe('inputs onnxruntime cannot take', () => {
  it('an empty tensor aborts onnxruntime itself, natively (what the server must never feed it)', () => {
    const script = `
      const ort = require(${JSON.stringify(require.resolve('onnxruntime-node'))});
      ort.InferenceSession.create(${JSON.stringify(abortingPath)}).then((s) =>
        s.run({ x: new ort.Tensor('float32', new Float32Array(0), ${JSON.stringify(ABORTING_INPUT.dims)}) }))
        .then(() => console.log('ran'), (e) => console.log('threw ' + e.message));`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(child.signal).toBe(ABORTING_INPUT.signal);
  });

  it('refuses empty tensors with 400 before they reach onnxruntime, and keeps serving', async () => {
    const server = await start({ modelPath: abortingPath });
    const empty = await post(server, 'aborting-lstm', {
      inputs: [{ name: 'x', shape: ABORTING_INPUT.dims, datatype: 'FP32', data: [] }],
    });
    expect(empty).toEqual({
      status: 400,
      json: {
        error:
          'input "x" has shape [1, 0, 1]: dimension 1 is 0, so it holds no values and there is nothing to infer; send at least one element along every dimension',
      },
    });
    const good = await post(server, 'aborting-lstm', {
      inputs: [{ name: 'x', shape: [2, 1, 1], datatype: 'FP32', data: [0.5, -0.5] }],
    });
    expect(good.status).toBe(200);
    expect(good.json.outputs[0].shape).toEqual([1, 1, 1]);
  });

  it('serves a stateful model with a scalar input, and refuses its batch of nothing', async () => {
    const server = await start({ modelPath: statefulPath });
    const request = (batch: number, samples: number, sr: number) => ({
      inputs: [
        {
          name: 'input',
          shape: [batch, samples],
          datatype: 'FP32',
          data: new Array<number>(batch * samples).fill(0.1),
        },
        {
          name: 'state',
          shape: [2, batch, 128],
          datatype: 'FP32',
          data: new Array<number>(2 * batch * 128).fill(0),
        },
        { name: 'sr', shape: [], datatype: 'INT64', data: [sr] },
      ],
    });
    for (const [samples, sr] of [
      [512, 16000],
      [256, 8000],
    ]) {
      const refused = await post(server, 'stateful-scalar', request(0, samples, sr));
      expect(refused.status).toBe(400);
      expect(refused.json.error).toMatch(/^input "input" has shape \[0, \d+\]: dimension 0 is 0/);
    }
    // A declared scalar takes no other rank (onnxruntime itself would take [1]).
    const ranked = await post(server, 'stateful-scalar', {
      inputs: [
        ...request(1, 512, 16000).inputs.slice(0, 2),
        { name: 'sr', shape: [1], datatype: 'INT64', data: [16000] },
      ],
    });
    expect(ranked).toEqual({
      status: 400,
      json: { error: 'input "sr" has shape [1] (rank 1); the model expects rank 0: []' },
    });
    const served = await post(server, 'stateful-scalar', request(1, 512, 16000));
    expect(served.status).toBe(200);
    const output = served.json.outputs.find((o: { name: string }) => o.name === 'output');
    expect(output.shape).toEqual([1, 1]);
    expect(Number.isFinite(output.data[0])).toBe(true);
  });

  it('refuses numbers beyond the datatype instead of turning them into Infinity', async () => {
    const server = await start({ modelPath: multiPath });
    const inputs = (scale: unknown) => ({
      inputs: [
        { name: 'ids', shape: [1, 2], datatype: 'INT64', data: [1, 2] },
        { name: 'mask', shape: [1, 2], datatype: 'BOOL', data: [true, false] },
        { name: 'scale', shape: [], datatype: 'FP16', data: [scale] },
      ],
    });
    expect(await post(server, 'multi-input', inputs(70000))).toEqual({
      status: 400,
      json: {
        error:
          'input "scale": element 0 of FP16 data is 70000, beyond the largest FP16 (±65504), where it would become Infinity; scale it into range, or send "Infinity" or "-Infinity" for an infinite value',
      },
    });
    expect((await post(server, 'multi-input', inputs('Infinity'))).status).toBe(200);
    expect((await post(server, 'multi-input', inputs(2))).status).toBe(200);
    const iris = await start({ modelPath: IRIS });
    expect(
      await post(iris, 'iris', {
        inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 1e39, 1, 1] }],
      }),
    ).toEqual({
      status: 400,
      json: {
        error:
          'input "input": element 1 of FP32 data is 1e+39, beyond the largest FP32 (±3.4028234663852886e+38), where it would become Infinity; scale it into range, or send "Infinity" or "-Infinity" for an infinite value',
      },
    });
    // A literal beyond even float64 (JSON.parse makes it Infinity) is refused the same way.
    const huge = await post(
      iris,
      'iris',
      '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,1e400,1,1]}]}',
    );
    expect(huge.json.error).toMatch(
      /^input "input": element 1 of FP32 data is a number beyond the float64 range/,
    );
  });

  it('refuses 5,000 levels of nesting with 400, without walking them', async () => {
    const server = await start({ modelPath: IRIS });
    const deep = `{"inputs":[{"name":"input","shape":[${new Array(5000).fill(1).join(',')}],"datatype":"FP32","data":${'['.repeat(5000)}1${']'.repeat(5000)}}]}`;
    const answer = await post(server, 'iris', deep);
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatch(/\(rank 5000\); the model expects rank 2: \[batch, 4\]$/);
  });
});

describe('admission', () => {
  it('refuses with 429 from the headers alone when the queue is full, without waiting for the body', async () => {
    const server = await start({ modelPath: slowPath, maxQueueSize: 1 });
    // About 2 s of inference, with a request queued behind it.
    const running = postSlow(server, 2048);
    await untilRunning(server, 'slow');
    const queued = postSlow(server, 1);
    await waitFor(async () => (await metric(server, 'modelfab_queue_depth{model="slow"}')) === 1);
    // Headers declaring a megabyte, and not one byte of it: the answer comes anyway.
    const raw = rawRequest(server, inferHead('slow', 1_000_000));
    const text = await raw.answered();
    expect(text).toMatch(/^HTTP\/1\.1 429 /);
    expect(text).toMatch(/\r\nRetry-After: 1\r\n/i);
    raw.socket.destroy();
    // A client that asks first (Expect: 100-continue) is refused before it sends its body.
    const asking = rawRequest(
      server,
      inferHead('slow', 1_000_000).replace('\r\n\r\n', '\r\nExpect: 100-continue\r\n\r\n'),
    );
    expect(await asking.answered()).toMatch(/^HTTP\/1\.1 429 /);
    asking.socket.destroy();
    expect((await running).status).toBe(200);
    expect((await queued).status).toBe(200);
    expect(await metric(server, 'modelfab_refusals_total{model="slow",reason="queue_full"}')).toBe(2);
    // Admitted, it is told to go on.
    const admitted = rawRequest(
      server,
      inferHead('slow', 10).replace('\r\n\r\n', '\r\nExpect: 100-continue\r\n\r\n'),
    );
    expect(await admitted.answered()).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    admitted.socket.destroy();
  });

  it('holds at most four of the largest bodies at once, and frees them at their deadline', async () => {
    const lines: string[] = [];
    const server = await start({ modelPath: IRIS, maxBodyBytes: 4096, bodyTimeoutMs: 400 }, lines);
    const stalled = Array.from({ length: 4 }, () =>
      rawRequest(server, inferHead('iris', 4096), Buffer.from('{"in')),
    );
    // Admitted, their bodies arriving: the server says so apart from the queue.
    await waitFor(async () => (await metric(server, 'modelfab_receiving_requests{model="iris"}')) === 4);
    const refused = await post(server, 'iris', {
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }],
    });
    expect(refused.status).toBe(429);
    expect(refused.json.error).toBe(
      'the server is reading or decoding 16384 bytes of other request bodies, near its limit of 16384; retry later, or send smaller requests',
    );
    // At the deadline: 408, the connection closed, the memory given back.
    for (const upload of stalled) {
      const { text, closedByServer } = await upload.closed(5000);
      expect(closedByServer).toBe(true);
      expect(text).toMatch(
        /^HTTP\/1\.1 408 [^]*Connection: close[^]*did not arrive within 400 ms \(4 bytes received\)/i,
      );
    }
    expect(await metric(server, 'modelfab_inflight_requests{model="iris"}')).toBe(0);
    expect(await metric(server, 'modelfab_receiving_requests{model="iris"}')).toBe(0);
    expect(await metric(server, 'modelfab_refusals_total{model="iris",reason="body_timeout"}')).toBe(4);
    expect(await metric(server, 'modelfab_refusals_total{model="iris",reason="body_budget"}')).toBe(1);
    const served = await post(server, 'iris', {
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }],
    });
    expect(served.status).toBe(200);
  });

  it('at shutdown answers uploads still arriving with 503 at once, and drains only accepted requests', async () => {
    const lines: string[] = [];
    const server = await start({ modelPath: slowPath, drainSeconds: 20, bodyTimeoutMs: 0 }, lines);
    const accepted = postSlow(server, 1024); // about 1 s: still running when the upload starts
    await untilRunning(server, 'slow');
    const upload = rawRequest(server, inferHead('slow', 100_000), Buffer.from('{"inputs":'));
    await waitFor(async () => (await metric(server, 'modelfab_inflight_requests{model="slow"}')) === 2);
    const closing = server.close();
    const { text, closedByServer } = await upload.closed(5000);
    expect(closedByServer).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 503 [^]*the server is shutting down and takes no new requests/);
    expect((await accepted).status).toBe(200);
    await closing;
    const events = lines.map((l) => JSON.parse(l)).filter((l) => l.event !== undefined);
    expect(events.find((e) => e.event === 'draining')).toMatchObject({
      activeRequests: 1,
      uploadsCancelled: 1,
    });
    expect(events.find((e) => e.event === 'stopped')).toMatchObject({ drained: true });
  });
});

describe('large bodies', () => {
  it('decodes a large body and encodes a large response off the main thread, with the answer of a small one', async () => {
    const server = await start({ modelPath: IRIS, maxBodyBytes: 1024 * 1024 });
    const row = [5.1, 3.5, 1.4, 0.2];
    const rows = 6000; // about 150 KB of JSON, past OFF_THREAD_BODY_BYTES; 18,000 output elements
    const big = JSON.stringify({
      inputs: [{ name: 'input', shape: [rows, 4], datatype: 'FP32', data: new Array(rows).fill(row) }],
    });
    expect(big.length).toBeGreaterThan(OFF_THREAD_BODY_BYTES);
    const one = await post(server, 'iris', {
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [row] }],
    });
    const many = await post(server, 'iris', big);
    expect(many.status).toBe(200);
    for (const output of many.json.outputs) {
      const single = one.json.outputs.find((o: { name: string }) => o.name === output.name);
      const width = single.data.length;
      expect(output.shape[0]).toBe(rows);
      expect(output.data.slice(-width)).toEqual(single.data);
    }
  });

  it('answers a large body whose parameters nest 4,000 levels deep (they never cross threads)', async () => {
    const server = await start({ modelPath: IRIS, maxBodyBytes: 256 * 1024 });
    const input = '{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}';
    const deep = `{"inputs":[${input}],"parameters":{"x":${'['.repeat(4000)}${']'.repeat(4000)}}}`;
    const body = deep.padEnd(OFF_THREAD_BODY_BYTES + 1000, ' ');
    const answers = await Promise.all([post(server, 'iris', body), post(server, 'iris', body)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers[0].json.outputs.map((o: { name: string }) => o.name)).toEqual(['probabilities', 'label']);
  });

  it('ends the codec worker, not the server, when a body needs more memory than it may take', async () => {
    const model = inspectModel(IRIS);
    const codec = new CodecThread(model, 16);
    try {
      // About 6 MB of JSON whose parse needs far more than 16 MiB of heap.
      const rows = 300_000;
      const body = Buffer.from(
        JSON.stringify({
          inputs: [
            { name: 'input', shape: [rows, 4], datatype: 'FP32', data: new Array(rows).fill([1, 2, 3, 4]) },
          ],
        }),
      );
      await expect(codec.decode(body, undefined)).rejects.toThrow(CodecMemoryError);
      // The next job gets a new worker.
      const small = Buffer.from(
        JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] }),
      );
      const decoded = await codec.decode(small, undefined);
      expect(decoded.inputs.input.dims).toEqual([1, 4]);
      await expect(codec.decode(Buffer.from('{"inputs": 3}'), undefined)).rejects.toThrow(OipRequestError);
    } finally {
      await codec.close();
    }
  });
});

describe('refusals', () => {
  it('counts every refusal by reason and logs a sample of them', async () => {
    const lines: string[] = [];
    const server = await start({ modelPath: slowPath, maxQueueSize: 1 }, lines);
    const running = postSlow(server, 2048); // about 2 s of inference: time for 50 refusals
    await untilRunning(server, 'slow');
    const queued = postSlow(server, 1);
    await waitFor(async () => (await metric(server, 'modelfab_queue_depth{model="slow"}')) === 1);
    const refused = await Promise.all(Array.from({ length: 50 }, () => postSlow(server, 1)));
    expect(refused.every((r) => r.status === 429)).toBe(true);
    await Promise.all([running, queued]);
    expect(await metric(server, 'modelfab_refusals_total{model="slow",reason="queue_full"}')).toBe(50);
    expect(await metric(server, 'modelfab_requests_total{model="slow",code="429"}')).toBe(50);
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.refusal === 'queue_full');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 'warn', status: 429, suppressedSinceLast: 0 });
  });
});
