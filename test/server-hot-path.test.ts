/**
 * What the server's hot path promises besides the protocol: `cpus` reaches the executor (so a
 * server sharing its cores can turn polling off); answers written with one writeHead carry their
 * headers once and the right byte length; the stdout log writes the lines of a turn in one write
 * and loses none when the process exits; the response JSON is written as `JSON.stringify` would.
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type TensorData } from '../lib/runtime';
import {
  type InferenceServer,
  type InferenceServerOptions,
  ServerLog,
  encodeInferResponse,
  encodeInferResponseParts,
  stdoutLogSink,
} from '../lib/server';
import { startLocalServer } from './support/local-server';

const IRIS = path.join(__dirname, '..', 'examples', 'iris', 'model', 'iris.onnx');
const servers: InferenceServer[] = [];

async function start(options: InferenceServerOptions, lines: string[]): Promise<InferenceServer> {
  const server = await startLocalServer(
    { modelPath: IRIS, workers: 1, intraOpThreads: 1, ...options },
    lines,
  );
  servers.push(server);
  return server;
}

function readyLine(lines: readonly string[]): Record<string, unknown> {
  const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'ready');
  if (line === undefined) throw new Error(`no ready line in ${lines.join('\n')}`);
  return line;
}

/** One request with node's client, which keeps the raw header list (repeated headers included). */
function request(
  url: string,
  body: string | undefined,
  headers: Record<string, string> = {},
): Promise<{ status: number; rawHeaders: string[]; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: body === undefined ? 'GET' : 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

function headerValues(rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() === name) values.push(rawHeaders[i + 1]);
  }
  return values;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('cpus', () => {
  it('turns polling off when the workers take every cpu, and on with one to spare', async () => {
    const one: string[] = [];
    const four: string[] = [];
    await start({ cpus: 1 }, one);
    await start({ cpus: 4 }, four);
    expect(readyLine(one).pollMs).toBe(0);
    expect(readyLine(four).pollMs).toBe(0.5);
  });
});

describe('answers', () => {
  it('carry each header once and the byte length of a body with non-ASCII text', async () => {
    const lines: string[] = [];
    const server = await start({ modelName: 'iris-é', modelVersion: 'v-ü' }, lines);
    const body = JSON.stringify({
      id: 'ça-1',
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
    });
    const answer = await request(`${server.url}/v2/models/${encodeURIComponent('iris-é')}/infer`, body, {
      'Content-Type': 'application/json',
      'X-Request-Id': 'trace-7',
    });
    expect(answer.status).toBe(200);
    for (const name of ['content-type', 'content-length', 'x-request-id']) {
      expect(headerValues(answer.rawHeaders, name)).toHaveLength(1);
    }
    expect(headerValues(answer.rawHeaders, 'content-type')).toEqual(['application/json']);
    expect(headerValues(answer.rawHeaders, 'x-request-id')).toEqual(['trace-7']);
    expect(Number(headerValues(answer.rawHeaders, 'content-length')[0])).toBe(answer.body.length);
    const json = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
    expect(json).toMatchObject({ model_name: 'iris-é', model_version: 'v-ü', id: 'ça-1' });
    expect(answer.body.length).toBeGreaterThan(answer.body.toString('utf8').length);

    const refused = await request(`${server.url}/v2/models/iris-%C3%A9/infer`, '{', {
      'X-Request-Id': 'trace-8',
    });
    expect(refused.status).toBe(400);
    expect(headerValues(refused.rawHeaders, 'x-request-id')).toEqual(['trace-8']);
    expect(Number(headerValues(refused.rawHeaders, 'content-length')[0])).toBe(refused.body.length);

    const wrongMethod = await request(`${server.url}/v2/models/iris-%C3%A9/infer`, undefined);
    expect(wrongMethod.status).toBe(405);
    expect(headerValues(wrongMethod.rawHeaders, 'allow')).toEqual(['POST']);
    expect(headerValues(wrongMethod.rawHeaders, 'x-request-id')).toHaveLength(1);
  });
});

describe('the stdout log', () => {
  it('writes the lines of one event-loop turn in one write, each a line', async () => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      const log = new ServerLog(stdoutLogSink);
      log.info('one', { n: 1 });
      log.info('two', { n: 2 });
      log.error('three', { n: 3 });
      expect(writes).toEqual([]);
      await new Promise((resolve) => setImmediate(resolve));
      expect(writes).toHaveLength(1);
      const lines = writes[0].split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['one', 'two', 'three']);
      log.warn('four');
      log.flush();
      expect(writes).toHaveLength(2);
      expect((JSON.parse(writes[1]) as { level: string }).level).toBe('warn');
    } finally {
      spy.mockRestore();
    }
  });

  it('loses no line when the process exits in the same turn', () => {
    const module = path.join(__dirname, '..', 'lib', 'server', 'server-log.ts');
    const script = `
      const { ServerLog } = require(${JSON.stringify(module)});
      const log = new ServerLog();
      for (let i = 0; i < 1000; i++) log.info('line', { i });
      process.exit(0);
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: path.join(__dirname, '..'),
      encoding: 'utf8',
    });
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(1000);
    expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual(
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });
});

describe('encodeInferResponseParts', () => {
  it('writes the JSON that JSON.stringify writes for the response, odd values included', () => {
    const outputs: Record<string, TensorData> = {
      f32: { type: 'float32', dims: [2, 3], data: Float32Array.from([0.1, -0, NaN, 1e21, -Infinity, 1e-7]) },
      f64: { type: 'float64', dims: [3], data: Float64Array.from([Infinity, -2.5e-300, 0]) },
      f16: { type: 'float16', dims: [4], data: Uint16Array.from([0x3c00, 0x7c00, 0x7e00, 0x8000]) },
      b: { type: 'bool', dims: [3], data: Uint8Array.from([1, 0, 1]) },
      i64: {
        type: 'int64',
        dims: [3],
        data: BigInt64Array.from([0n, 9007199254740993n, -9007199254740991n]),
      },
      i32: { type: 'int32', dims: [3], data: Int32Array.from([-1, 0, 2147483647]) },
      s: { type: 'string', dims: [2], data: ['a"b\u2028', 'é\n'] },
      e: { type: 'uint8', dims: [0, 4], data: new Uint8Array(0) },
    };
    const requested = Object.keys(outputs).map((name) => ({ name, binary: name === 'i32' }));
    const parts = encodeInferResponseParts({
      modelName: 'm"é',
      modelVersion: '1',
      id: 'x\\y',
      parameters: { a: [1, { b: null }] },
      outputs,
      requested,
    });
    const expected = {
      model_name: 'm"é',
      model_version: '1',
      id: 'x\\y',
      parameters: { a: [1, { b: null }] },
      outputs: [
        {
          name: 'f32',
          datatype: 'FP32',
          shape: [2, 3],
          data: [Math.fround(0.1), 0, 'NaN', Math.fround(1e21), '-Infinity', Math.fround(1e-7)],
        },
        { name: 'f64', datatype: 'FP64', shape: [3], data: ['Infinity', -2.5e-300, 0] },
        { name: 'f16', datatype: 'FP16', shape: [4], data: [1, 'Infinity', 'NaN', 0] },
        { name: 'b', datatype: 'BOOL', shape: [3], data: [true, false, true] },
        { name: 'i64', datatype: 'INT64', shape: [3], data: [0, '9007199254740993', -9007199254740991] },
        { name: 'i32', datatype: 'INT32', shape: [3], parameters: { binary_data_size: 12 } },
        { name: 's', datatype: 'BYTES', shape: [2], data: ['a"b\u2028', 'é\n'] },
        { name: 'e', datatype: 'UINT8', shape: [0, 4], data: [] },
      ],
    };
    expect(parts.json).toBe(JSON.stringify(expected));
    expect(parts.binaryBytes).toBe(12);
    expect(parts.sections).toHaveLength(1);
    const whole = encodeInferResponse({
      modelName: 'm"é',
      modelVersion: '1',
      id: 'x\\y',
      parameters: { a: [1, { b: null }] },
      outputs,
      requested,
    });
    expect(whole.headerLength).toBe(Buffer.byteLength(parts.json));
    expect(whole.body.toString('utf8', 0, whole.headerLength)).toBe(parts.json);
    expect(
      new Int32Array(
        whole.body.buffer.slice(
          whole.body.byteOffset + whole.headerLength!,
          whole.body.byteOffset + whole.body.length,
        ),
      ),
    ).toEqual(Int32Array.from([-1, 0, 2147483647]));
  });
});
