/**
 * The inference server's HTTP conformance, with real servers on 127.0.0.1 and real onnxruntime:
 * every Open Inference Protocol endpoint in JSON and binary form (bodies checked against the
 * protocol's shapes and against a direct onnxruntime run), the error statuses (400, 401, 404,
 * 405, 413, 429, 503 while loading and draining, 504), metrics, and the structured logs.
 */
import fs from 'node:fs';
import http from 'node:http';
import { type Socket } from 'node:net';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InferenceServer, type InferenceServerOptions } from '../lib/server';
import { makeTempDir, removeDir } from './support/fixture-models';
import { startLocalServer } from './support/local-server';
import { rowsModel, slowModel, writeModel } from './support/runtime-fixtures';

const IRIS = path.join(__dirname, '..', 'examples', 'iris', 'model', 'iris.onnx');
const EVAL = path.join(__dirname, '..', 'examples', 'iris', 'model', 'eval.jsonl');
const VERSION = (
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }
).version;
const API_KEY = 'k3y-for-tests';
const MAX_BODY_BYTES = 256 * 1024;
const OIP_DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
];

let dir: string;
let slowPath: string;
const servers: InferenceServer[] = [];
const logs: string[] = [];
let iris: InferenceServer;
let keyed: InferenceServer;
let rows: InferenceServer;
let irisRows: number[][];

/** A server on 127.0.0.1 with ephemeral ports, its log lines collected, closed after all tests. */
async function start(options: InferenceServerOptions, lines: string[] = logs): Promise<InferenceServer> {
  const server = await startLocalServer(options, lines);
  servers.push(server);
  return server;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
  readonly json: any;
}

async function send(
  server: InferenceServer,
  target: string,
  init: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const response = await fetch(server.url + target, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    ...(init.body !== undefined ? { body: init.body } : {}),
    headers: init.headers ?? {},
  });
  const body = Buffer.from(await response.arrayBuffer());
  let json: any;
  if ((response.headers.get('content-type') ?? '').startsWith('application/json') && body.length > 0)
    json = JSON.parse(body.toString('utf8'));
  return { status: response.status, headers: response.headers, body, json };
}

function infer(server: InferenceServer, request: unknown, target = '/v2/models/iris/infer'): Promise<Answer> {
  return send(server, target, { body: JSON.stringify(request) });
}

function irisRequest(data: unknown, shape: number[], extra: Record<string, unknown> = {}) {
  return { inputs: [{ name: 'input', shape, datatype: 'FP32', data }], ...extra };
}

/** A body of the binary tensor data extension: the JSON header, then each section. */
function binaryBody(
  header: unknown,
  sections: ArrayBufferView[],
): { body: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const parts = sections.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength));
  return {
    body: Buffer.concat([json, ...parts]),
    headers: {
      'Inference-Header-Content-Length': String(json.length),
      'Content-Type': 'application/octet-stream',
    },
  };
}

/** A binary response's JSON header and each binary output's bytes, in output order. */
function parseBinary(answer: Answer): { header: any; sections: Record<string, Buffer> } {
  const length = Number(answer.headers.get('inference-header-content-length'));
  const header = JSON.parse(answer.body.subarray(0, length).toString('utf8'));
  const sections: Record<string, Buffer> = {};
  let at = length;
  for (const output of header.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    sections[output.name] = answer.body.subarray(at, at + size);
    at += size;
  }
  expect(at).toBe(answer.body.length);
  return { header, sections };
}

/** Checks a body against the protocol's `$inference_response`. */
function expectInferenceResponse(json: any, model: string, version: string): void {
  expect(
    Object.keys(json).every((k) =>
      ['model_name', 'model_version', 'id', 'parameters', 'outputs'].includes(k),
    ),
  ).toBe(true);
  expect(json.model_name).toBe(model);
  expect(json.model_version).toBe(version);
  expect(Array.isArray(json.outputs)).toBe(true);
  for (const output of json.outputs) {
    expect(typeof output.name).toBe('string');
    expect(OIP_DATATYPES).toContain(output.datatype);
    expect(Array.isArray(output.shape) && output.shape.every((d: unknown) => Number.isSafeInteger(d))).toBe(
      true,
    );
    const count = output.shape.reduce((a: number, b: number) => a * b, 1);
    if (output.data !== undefined) {
      expect(output.data).toHaveLength(count);
    } else {
      expect(Number.isSafeInteger(output.parameters.binary_data_size)).toBe(true);
    }
  }
}

/** Checks an error answer: the status, a JSON `{ "error": "..." }` body, and a message. */
function expectError(answer: Answer, status: number, message: string | RegExp): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toBe('application/json');
  expect(Object.keys(answer.json)).toEqual(['error']);
  if (typeof message === 'string') expect(answer.json.error).toBe(message);
  else expect(answer.json.error).toMatch(message);
}

async function directIris(data: number[][]): Promise<{ probabilities: Float32Array; label: BigInt64Array }> {
  const session = await ort.InferenceSession.create(IRIS);
  try {
    const result = await session.run({
      input: new ort.Tensor('float32', Float32Array.from(data.flat()), [data.length, 4]),
    });
    return {
      probabilities: result.probabilities.data as Float32Array,
      label: result.label.data as BigInt64Array,
    };
  } finally {
    await session.release();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A slow request body: `rows` rows of 512 floats for the chained-MatMul model, as binary data. */
function slowBody(rowCount: number): { body: Buffer; headers: Record<string, string> } {
  return binaryBody(
    {
      inputs: [
        {
          name: 'x',
          shape: [rowCount, 512],
          datatype: 'FP32',
          parameters: { binary_data_size: rowCount * 512 * 4 },
        },
      ],
    },
    [new Float32Array(rowCount * 512).fill(0.5)],
  );
}

beforeAll(async () => {
  dir = makeTempDir('modelfab-server-http-');
  slowPath = writeModel(dir, 'slow', slowModel(400)); // ~1 ms a row
  const rowsPath = writeModel(dir, 'rows', rowsModel());
  const keyFile = path.join(dir, 'api-key');
  fs.writeFileSync(keyFile, `${API_KEY}\n`);
  irisRows = fs
    .readFileSync(EVAL, 'utf8')
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { inputs: { input: number[] } }).inputs.input);
  [iris, keyed, rows] = await Promise.all([
    start({ modelPath: IRIS, maxBodyBytes: MAX_BODY_BYTES, workers: 1, intraOpThreads: 1 }),
    start({ modelPath: IRIS, apiKeyFile: keyFile, workers: 1, intraOpThreads: 1 }),
    // Batching in workers, which a model this small would skip for requests that arrive one by one (inline).
    start({
      modelPath: rowsPath,
      workers: 1,
      intraOpThreads: 1,
      maxBatchSize: 8,
      maxQueueDelayMs: 20,
      inline: 'never',
    }),
  ]);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  removeDir(dir);
});

describe('health and metadata', () => {
  it('answers liveness and readiness', async () => {
    const live = await send(iris, '/v2/health/live');
    expect([live.status, live.json]).toEqual([200, { live: true }]);
    const ready = await send(iris, '/v2/health/ready');
    expect([ready.status, ready.json]).toEqual([200, { ready: true }]);
    const head = await send(iris, '/v2/health/ready', { method: 'HEAD' });
    expect([head.status, head.body.length]).toEqual([200, 0]);
    expect(iris.ready).toBe(true);
    expect(iris.state).toBe('ready');
  });

  it('answers server metadata, advertising the binary tensor data extension', async () => {
    const answer = await send(iris, '/v2');
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ name: 'modelfab', version: VERSION, extensions: ['binary_tensor_data'] });
  });

  it('answers model metadata with and without the version', async () => {
    const expected = {
      name: 'iris',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        { name: 'label', datatype: 'INT64', shape: [-1] },
      ],
    };
    for (const target of ['/v2/models/iris', '/v2/models/iris/versions/1']) {
      const answer = await send(iris, target);
      expect([answer.status, answer.json]).toEqual([200, expected]);
    }
  });

  it('answers model readiness with and without the version', async () => {
    for (const target of ['/v2/models/iris/ready', '/v2/models/iris/versions/1/ready']) {
      const answer = await send(iris, target);
      expect([answer.status, answer.json]).toEqual([200, { name: 'iris', ready: true }]);
    }
  });
});

describe('inference in JSON', () => {
  it('runs the Iris eval set in one request with nested data, as onnxruntime does', async () => {
    const answer = await infer(iris, irisRequest(irisRows, [irisRows.length, 4], { id: 'eval-1' }));
    expect(answer.status).toBe(200);
    expect(answer.headers.get('inference-header-content-length')).toBeNull();
    expectInferenceResponse(answer.json, 'iris', '1');
    expect(answer.json.id).toBe('eval-1');
    const [probabilities, label] = answer.json.outputs;
    expect([probabilities.name, probabilities.datatype, probabilities.shape]).toEqual([
      'probabilities',
      'FP32',
      [45, 3],
    ]);
    expect([label.name, label.datatype, label.shape]).toEqual(['label', 'INT64', [45]]);
    const direct = await directIris(irisRows);
    expect(probabilities.data).toEqual([...direct.probabilities]);
    expect(label.data).toEqual([...direct.label].map(Number));
  });

  it('takes flat data, returns only the outputs asked for, and accepts parameters', async () => {
    const answer = await infer(
      iris,
      irisRequest(irisRows.slice(0, 2).flat(), [2, 4], {
        parameters: { note: 'x' },
        outputs: [{ name: 'label' }],
      }),
    );
    expect(answer.status).toBe(200);
    expectInferenceResponse(answer.json, 'iris', '1');
    expect(answer.json.id).toBeUndefined();
    expect(answer.json.outputs).toEqual([{ name: 'label', datatype: 'INT64', shape: [2], data: [0, 0] }]);
    const versioned = await infer(
      iris,
      irisRequest(irisRows.slice(0, 2), [2, 4]),
      '/v2/models/iris/versions/1/infer',
    );
    expect(versioned.status).toBe(200);
  });

  it('batches concurrent requests on a batchable model and gives each its own rows', async () => {
    const request = (i: number) => ({
      id: `r${i}`,
      inputs: [
        { name: 'tokens', shape: [1, 2, 2], datatype: 'FP32', data: [i, 10 * i, i + 2, 10 * i + 2] },
        { name: 'ids', shape: [1, 3], datatype: 'INT64', data: [i, i + 1, i + 2] },
      ],
    });
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => infer(rows, request(i), '/v2/models/rows/infer')),
    );
    answers.forEach((answer, i) => {
      expect(answer.status).toBe(200);
      expectInferenceResponse(answer.json, 'rows', '1');
      expect(answer.json.id).toBe(`r${i}`);
      expect(answer.json.outputs).toEqual([
        { name: 'pooled', datatype: 'FP32', shape: [1, 2], data: [i + 1, 10 * i + 1] },
        { name: 'ids_out', datatype: 'INT64', shape: [1, 3], data: [i, i + 1, i + 2] },
      ]);
    });
    const metrics = await (await fetch(rows.metricsUrl)).text();
    // Eight concurrent single-row requests ran in fewer batches than requests.
    const batches = Number(/^modelfab_batch_size_count\{model="rows"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(batches).toBeLessThan(1 + 8); // the warm-up batch plus fewer than eight
  });
});

describe('inference with the binary tensor data extension', () => {
  it('takes binary inputs and returns binary outputs, equal to the JSON answer', async () => {
    const data = Float32Array.from(irisRows.slice(0, 5).flat());
    const { body, headers } = binaryBody(
      {
        id: 'bin',
        inputs: [
          {
            name: 'input',
            shape: [5, 4],
            datatype: 'FP32',
            parameters: { binary_data_size: data.byteLength },
          },
        ],
        parameters: { binary_data_output: true },
      },
      [data],
    );
    const answer = await send(iris, '/v2/models/iris/infer', { body, headers });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/octet-stream');
    const { header, sections } = parseBinary(answer);
    expectInferenceResponse(header, 'iris', '1');
    expect(header.id).toBe('bin');
    expect(header.outputs).toEqual([
      { name: 'probabilities', datatype: 'FP32', shape: [5, 3], parameters: { binary_data_size: 60 } },
      { name: 'label', datatype: 'INT64', shape: [5], parameters: { binary_data_size: 40 } },
    ]);
    const asJson = await infer(iris, irisRequest(irisRows.slice(0, 5), [5, 4]));
    const probabilities = new Float32Array(new Uint8Array(sections.probabilities).buffer);
    const labels = new BigInt64Array(new Uint8Array(sections.label).buffer);
    expect([...probabilities]).toEqual(asJson.json.outputs[0].data);
    expect([...labels].map(Number)).toEqual(asJson.json.outputs[1].data);
  });

  it('mixes JSON inputs with one binary output, and binary inputs with JSON outputs', async () => {
    const mixed = await infer(
      iris,
      irisRequest(irisRows.slice(0, 1), [1, 4], {
        outputs: [{ name: 'label', parameters: { binary_data: true } }, { name: 'probabilities' }],
      }),
    );
    expect(mixed.status).toBe(200);
    const { header, sections } = parseBinary(mixed);
    expect(header.outputs[0]).toEqual({
      name: 'label',
      datatype: 'INT64',
      shape: [1],
      parameters: { binary_data_size: 8 },
    });
    expect(header.outputs[1].data).toHaveLength(3);
    expect(sections.label.readBigInt64LE(0)).toBe(0n);

    const data = Float32Array.from(irisRows[0]);
    const { body, headers } = binaryBody(
      { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }] },
      [data],
    );
    const jsonOut = await send(iris, '/v2/models/iris/infer', { body, headers });
    expect(jsonOut.status).toBe(200);
    expect(jsonOut.headers.get('inference-header-content-length')).toBeNull();
    expectInferenceResponse(jsonOut.json, 'iris', '1');
    expect(jsonOut.json.outputs[1].data).toEqual([0]);
  });
});

describe('errors', () => {
  it('answers 400 for a bad shape, datatype, unknown input, element count or malformed JSON', async () => {
    expectError(await infer(iris, irisRequest([[1, 2, 3, 4, 5]], [1, 5])), 400, /input "input".*\[1, 5\].*4/);
    expectError(
      await infer(iris, { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP64', data: [1, 2, 3, 4] }] }),
      400,
      /input "input" has datatype "FP64"; the model expects FP32/,
    );
    expectError(
      await infer(iris, {
        inputs: [
          { name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] },
          { name: 'extra', shape: [1], datatype: 'FP32', data: [1] },
        ],
      }),
      400,
      /^unknown input "extra"/,
    );
    expectError(await infer(iris, irisRequest([1, 2, 3], [1, 4])), 400, /input "input"/);
    expectError(await send(iris, '/v2/models/iris/infer', { body: '{"inputs": [' }), 400, /json/i);
    expectError(await send(iris, '/v2/models/iris/infer', { body: '' }), 400, /json/i);
    expectError(
      await send(iris, '/v2/models/iris/infer', {
        body: '{}',
        headers: { 'Inference-Header-Content-Length': 'twelve' },
      }),
      400,
      'the Inference-Header-Content-Length header must be the length of the JSON header in bytes, received "twelve"',
    );
    expectError(
      await send(iris, '/v2/models/iris/infer', {
        body: '{}',
        headers: { 'Inference-Header-Content-Length': '99' },
      }),
      400,
      /99/,
    );
    // The server goes on serving.
    expect((await infer(iris, irisRequest([irisRows[0]], [1, 4]))).status).toBe(200);
  });

  it('answers 404 for an unknown path, model or version, and 405 for a wrong method', async () => {
    expectError(
      await send(iris, '/v1/models'),
      404,
      /^no such endpoint: GET \/v1\/models; the server answers /,
    );
    expectError(await send(iris, '/v2/models/iris/explain', { body: '{}' }), 404, /^no such endpoint/);
    for (const target of ['/v2/models/rose', '/v2/models/rose/ready', '/v2/models/rose/versions/1']) {
      expectError(await send(iris, target), 404, 'unknown model "rose"; this server serves "iris"');
    }
    expectError(
      await infer(iris, irisRequest([irisRows[0]], [1, 4]), '/v2/models/rose/infer'),
      404,
      /unknown model "rose"/,
    );
    for (const target of ['/v2/models/iris/versions/2', '/v2/models/iris/versions/2/ready']) {
      expectError(
        await send(iris, target),
        404,
        'model "iris" has no version "2"; this server serves version "1"',
      );
    }
    expectError(
      await infer(iris, irisRequest([irisRows[0]], [1, 4]), '/v2/models/iris/versions/2/infer'),
      404,
      /no version "2"/,
    );
    const get = await send(iris, '/v2/models/iris/infer');
    expectError(get, 405, 'GET is not allowed on /v2/models/iris/infer; use POST');
    expect(get.headers.get('allow')).toBe('POST');
    const post = await send(iris, '/v2/health/ready', { body: '{}' });
    expectError(post, 405, 'POST is not allowed on /v2/health/ready; use GET or HEAD');
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers 401 without the API key, and keeps health open', async () => {
    const message =
      'missing or wrong api key; send it as "Authorization: Bearer <key>" or "X-API-Key: <key>"';
    const request = JSON.stringify(irisRequest([irisRows[0]], [1, 4]));
    for (const headers of [
      {},
      { Authorization: 'Bearer wrong' },
      { 'X-API-Key': `${API_KEY}x` },
      { Authorization: API_KEY },
    ] as Array<Record<string, string>>) {
      const answer = await send(keyed, '/v2/models/iris/infer', { body: request, headers });
      expectError(answer, 401, message);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
      expectError(await send(keyed, '/v2/models/iris', { headers }), 401, message);
      expectError(await send(keyed, '/v2', { headers }), 401, message);
    }
    for (const headers of [{ Authorization: `Bearer ${API_KEY}` }, { 'X-API-Key': API_KEY }] as Array<
      Record<string, string>
    >) {
      expect((await send(keyed, '/v2/models/iris/infer', { body: request, headers })).status).toBe(200);
      expect((await send(keyed, '/v2/models/iris/ready', { headers })).status).toBe(200);
    }
    expect((await send(keyed, '/v2/health/live')).status).toBe(200);
    expect((await send(keyed, '/v2/health/ready')).status).toBe(200);
  });

  it('answers 413 for a body over the limit, declared or streamed, without reading it', async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
    expectError(
      await send(iris, '/v2/models/iris/infer', { body: big }),
      413,
      `the request body is ${MAX_BODY_BYTES + 1} bytes, more than the server's limit of ${MAX_BODY_BYTES} bytes; send a smaller batch, or raise MODELFAB_MAX_BODY_BYTES`,
    );
    // A chunked body with no length: answered as soon as it passes the limit.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(`${iris.url}/v2/models/iris/infer`);
      const request = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'Transfer-Encoding': 'chunked' },
        },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        },
      );
      request.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 2 * MAX_BODY_BYTES) {
          sent += chunk.length;
          if (!request.write(chunk)) {
            request.once('drain', pump);
            return;
          }
        }
        request.end();
      };
      pump();
    });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body)).toEqual({
      error: `the request body is more than the server's limit of ${MAX_BODY_BYTES} bytes; send a smaller batch, or raise MODELFAB_MAX_BODY_BYTES`,
    });
    // With Expect: 100-continue the body is refused before the client sends it.
    const expecting = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
      const url = new URL(`${iris.url}/v2/models/iris/infer`);
      let continued = false;
      const request = http.request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { Expect: '100-continue', 'Content-Length': String(10 * MAX_BODY_BYTES) },
      });
      request.on('continue', () => {
        continued = true;
        request.destroy();
      });
      request.on('response', (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0, continued }));
        request.destroy();
      });
      request.on('error', reject);
      request.flushHeaders();
    });
    expect(expecting).toEqual({ status: 413, continued: false });
    expect((await infer(iris, irisRequest([irisRows[0]], [1, 4]))).status).toBe(200);
  });

  it('answers 429 with Retry-After when the queue is full', async () => {
    const slow = await start({ modelPath: slowPath, workers: 1, intraOpThreads: 1, maxQueueSize: 1 });
    const running = send(slow, '/v2/models/slow/infer', slowBody(256));
    await sleep(50);
    const queued = send(slow, '/v2/models/slow/infer', slowBody(1));
    await sleep(20);
    const rejected = await send(slow, '/v2/models/slow/infer', slowBody(1));
    expectError(
      rejected,
      429,
      'the inference queue is full (1 requests waiting); retry later or add capacity',
    );
    expect(rejected.headers.get('retry-after')).toBe('1');
    expect((await running).status).toBe(200);
    expect((await queued).status).toBe(200);
  });

  it('answers 504 when a request times out', async () => {
    const slow = await start({ modelPath: slowPath, workers: 1, intraOpThreads: 1, requestTimeoutMs: 20 });
    expectError(
      await send(slow, '/v2/models/slow/infer', slowBody(256)),
      504,
      'inference timed out after 20 ms while running; its result will be discarded',
    );
  });

  it('answers 503 until the model is loaded and warmed up', async () => {
    const lines: string[] = [];
    const loading = await start({ modelPath: IRIS, waitUntilReady: false }, lines);
    expect(loading.state).toBe('loading');
    const message = 'the model is loading; retry once GET /v2/health/ready answers 200';
    const ready = await send(loading, '/v2/health/ready');
    expect([ready.status, ready.json]).toEqual([503, { ready: false, error: message }]);
    const modelReady = await send(loading, '/v2/models/iris/ready');
    expect([modelReady.status, modelReady.json]).toEqual([
      503,
      { name: 'iris', ready: false, error: message },
    ]);
    expectError(await infer(loading, irisRequest([irisRows[0]], [1, 4])), 503, message);
    expect((await send(loading, '/v2/health/live')).status).toBe(200);
    expect((await send(loading, '/v2/models/iris')).status).toBe(200);
    await loading.whenReady();
    expect((await send(loading, '/v2/health/ready')).status).toBe(200);
    expect((await infer(loading, irisRequest([irisRows[0]], [1, 4]))).status).toBe(200);
    const events = lines
      .map((l) => JSON.parse(l))
      .filter((l) => l.event !== undefined)
      .map((l) => l.event);
    expect(events).toEqual(['listening', 'ready']);
  });

  it('answers 503 while draining, after answering what it had accepted', async () => {
    const lines: string[] = [];
    const draining = await start({ modelPath: slowPath, workers: 1, intraOpThreads: 1 }, lines);
    // An idle keep-alive connection, which close() must end.
    const agent = new http.Agent({ keepAlive: true });
    const idleSocket = await new Promise<Socket>((resolve, reject) => {
      const request = http.get(`${draining.url}/v2/health/live`, { agent }, (response) => {
        response.resume();
        response.on('end', () => resolve(request.socket!));
      });
      request.on('error', reject);
    });
    const idleClosed = new Promise<void>((resolve) => idleSocket.once('close', () => resolve()));
    const accepted = send(draining, '/v2/models/slow/infer', slowBody(256));
    await sleep(30);
    const drained = draining.drain();
    expect(draining.ready).toBe(false);
    const message = 'the server is shutting down; send the request to another replica';
    const ready = await send(draining, '/v2/health/ready');
    expect([ready.status, ready.json]).toEqual([503, { ready: false, error: message }]);
    expect(ready.headers.get('connection')).toBe('close');
    expectError(await send(draining, '/v2/models/slow/infer', slowBody(1)), 503, message);
    const answer = await accepted;
    expect(answer.status).toBe(200);
    expect(answer.json.outputs[0].shape).toEqual([256, 512]);
    await drained;
    expect(idleSocket.destroyed).toBe(false); // draining keeps connections
    await draining.close();
    expect(draining.state).toBe('closed');
    await idleClosed;
    agent.destroy();
    await expect(fetch(`${draining.url}/v2/health/live`)).rejects.toThrow();
    const events = lines
      .map((l) => JSON.parse(l))
      .filter((l) => l.event !== undefined)
      .map((l) => l.event);
    expect(events).toEqual(['listening', 'ready', 'draining', 'stopped']);
  });
});

describe('metrics and logs', () => {
  it('serves Prometheus metrics on their own port', async () => {
    await infer(iris, irisRequest([irisRows[0]], [1, 4]));
    await infer(iris, irisRequest([[1]], [1, 1]));
    const response = await fetch(iris.metricsUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1]);
    expect(value(/^modelfab_requests_total\{model="iris",code="200"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^modelfab_requests_total\{model="iris",code="400"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^modelfab_requests_total\{model="",code="404"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(text).not.toMatch(/modelfab_requests_total\{model="rose"/); // unknown names never become labels
    expect(value(/^modelfab_request_duration_seconds_count\{model="iris"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^modelfab_inference_duration_seconds_count\{model="iris"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^modelfab_batch_size_count\{model="iris"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(value(/^modelfab_queue_depth\{model="iris"\} (\d+)$/m)).toBe(0);
    expect(value(/^modelfab_receiving_requests\{model="iris"\} (\d+)$/m)).toBe(0);
    expect(value(/^modelfab_inflight_requests\{model="iris"\} (\d+)$/m)).toBe(0);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    const elsewhere = await fetch(iris.metricsUrl.replace('/metrics', '/v2/health/ready'));
    expect(elsewhere.status).toBe(404);
    // The API port does not serve metrics.
    expect((await send(iris, '/metrics')).status).toBe(404);
  });

  it('logs one JSON line per request, with its request id and no tensor data', async () => {
    const marker = 4.987654321;
    const ok = await send(iris, '/v2/models/iris/infer', {
      body: JSON.stringify(irisRequest([[marker, 3, 1, 0.2]], [1, 4])),
      headers: { 'X-Request-Id': 'trace-123' },
    });
    expect(ok.headers.get('x-request-id')).toBe('trace-123');
    const bad = await infer(iris, irisRequest([[marker, 3, 1]], [1, 3]));
    expect(bad.status).toBe(400);
    const generated = bad.headers.get('x-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const parsed = logs.map((line) => JSON.parse(line));
    for (const line of parsed) {
      expect(typeof line.ts).toBe('string');
      expect(['info', 'warn', 'error']).toContain(line.level);
      expect(typeof line.msg).toBe('string');
    }
    const traced = parsed.find((l) => l.requestId === 'trace-123');
    expect(traced).toMatchObject({
      level: 'info',
      msg: 'request',
      method: 'POST',
      path: '/v2/models/iris/infer',
      status: 200,
      model: 'iris',
    });
    expect(typeof traced.durationMs).toBe('number');
    expect(parsed.find((l) => l.requestId === generated)).toMatchObject({
      status: 400,
      errorKind: expect.any(String),
    });
    expect(logs.join('\n')).not.toContain(String(marker));
  });
});
