/**
 * The inference server under HTTP load, with baselines measured in the same run:
 * - throughput and p50/p99 at concurrency 1, 16 and 64 for the Iris model (tiny, JSON body) and a
 *   medium generated model (8 chained 512×512 MatMuls, binary tensor body), beside a plain
 *   in-process session.run loop with the same intra-op threads, and a raw 64-row batch of the
 *   medium model (the ceiling batching can reach);
 * - the medium model batched (up to {@link BATCHED.maxBatchSize} rows) against unbatched at
 *   concurrency 64 (target ≥ 3×);
 * - the latency the server adds at concurrency 1 on the Iris model: server p50 − session.run p50,
 *   beside a bare node:http server that answers the same bytes (the floor that node, loopback TCP
 *   and the load generator set on this machine); and the server's overhead over both, server p50 −
 *   (bare node:http p50 + session.run p50) (target ≤ 30 µs), all three measured in this run;
 * - the server's RSS over a soak under load, sampled from /proc/<pid>/status, growth from a
 *   linear fit after the warm-up (target ≤ 1 MB/min).
 *
 * Each server is a child process started with `modelfab serve` (from sources), so its RSS and CPU
 * are its own; the load generator (test/perf/http-load.ts) runs in this process. Both share this
 * machine's cores, which the output says. Figures go to stdout, progress to stderr.
 *
 * The servers compared in a table run side by side (idle while the other is loaded), and each
 * load point is measured in rounds that alternate between them, so that the machine's noise
 * (other processes) hits all alike; the table shows the median of the rounds.
 *
 * Environment: MODELFAB_BENCH_SOAK_SECONDS (default 300), MODELFAB_BENCH_POINT_SECONDS (the
 * measured time of each round of a load point, default 3), MODELFAB_BENCH_ROUNDS (default 3).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-node';
import { percentile } from '../../lib/gate';
import { inspectModel } from '../../lib/model';
import { sessionOptionsFor } from '../../lib/runtime';
import { chainedMatMulModel } from '../support/gate-fixtures';
import { cpuSeconds, positiveEnv, progressFor, verdict, irisLabelCheck } from './bench-support';
import { type HttpLoadResult, httpClosedLoop } from './http-load';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'lib', 'cli', 'main.ts');
const IRIS = path.join(ROOT, 'examples', 'iris', 'model', 'iris.onnx');

const SOAK_SECONDS = positiveEnv('MODELFAB_BENCH_SOAK_SECONDS', 300, 'a positive number of seconds');
const POINT_SECONDS = positiveEnv('MODELFAB_BENCH_POINT_SECONDS', 3, 'a positive number of seconds');
const ROUNDS = positiveEnv('MODELFAB_BENCH_ROUNDS', 3, 'a whole number of at least 1');
const WARM_UP_MS = 500;
const CONCURRENCIES = [1, 16, 64] as const;
/** onnxruntime intra-op threads, the same for the servers and the in-process baselines. */
const INTRA_OP_THREADS = 1;
/** The batched configuration of the medium model (and the soak). */
const BATCHED = { maxBatchSize: 32, maxQueueDelayMs: 2 } as const;
const UNBATCHED = { maxBatchSize: 1, maxQueueDelayMs: 0 } as const;
/** Rows of the raw batch that shows what batching can reach at best. */
const RAW_BATCH_ROWS = 64;

const TARGETS = { overheadUs: 30, batchedRatio: 3, rssMbPerMin: 1 } as const;

const progress = progressFor('server');

type Batching = { readonly maxBatchSize: number; readonly maxQueueDelayMs: number };

function batchingLabel(b: Batching): string {
  return b.maxBatchSize <= 1 ? 'unbatched' : `batched ≤${b.maxBatchSize} rows, ${b.maxQueueDelayMs} ms`;
}

/** A `modelfab serve` child process, ready to answer. */
interface ServerChild {
  /** `http://127.0.0.1:port`. */
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, then resolves with the exit code once it has drained and exited. */
  stop(): Promise<number | null>;
}

/**
 * Spawns a server process and resolves once `readyLine` matches its stderr, with the base URL
 * the pattern's first group captured. stdout (the JSON log of `modelfab serve`, a line per
 * request) is written as in production, to a sink that costs nothing.
 */
async function spawnServer(
  args: readonly string[],
  readyLine: RegExp,
  env: NodeJS.ProcessEnv,
): Promise<ServerChild> {
  const devNull = fs.openSync('/dev/null', 'w');
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', devNull, 'pipe'],
  });
  fs.closeSync(devNull);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      const ready = readyLine.exec(stderr);
      if (ready) resolve(ready[1]);
    });
    void exited.then((code) =>
      reject(new Error(`the server exited with ${code} before it was ready: ${stderr}`)),
    );
  });
  return {
    url,
    pid: child.pid!,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** `modelfab serve` from sources, on free ports, 1 worker. */
function startServer(modelPath: string, batching: Batching): Promise<ServerChild> {
  const args = [
    '--import',
    pathToFileURL(require.resolve('tsx')).href,
    CLI,
    'serve',
    modelPath,
    ...['--port', '0', '--metrics-port', '0', '--workers', '1'],
    ...['--intra-op-threads', String(INTRA_OP_THREADS), '--max-queue-size', '4096'],
    ...['--max-batch-size', String(batching.maxBatchSize)],
    ...['--max-queue-delay-ms', String(batching.maxQueueDelayMs)],
  ];
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELFAB_')));
  return spawnServer(args, /: ready, POST (http:\/\/[^/\s]+)\//, env);
}

/**
 * The HTTP floor: a bare node:http server that reads each body, parses it as JSON and answers a
 * fixed body. What node, loopback TCP and the load generator cost on this machine, without modelfab.
 */
const BARE_SERVER = `
const http = require('node:http');
const answer = Buffer.from(process.env.BENCH_ANSWER, 'base64');
const server = http.createServer({ keepAliveTimeout: 65000 }, (req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(answer.length) });
    res.end(answer);
  });
});
server.listen(0, '127.0.0.1', () => console.error('listening on http://127.0.0.1:' + server.address().port + ' '));
process.on('SIGTERM', () => process.exit(0));
`;

function startBareServer(answer: Buffer): Promise<ServerChild> {
  return spawnServer(['-e', BARE_SERVER], /listening on (http:\/\/\S+) /, {
    ...process.env,
    BENCH_ANSWER: answer.toString('base64'),
  });
}

/** Resident set size of a process, MB, from /proc/<pid>/status. */
function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!kb) throw new Error(`/proc/${pid}/status has no VmRSS line`);
  return Number(kb[1]) / 1024;
}

/** One line of a results table. */
interface Row {
  readonly label: string;
  readonly concurrency: number | undefined;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly serverCpu?: number;
  readonly clientCpu?: number;
  readonly errors?: string;
}

function printTable(title: string, rows: readonly Row[]): void {
  const width = Math.max(...rows.map((r) => r.label.length)) + 2;
  console.log(`\n${title}`);
  console.log(
    `${''.padEnd(width)}${'conc'.padStart(5)}${'rps'.padStart(10)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'server cpu'.padStart(12)}${'client cpu'.padStart(12)}  errors`,
  );
  for (const r of rows) {
    const cores = (c: number | undefined) => (c === undefined ? '' : c.toFixed(2));
    console.log(
      `${r.label.padEnd(width)}${String(r.concurrency ?? '').padStart(5)}${r.rps.toFixed(0).padStart(10)}${r.p50Ms.toFixed(3).padStart(10)}${r.p99Ms.toFixed(3).padStart(10)}${cores(r.serverCpu).padStart(12)}${cores(r.clientCpu).padStart(12)}  ${r.errors ?? ''}`,
    );
  }
}

function errorsOf(failures: Readonly<Record<number, number>>): string {
  const entries = Object.entries(failures);
  return entries.length === 0 ? '0' : entries.map(([status, n]) => `${n}× ${status}`).join(', ');
}

/** A request body and the headers that go with it. */
interface Payload {
  readonly path: string;
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  /** What the body is, for the output. */
  readonly description: string;
  /** Throws unless a 200 body is the answer the request should get. */
  readonly check: (body: Buffer) => void;
}

/** One round of closed-loop load on a server, with the CPU the server used meanwhile. */
async function loadRound(
  server: ServerChild,
  payload: Payload,
  concurrency: number,
): Promise<HttpLoadResult & { serverCpu: number }> {
  const cpuBefore = cpuSeconds(server.pid);
  const started = performance.now();
  const result = await httpClosedLoop({
    url: `${server.url}${payload.path}`,
    body: payload.body,
    headers: payload.headers,
    concurrency,
    durationMs: POINT_SECONDS * 1000,
    warmUpMs: WARM_UP_MS,
  });
  const serverCpu = (cpuSeconds(server.pid) - cpuBefore) / ((performance.now() - started) / 1000);
  if (result.sampleBody) payload.check(result.sampleBody);
  return { ...result, serverCpu };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A server in a comparison: its row label, how to start it and what to send it. */
interface Contender {
  readonly label: string;
  readonly start: () => Promise<ServerChild>;
  readonly payload: Payload;
}

/**
 * Starts every contender, then measures each concurrency in {@link ROUNDS} rounds that take the
 * contenders in turn; returns, per contender, a row per concurrency with the rounds' medians
 * (errors added up).
 */
async function compare(contenders: readonly Contender[]): Promise<Row[][]> {
  const servers: ServerChild[] = [];
  try {
    for (const c of contenders) {
      progress(`starting ${c.label}`);
      servers.push(await c.start());
    }
    const rounds = contenders.map(() =>
      CONCURRENCIES.map(() => [] as Array<HttpLoadResult & { serverCpu: number }>),
    );
    for (const [ci, concurrency] of CONCURRENCIES.entries()) {
      for (let round = 1; round <= ROUNDS; round++) {
        for (const [i, c] of contenders.entries()) {
          progress(`${c.label}, concurrency ${concurrency}, round ${round}/${ROUNDS} (${POINT_SECONDS} s)`);
          rounds[i][ci].push(await loadRound(servers[i], c.payload, concurrency));
        }
      }
    }
    return contenders.map((c, i) =>
      CONCURRENCIES.map((concurrency, ci) => {
        const results = rounds[i][ci];
        const failures: Record<number, number> = {};
        for (const r of results) {
          for (const [status, n] of Object.entries(r.failures))
            failures[Number(status)] = (failures[Number(status)] ?? 0) + n;
        }
        return {
          label: c.label,
          concurrency,
          rps: median(results.map((r) => r.rps)),
          p50Ms: median(results.map((r) => r.p50Ms)),
          p99Ms: median(results.map((r) => r.p99Ms)),
          serverCpu: median(results.map((r) => r.serverCpu)),
          clientCpu: median(results.map((r) => r.clientCpuCores)),
          errors: errorsOf(failures),
        };
      }),
    );
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/**
 * A plain session.run loop in this process, the floor the server adds to: {@link ROUNDS} rounds of
 * {@link POINT_SECONDS}, the rounds' medians.
 */
async function rawSessionRun(
  label: string,
  modelPath: string,
  feeds: Record<string, ort.Tensor>,
  rows: number,
): Promise<Row> {
  progress(`${label} (${ROUNDS} × ${POINT_SECONDS} s)`);
  const session = await ort.InferenceSession.create(
    modelPath,
    sessionOptionsFor({ intraOpThreads: INTRA_OP_THREADS }),
  );
  const warmUpEnd = performance.now() + WARM_UP_MS;
  while (performance.now() < warmUpEnd) await session.run(feeds);
  const rounds: Array<{ rps: number; p50Ms: number; p99Ms: number }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    const latencies: number[] = [];
    const started = performance.now();
    const end = started + POINT_SECONDS * 1000;
    for (;;) {
      const start = performance.now();
      if (start >= end) break;
      await session.run(feeds);
      latencies.push(performance.now() - start);
    }
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    rounds.push({
      rps: (latencies.length * rows) / seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
    });
  }
  await session.release();
  return {
    label,
    concurrency: 1,
    rps: median(rounds.map((r) => r.rps)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
  };
}

function floatTensor(values: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', values, dims);
}

/** One Iris row as an Open Inference Protocol JSON request. */
function irisPayload(): Payload & { row: number[]; label: number } {
  const first = fs.readFileSync(path.join(path.dirname(IRIS), 'eval.jsonl'), 'utf8').split('\n')[0];
  const { inputs, label } = JSON.parse(first) as { inputs: { input: number[] }; label: number };
  const body = Buffer.from(
    JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: inputs.input }] }),
  );
  return {
    path: '/v2/models/iris/infer',
    body,
    headers: { 'Content-Type': 'application/json' },
    description: `json, ${body.length} bytes`,
    row: inputs.input,
    label,
    check: irisLabelCheck(label),
  };
}

/** One row of the medium model as a binary tensor request (binary output too). */
function mediumPayload(name: string, row: Float32Array): Payload {
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: 'x',
          shape: [1, row.length],
          datatype: 'FP32',
          parameters: { binary_data_size: row.byteLength },
        },
      ],
      parameters: { binary_data_output: true },
    }),
  );
  const body = Buffer.concat([header, Buffer.from(row.buffer, row.byteOffset, row.byteLength)]);
  return {
    path: `/v2/models/${name}/infer`,
    body,
    headers: {
      'Content-Type': 'application/octet-stream',
      'Inference-Header-Content-Length': String(header.length),
    },
    description: `binary tensor data, ${body.length} bytes (${header.length} of json header)`,
    check: (answer) => {
      const text = answer.toString('latin1', 0, Math.min(answer.length, 300));
      if (!text.includes(`"binary_data_size":${row.byteLength}`) || answer.length < row.byteLength) {
        throw new Error(`the server's answer is not a binary [1, ${row.length}] tensor: ${text}`);
      }
    },
  };
}

/** The body `modelfab serve` answers to one request, for the bare server to answer alike. */
async function answerOf(modelPath: string, payload: Payload): Promise<Buffer> {
  const server = await startServer(modelPath, UNBATCHED);
  try {
    const response = await fetch(`${server.url}${payload.path}`, {
      method: 'POST',
      headers: payload.headers,
      body: payload.body,
    });
    const body = Buffer.from(await response.arrayBuffer());
    if (response.status !== 200)
      throw new Error(`the server answered ${response.status}: ${body.toString()}`);
    payload.check(body);
    return body;
  } finally {
    await server.stop();
  }
}

async function benchIris(): Promise<number> {
  const payload = irisPayload();
  const raw = await rawSessionRun(
    'raw session.run, in-process',
    IRIS,
    { input: floatTensor(Float32Array.from(payload.row), [1, 4]) },
    1,
  );
  const answer = await answerOf(IRIS, payload);
  const [server, bare] = await compare([
    { label: `server, ${batchingLabel(UNBATCHED)}`, start: () => startServer(IRIS, UNBATCHED), payload },
    {
      label: 'bare node:http, same answer',
      start: () => startBareServer(answer),
      payload: { ...payload, check: () => undefined },
    },
  ]);
  printTable(`iris (tiny: 4 features → 3 classes; request ${payload.description})`, [
    raw,
    ...server,
    ...bare,
  ]);
  const serverUs = server[0].p50Ms * 1000;
  const rawUs = raw.p50Ms * 1000;
  const floorUs = bare[0].p50Ms * 1000;
  const addedUs = serverUs - rawUs;
  const overheadUs = serverUs - (floorUs + rawUs);
  console.log(
    `added per request at concurrency 1: server p50 ${serverUs.toFixed(1)} µs − session.run p50 ${rawUs.toFixed(1)} µs = ${addedUs.toFixed(1)} µs; a bare node:http server answers in ${floorUs.toFixed(1)} µs with the same client`,
  );
  console.log(
    `server overhead at concurrency 1: server p50 ${serverUs.toFixed(1)} µs − (bare node:http p50 ${floorUs.toFixed(1)} µs + session.run p50 ${rawUs.toFixed(1)} µs) = ${overheadUs.toFixed(1)} µs (target ≤ ${TARGETS.overheadUs} µs, i.e. server p50 ≤ ${(floorUs + rawUs + TARGETS.overheadUs).toFixed(1)} µs: ${verdict(overheadUs <= TARGETS.overheadUs)})`,
  );
  return overheadUs;
}

async function benchMedium(modelPath: string): Promise<number> {
  const model = inspectModel(modelPath);
  const n = 512;
  const row = Float32Array.from({ length: n }, (_, i) => Math.sin(i) / 2);
  const batch = new Float32Array(n * RAW_BATCH_ROWS);
  for (let r = 0; r < RAW_BATCH_ROWS; r++) batch.set(row, r * n);
  const raw = await rawSessionRun(
    'raw session.run, 1 row, in-process',
    modelPath,
    { x: floatTensor(row, [1, n]) },
    1,
  );
  const rawBatch = await rawSessionRun(
    `raw session.run, one ${RAW_BATCH_ROWS}-row batch (rows/s)`,
    modelPath,
    { x: floatTensor(batch, [RAW_BATCH_ROWS, n]) },
    RAW_BATCH_ROWS,
  );
  const name = path.basename(modelPath, '.onnx');
  const payload = mediumPayload(name, row);
  const [unbatched, batched] = await compare(
    [UNBATCHED, BATCHED].map((batching) => ({
      label: `server, ${batchingLabel(batching)}`,
      start: () => startServer(modelPath, batching),
      payload,
    })),
  );
  printTable(
    `medium (8 chained 512×512 MatMuls, ${(model.parameterCount / 1e6).toFixed(2)} M parameters, 2.1 M multiply-adds per row; request ${payload.description})`,
    [{ ...rawBatch, concurrency: undefined }, raw, ...unbatched, ...batched],
  );
  const at64 = (rows: Row[]) => rows[rows.length - 1].rps;
  const ratio = at64(batched) / at64(unbatched);
  console.log(
    `batched ÷ unbatched at concurrency 64: ${at64(batched).toFixed(0)} ÷ ${at64(unbatched).toFixed(0)} rps = ${ratio.toFixed(2)}× (target ≥ ${TARGETS.batchedRatio}×: ${verdict(ratio >= TARGETS.batchedRatio)}); the raw ${RAW_BATCH_ROWS}-row batch reaches ${rawBatch.rps.toFixed(0)} rows/s`,
  );
  return ratio;
}

/** Least-squares slope of y over x. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function soak(modelPath: string): Promise<number> {
  const name = path.basename(modelPath, '.onnx');
  const payload = mediumPayload(
    name,
    Float32Array.from({ length: 512 }, (_, i) => Math.cos(i) / 2),
  );
  const concurrency = 64;
  const warmUpSeconds = Math.min(60, SOAK_SECONDS / 3);
  const intervalSeconds = Math.max(1, Math.min(5, SOAK_SECONDS / 60));
  progress(
    `soak: ${SOAK_SECONDS} s on the medium model, ${batchingLabel(BATCHED)}, concurrency ${concurrency}; RSS every ${intervalSeconds} s`,
  );
  const server = await startServer(modelPath, BATCHED);
  const samples: Array<{ minutes: number; mb: number }> = [];
  const started = performance.now();
  const sample = () =>
    samples.push({ minutes: (performance.now() - started) / 60_000, mb: rssMb(server.pid) });
  sample();
  const timer = setInterval(() => {
    sample();
    const last = samples[samples.length - 1];
    if (samples.length % Math.round(60 / intervalSeconds) === 0) {
      progress(`soak: ${(last.minutes * 60).toFixed(0)} s, RSS ${last.mb.toFixed(1)} MB`);
    }
  }, intervalSeconds * 1000);
  let result: HttpLoadResult;
  try {
    result = await httpClosedLoop({
      url: `${server.url}${payload.path}`,
      body: payload.body,
      headers: payload.headers,
      concurrency,
      durationMs: SOAK_SECONDS * 1000,
      warmUpMs: 0,
    });
    sample();
  } finally {
    clearInterval(timer);
    await server.stop();
  }
  const after = samples.filter((s) => s.minutes >= warmUpSeconds / 60);
  const growth = slope(
    after.map((s) => s.minutes),
    after.map((s) => s.mb),
  );
  const at = (minutes: number) =>
    samples.reduce((best, s) =>
      Math.abs(s.minutes - minutes) < Math.abs(best.minutes - minutes) ? s : best,
    );
  const byMinute = Array.from({ length: Math.floor(SOAK_SECONDS / 60) + 1 }, (_, m) => at(m))
    .map((s) => `${(s.minutes * 60).toFixed(0)} s ${s.mb.toFixed(1)}`)
    .join(', ');
  const max = Math.max(...samples.map((s) => s.mb));
  console.log(
    `\nsoak: the medium model, ${batchingLabel(BATCHED)}, concurrency ${concurrency}, ${SOAK_SECONDS} s: ${result.requests} requests (${result.rps.toFixed(0)} rps, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms), errors ${errorsOf(result.failures)}`,
  );
  console.log(
    `server RSS (MB, from /proc/<pid>/status every ${intervalSeconds} s): start ${samples[0].mb.toFixed(1)}, after the ${warmUpSeconds.toFixed(0)} s warm-up ${after[0]?.mb.toFixed(1)}, end ${samples[samples.length - 1].mb.toFixed(1)}, max ${max.toFixed(1)}; by minute: ${byMinute}`,
  );
  console.log(
    `RSS growth after the warm-up: ${growth.toFixed(3)} MB/min (linear fit over ${after.length} samples) (target ≤ ${TARGETS.rssMbPerMin} MB/min: ${verdict(growth <= TARGETS.rssMbPerMin)})`,
  );
  return growth;
}

export async function benchServer(): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-bench-server-'));
  try {
    const medium = chainedMatMulModel(scratch, 8, 512);
    const cores = os.cpus().length;
    console.log(
      `server benchmark (node ${process.version}, ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${cores} cores shared by the load generator (this process) and the server (a 'modelfab serve' child process: 1 worker, ${INTRA_OP_THREADS} intra-op thread); the in-process session.run baselines use ${INTRA_OP_THREADS} intra-op thread; ${POINT_SECONDS} s per round after a ${WARM_UP_MS / 1000} s warm-up, median of ${ROUNDS} rounds alternating between the servers compared; latency is the client's view over loopback TCP; cpu in cores)`,
    );
    const overheadUs = await benchIris();
    const ratio = await benchMedium(medium);
    const growth = await soak(medium);
    console.log(
      `\ntargets: server overhead at concurrency 1 ${overheadUs.toFixed(1)} µs (≤ ${TARGETS.overheadUs}: ${verdict(overheadUs <= TARGETS.overheadUs)}), batched ${ratio.toFixed(2)}× unbatched (≥ ${TARGETS.batchedRatio}: ${verdict(ratio >= TARGETS.batchedRatio)}), RSS growth ${growth.toFixed(3)} MB/min (≤ ${TARGETS.rssMbPerMin}: ${verdict(growth <= TARGETS.rssMbPerMin)})`,
    );
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
