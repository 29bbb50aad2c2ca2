/**
 * The inference server past its capacity, with open-loop load (test/perf/open-loop-load.ts):
 * - its peak goodput: a closed-loop sweep of concurrency 1..128 (test/perf/http-load.ts) on the
 *   Iris model, the most 200s per second with p99 ≤ {@link PEAK_P99_MS} ms;
 * - Poisson arrivals at 1×, 2× and 4× that peak, with `--max-queue-size 64`: goodput (target
 *   ≥ 90% of peak at 2×, ≥ 80% at 4×), 429s (with Retry-After), latency of the 200s from their
 *   scheduled arrival, and /v2/health/ready probed every 100 ms meanwhile (target p99 ≤ 50 ms);
 * - big requests: 4 at a time, each a JSON Iris batch of the default body limit, while the
 *   readiness probe runs (target p99 ≤ 50 ms), with the server's peak RSS;
 * - the liveness restarts a kubelet would have made over the whole run (target 0), from
 *   /v2/health/live probed every second with the rendered probe's 3 s timeout and 3 failures.
 *
 * Pinning: the server (a `modelfab serve` child process, 1 worker) runs on the first CPU this
 * process may use (`taskset -c`); this process, which generates the load, is moved with all its
 * threads to the second (`taskset -a -p -c`), and put back at the end; the probes run in a child
 * process on that second CPU too, so a busy load generator does not delay them. With fewer than
 * two CPUs nothing is pinned, which the output says.
 *
 * Figures go to stdout, progress to stderr. Benchmarks print met/MISSED; they do not fail.
 *
 * Environment: MODELFAB_BENCH_POINT_SECONDS (the measured time of each open-loop point, default 10).
 */
import { type ChildProcess, execFileSync, spawn, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { percentile } from '../../lib/gate';
import {
  cpuSeconds,
  mainThreadCpuSeconds,
  positiveEnv,
  progressFor,
  verdict,
  irisLabelCheck,
} from './bench-support';
import { SERVER_DEFAULTS } from '../../lib/core';
import { chainedMatMulModel } from '../support/gate-fixtures';
import { slowModel, writeModel } from '../support/runtime-fixtures';
import {
  epochNow,
  livenessRestarts,
  type ProbeProcess,
  type ProbeSample,
  type ProbeSummary,
  startProbeProcess,
  summarizeProbes,
} from './health-probe';
import {
  encodeHttpRequest,
  hostAndPort,
  type RawAnswer,
  RawHttpConnection,
} from '../../lib/gate/http-client';
import { httpClosedLoop } from './http-load';
import { httpOpenLoop, type OpenLoopResult } from './open-loop-load';

const ROOT = path.resolve(__dirname, '../..');
const CLI = path.join(ROOT, 'lib', 'cli', 'main.ts');
const IRIS = path.join(ROOT, 'examples', 'iris', 'model', 'iris.onnx');
const INFER_PATH = '/v2/models/iris/infer';
/** The compute-bound scenario's model: x [batch, 512] through this many chained 512×512 MatMuls (about 1 ms a row). */
const MATMUL_LAYERS = 48;
const MATMUL_WIDTH = 512;

const POINT_SECONDS = positiveEnv('MODELFAB_BENCH_POINT_SECONDS', 10, 'a positive number of seconds');
const WARM_UP_MS = 1000;
/** The closed-loop sweep that finds the peak: concurrencies, seconds each (after a warm-up). */
const PEAK_CONCURRENCIES = [1, 2, 4, 8, 16, 32, 64, 128] as const;
const PEAK_POINT_SECONDS = 2;
const PEAK_WARM_UP_MS = 500;
/** The peak is the most 200s per second at a point whose p99 is at most this. */
const PEAK_P99_MS = 100;
const LOAD_MULTIPLES = [1, 2, 4] as const;
const MAX_CONNECTIONS = 512;
/** Pause between points, for the server to answer what the last one left. */
const SETTLE_MS = 1000;
/** Big requests: how many at a time, and for how long new ones are started. */
const BIG_CONCURRENCY = 4;
const BIG_SECONDS = 10;
/** A big request still unanswered this long after the last one was started is given up. */
const BIG_GIVE_UP_MS = 60_000;
const SERVER_FLAGS = ['--port', '0', '--metrics-port', '0', '--max-queue-size', '64', '--workers', '1'];
/** The refusal-cost phase: closed-loop connections, and seconds measured. */
const REFUSAL_CONCURRENCY = 64;
const REFUSAL_SECONDS = 3;
/** The readiness probe as the benchmark runs it, and the rendered liveness probe's settings. */
const READY_PROBE = { path: '/v2/health/ready', intervalMs: 100, timeoutMs: 1000 } as const;
const LIVE_PROBE = {
  path: '/v2/health/live',
  intervalMs: 1000,
  timeoutMs: 3000,
  failureThreshold: 3,
} as const;

const TARGETS = { goodputAt2x: 0.9, goodputAt4x: 0.8, healthP99Ms: 50, livenessRestarts: 0 } as const;

const progress = progressFor('overload');

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// CPUs and processes

/** The CPUs a process may run on, from `taskset -p -c`. */
function affinityOf(pid: number): number[] {
  const out = execFileSync('taskset', ['-p', '-c', String(pid)], { encoding: 'utf8' });
  const list = /:\s*([\d,-]+)\s*$/.exec(out.trim());
  if (!list) throw new Error(`cannot read the affinity of ${pid} from taskset: ${out}`);
  return list[1].split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number);
    return to === undefined ? [from] : Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/** Moves every thread of a process to these CPUs. */
function pin(pid: number, cpus: readonly number[]): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus.join(','), String(pid)], { stdio: 'ignore' });
}

/** A memory line of /proc/<pid>/status (VmRSS, VmHWM), MB. */
function procMemoryMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  if (!kb) throw new Error(`/proc/${pid}/status has no ${field} line`);
  return Number(kb[1]) / 1024;
}

/** A `modelfab serve` child process, ready to answer. */
interface ServerChild {
  /** `http://127.0.0.1:port`. */
  readonly url: string;
  readonly pid: number;
  /** What the server said when ready (workers, threads). */
  readonly readyLine: string;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/** `modelfab serve` on a model (Iris by default) from sources, on free ports, on `cpu` when given. */
async function startServer(
  cpu: number | undefined,
  model: string = IRIS,
  flags: readonly string[] = SERVER_FLAGS,
): Promise<ServerChild> {
  return startProcess(cpu, [
    '--import',
    pathToFileURL(require.resolve('tsx')).href,
    CLI,
    'serve',
    model,
    ...flags,
  ]);
}

/** A node process with these arguments, ready once its stderr says `: ready, POST http://…`. */
async function startProcess(cpu: number | undefined, nodeArgs: readonly string[]): Promise<ServerChild> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MODELFAB_')));
  const devNull = fs.openSync('/dev/null', 'w');
  const options: SpawnOptions = { cwd: ROOT, env, stdio: ['ignore', devNull, 'pipe'] };
  const child: ChildProcess =
    cpu === undefined
      ? spawn(process.execPath, nodeArgs, options)
      : spawn('taskset', ['-c', String(cpu), process.execPath, ...nodeArgs], options);
  fs.closeSync(devNull);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  const ready = await new Promise<RegExpExecArray>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      const line = /: ready, POST (http:\/\/[^/\s]+)\/.*$/m.exec(stderr);
      if (line) resolve(line);
    });
    void exited.then(() =>
      reject(new Error(`the server exited with ${child.exitCode} before it was ready: ${stderr}`)),
    );
  });
  return {
    url: ready[1],
    pid: child.pid!,
    readyLine: ready[0].replace(/^: /, ''),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** The readiness and liveness probers of a server, in their own process. */
function startProbes(server: ServerChild, cpu: number | undefined): Promise<ProbeProcess> {
  return startProbeProcess(
    [
      { name: 'ready', url: `${server.url}${READY_PROBE.path}`, ...READY_PROBE },
      { name: 'live', url: `${server.url}${LIVE_PROBE.path}`, ...LIVE_PROBE },
    ],
    cpu === undefined ? undefined : String(cpu),
  );
}

/**
 * node:http and nothing else, answering every request with the server's 429 for a full queue
 * (the same status, headers and bytes): the floor a refusal cannot go below in node.
 */
const BARE_429_SERVER = `
const http = require('node:http');
const body = JSON.stringify({ error: 'the inference queue is full (1 requests waiting); retry later or add capacity' });
const server = http.createServer((req, res) => {
  res.writeHead(429, ['Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(body)), 'Retry-After', '1']);
  res.end(body);
});
server.listen(0, '127.0.0.1', () => process.stderr.write(': ready, POST http://127.0.0.1:' + server.address().port + '/\\n'));
`;

/** The bare node:http 429 server, on `cpu` when given. */
async function startBare429Server(cpu: number | undefined): Promise<ServerChild> {
  return startProcess(cpu, ['-e', BARE_429_SERVER]);
}

// ---------------------------------------------------------------------------------------------
// Requests

/** The Iris evaluation rows. */
function irisRows(): { input: number[]; label: number }[] {
  return fs
    .readFileSync(path.join(path.dirname(IRIS), 'eval.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const { inputs, label } = JSON.parse(line) as { inputs: { input: number[] }; label: number };
      return { input: inputs.input, label };
    });
}

/** A model the overload points run on: its request, and a check of its answer. */
interface Scenario {
  readonly name: string;
  /** Why this model: what dominates its cost. */
  readonly about: string;
  readonly model: string;
  readonly inferPath: string;
  readonly body: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
  readonly check: (answer: Buffer) => void;
}

/** What one scenario measured. */
interface ScenarioOutcome {
  readonly scenario: Scenario;
  readonly peak: number;
  readonly points: readonly Point[];
}

function irisScenario(): Scenario {
  return {
    name: 'iris',
    about:
      'the Iris model: microseconds of inference, so HTTP and JSON are nearly all of a request, and a refusal costs a large share of a served request',
    model: IRIS,
    inferPath: INFER_PATH,
    ...irisRequest(),
  };
}

/** A compute-bound model (about 1 ms of inference a row), one row as binary tensor data. */
function matmulScenario(dir: string): Scenario {
  const model = chainedMatMulModel(dir, MATMUL_LAYERS, MATMUL_WIDTH);
  const name = path.basename(model, '.onnx');
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: 'x',
          shape: [1, MATMUL_WIDTH],
          datatype: 'FP32',
          parameters: { binary_data_size: 4 * MATMUL_WIDTH },
        },
      ],
      outputs: [{ name: 'y', parameters: { binary_data: true } }],
    }),
  );
  const x = new Float32Array(MATMUL_WIDTH).map((_, i) => ((i % 13) - 6) / 6);
  return {
    name,
    about: `${MATMUL_LAYERS} chained ${MATMUL_WIDTH}×${MATMUL_WIDTH} MatMuls, one row as binary tensor data: inference is most of a request, as for most real models`,
    model,
    inferPath: `/v2/models/${name}/infer`,
    body: Buffer.concat([header, Buffer.from(x.buffer)]),
    headers: {
      'Content-Type': 'application/octet-stream',
      'Inference-Header-Content-Length': String(header.length),
    },
    check: (answer) => {
      if (answer.length < 4 * MATMUL_WIDTH) {
        throw new Error(
          `the server answered ${answer.length} bytes, fewer than the ${4 * MATMUL_WIDTH} of y`,
        );
      }
    },
  };
}

/** One Iris row as a JSON request, and a check of the answer. */
function irisRequest(): { body: Buffer; check: (answer: Buffer) => void } {
  const { input, label } = irisRows()[0];
  const body = Buffer.from(
    JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: input }] }),
  );
  return {
    body,
    check: irisLabelCheck(label),
  };
}

/**
 * A JSON request of exactly `bytes` bytes: as many Iris rows (the evaluation rows, cycled) as fit
 * in one [N, 4] tensor, padded with JSON whitespace to the byte.
 */
function bigIrisRequest(bytes: number): { body: Buffer; rows: number } {
  const rows = irisRows().map((r) => r.input.map((v) => JSON.stringify(v)).join(','));
  const head = (n: number) => `{"inputs":[{"name":"input","shape":[${n},4],"datatype":"FP32","data":[`;
  const tail = ']}]}';
  const budget = bytes - head(99_999_999).length - tail.length;
  const cycle = `${rows.join(',')},`;
  const cycles = Math.floor(budget / cycle.length);
  let n = cycles * rows.length;
  let data = cycle.repeat(cycles);
  for (const row of rows) {
    if (data.length + row.length + 1 > budget) break;
    data += `${row},`;
    n++;
  }
  const json = `${head(n)}${data.slice(0, -1)}${tail}`;
  const body = Buffer.alloc(bytes, ' ');
  body.write(json.slice(0, -1), 0, 'latin1');
  body.write('}', bytes - 1, 'latin1');
  return { body, rows: n };
}

// ---------------------------------------------------------------------------------------------
// Output

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function statusesText(statuses: Readonly<Record<number, number>>): string {
  const entries = Object.entries(statuses);
  return entries.length === 0 ? 'none' : entries.map(([status, n]) => `${n}× ${status}`).join(', ');
}

function healthText(h: ProbeSummary): string {
  const failures = h.failures === 0 ? '' : `, ${h.failures} failed (${h.timeouts} timed out)`;
  const skipped = h.skipped === 0 ? '' : `, ${h.skipped} ticks skipped behind a slow probe`;
  return `${h.probes} probes, p50 ${fixed(h.p50Ms, 2)} ms, p99 ${fixed(h.p99Ms, 2)} ms, max ${fixed(h.maxMs, 2)} ms${failures}${skipped}`;
}

interface Point {
  readonly multiple: number;
  readonly load: OpenLoopResult;
  readonly health: ProbeSummary;
  readonly serverCpu: number;
}

function printPoints(peak: number, points: readonly Point[]): void {
  const columns: Array<[string, number, (p: Point) => string]> = [
    ['load', 6, (p) => `${p.multiple}×`],
    ['offered rps', 12, (p) => fixed(p.load.offeredRps, 0)],
    ['goodput rps', 12, (p) => fixed(p.load.goodputRps, 0)],
    ['% of peak', 10, (p) => fixed((100 * p.load.goodputRps) / peak, 1)],
    ['429/s', 8, (p) => fixed((p.load.statuses[429] ?? 0) / (p.load.windowMs / 1000), 0)],
    [
      'other non-200',
      14,
      (p) =>
        String(
          Object.entries(p.load.statuses)
            .filter(([s]) => s !== '200' && s !== '429')
            .reduce((n, [, count]) => n + count, 0),
        ),
    ],
    ['p50 ms', 9, (p) => fixed(p.load.p50Ms, 2)],
    ['p99 ms', 9, (p) => fixed(p.load.p99Ms, 2)],
    ['health p50', 11, (p) => fixed(p.health.p50Ms, 2)],
    ['health p99', 11, (p) => fixed(p.health.p99Ms, 2)],
    ['health max', 11, (p) => fixed(p.health.maxMs, 2)],
    ['server cpu', 11, (p) => fixed(p.serverCpu, 2)],
    ['client cpu', 11, (p) => fixed(p.load.clientCpuCores, 2)],
  ];
  console.log(columns.map(([title, width]) => title.padStart(width)).join(''));
  for (const p of points) console.log(columns.map(([, width, cell]) => cell(p).padStart(width)).join(''));
  for (const p of points) {
    const l = p.load;
    const n429 = l.statuses[429] ?? 0;
    console.log(
      `  ${p.multiple}×: statuses ${statusesText(l.statuses)}; ${n429 === 0 ? 'no 429s' : `${l.retryAfter429}/${n429} 429s with Retry-After`}; 200 max ${fixed(l.maxMs, 1)} ms; send lag p99 ${fixed(l.sendLagP99Ms, 2)} ms; ${l.peakConnections} connections at most, ${l.peakWaiting} arrivals waiting for one at most; ${l.pendingAtEnd} unanswered at the end; health: ${healthText(p.health)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Phases

/** The closed-loop sweep: the most 200s per second with p99 ≤ PEAK_P99_MS. */
async function findPeak(server: ServerChild, scenario: Scenario): Promise<number> {
  const { body, headers, check } = scenario;
  console.log(
    `\npeak goodput: closed loop, concurrency ${PEAK_CONCURRENCIES.join(', ')}, ${PEAK_POINT_SECONDS} s each after ${PEAK_WARM_UP_MS / 1000} s; the peak is the most 200/s with p99 ≤ ${PEAK_P99_MS} ms`,
  );
  console.log(
    `${'conc'.padStart(6)}${'200/s'.padStart(10)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'client cpu'.padStart(12)}  non-200`,
  );
  let peak = 0;
  let peakAt = 0;
  for (const concurrency of PEAK_CONCURRENCIES) {
    progress(`peak sweep: concurrency ${concurrency} (${PEAK_POINT_SECONDS} s)`);
    const r = await httpClosedLoop({
      url: `${server.url}${scenario.inferPath}`,
      body,
      headers,
      concurrency,
      durationMs: PEAK_POINT_SECONDS * 1000,
      warmUpMs: PEAK_WARM_UP_MS,
    });
    if (r.sampleBody) check(r.sampleBody);
    console.log(
      `${String(concurrency).padStart(6)}${fixed(r.rps, 0).padStart(10)}${fixed(r.p50Ms, 2).padStart(9)}${fixed(r.p99Ms, 2).padStart(9)}${fixed(r.clientCpuCores, 2).padStart(12)}  ${statusesText(r.failures)}`,
    );
    if (r.p99Ms <= PEAK_P99_MS && r.rps > peak) {
      peak = r.rps;
      peakAt = concurrency;
    }
  }
  if (peak === 0)
    throw new Error(`no concurrency reached a p99 ≤ ${PEAK_P99_MS} ms; the server is not answering`);
  console.log(`peak goodput: ${peak.toFixed(0)} rps (at concurrency ${peakAt})`);
  return peak;
}

async function openLoopPoint(
  server: ServerChild,
  probes: ProbeProcess,
  scenario: Scenario,
  multiple: number,
  peak: number,
): Promise<Point> {
  const { body, headers, check } = scenario;
  const rate = peak * multiple;
  progress(
    `open loop at ${multiple}× peak, ${rate.toFixed(0)} rps (${WARM_UP_MS / 1000} + ${POINT_SECONDS} s)`,
  );
  const started = epochNow();
  const cpuBefore = cpuSeconds(server.pid);
  const load = await httpOpenLoop({
    url: `${server.url}${scenario.inferPath}`,
    body,
    headers,
    rate,
    durationMs: POINT_SECONDS * 1000,
    warmUpMs: WARM_UP_MS,
    maxConnections: MAX_CONNECTIONS,
    seed: multiple,
  });
  const ended = epochNow();
  const serverCpu = (cpuSeconds(server.pid) - cpuBefore) / ((ended - started) / 1000);
  if (load.sampleBody) check(load.sampleBody);
  const health = summarizeProbes(probes.samples('ready', started + WARM_UP_MS, ended));
  await sleep(SETTLE_MS);
  return { multiple, load, health, serverCpu };
}

interface BigOutcome {
  readonly statuses: Record<number, number>;
  readonly latenciesMs: number[];
  readonly answerBytes: number[];
  unanswered: number;
}

/** BIG_CONCURRENCY loops, each sending the big request again as soon as it is answered, for BIG_SECONDS. */
async function bigRequests(server: ServerChild, body: Buffer): Promise<BigOutcome> {
  const request = encodeHttpRequest({ url: `${server.url}${INFER_PATH}`, body });
  const { host, port } = hostAndPort(server.url);
  const outcome: BigOutcome = { statuses: {}, latenciesMs: [], answerBytes: [], unanswered: 0 };
  const connections = Array.from({ length: BIG_CONCURRENCY }, () => new RawHttpConnection(host, port));
  const deadline = performance.now() + BIG_SECONDS * 1000;
  let giveUp: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<void>((resolve) => {
    giveUp = setTimeout(resolve, BIG_SECONDS * 1000 + BIG_GIVE_UP_MS);
  });
  const loop = async (connection: RawHttpConnection): Promise<void> => {
    while (performance.now() < deadline) {
      const sent = performance.now();
      const answer = await Promise.race([
        new Promise<RawAnswer>((resolve) => connection.send(request, resolve)),
        gaveUp.then(() => undefined),
      ]);
      if (!answer) {
        outcome.unanswered++;
        return;
      }
      outcome.statuses[answer.status] = (outcome.statuses[answer.status] ?? 0) + 1;
      outcome.latenciesMs.push(performance.now() - sent);
      outcome.answerBytes.push(answer.bytes);
    }
  };
  try {
    await Promise.all(connections.map(loop));
  } finally {
    clearTimeout(giveUp);
    for (const connection of connections) connection.close();
  }
  return outcome;
}

// ---------------------------------------------------------------------------------------------

/** Closed-loop answers per second and this process's CPU per answer, from `pid`'s main thread. */
async function answersAndCpu(
  url: string,
  body: Buffer,
  pid: number,
): Promise<{ answersPerSecond: number; cpuUsPerAnswer: number; statuses: string }> {
  const options = { url, body, concurrency: REFUSAL_CONCURRENCY, warmUpMs: 0 };
  await httpClosedLoop({ ...options, durationMs: PEAK_WARM_UP_MS });
  const before = mainThreadCpuSeconds(pid);
  const r = await httpClosedLoop({ ...options, durationMs: REFUSAL_SECONDS * 1000 });
  const cpu = mainThreadCpuSeconds(pid) - before;
  const answers = r.requests + Object.values(r.failures).reduce((n, c) => n + c, 0);
  return {
    answersPerSecond: answers / (r.windowMs / 1000),
    cpuUsPerAnswer: (cpu * 1e6) / answers,
    statuses: `${r.requests ? `${r.requests}× 200, ` : ''}${statusesText(r.failures)}`,
  };
}

/**
 * What a refusal costs the server's main thread, beside node:http's floor for the same answer: a
 * server whose queue (size 1) is held full by two long requests, and a bare node:http server that
 * answers the same 429, each loaded in closed loop with one small JSON request.
 */
async function refusalCost(dir: string, cpu: number | undefined): Promise<void> {
  const slow = writeModel(dir, 'slow', slowModel(4000));
  const { body } = irisRequest();
  const bare = await startBare429Server(cpu);
  let floor: Awaited<ReturnType<typeof answersAndCpu>>;
  try {
    progress('refusal cost: bare node:http');
    floor = await answersAndCpu(bare.url, body, bare.pid);
  } finally {
    await bare.stop();
  }
  const server = await startServer(cpu, slow, [
    '--port',
    '0',
    '--metrics-port',
    '0',
    '--max-queue-size',
    '1',
  ]);
  let ours: Awaited<ReturnType<typeof answersAndCpu>>;
  try {
    const hold = Buffer.concat([
      Buffer.from(
        JSON.stringify({
          inputs: [
            { name: 'x', shape: [512, 512], datatype: 'FP32', parameters: { binary_data_size: 512 * 2048 } },
          ],
        }),
      ),
    ]);
    const headerLength = hold.length;
    const holdBody = Buffer.concat([hold, Buffer.alloc(512 * 2048)]);
    const holding = [0, 1].map(async (i) => {
      await sleep(i * 300);
      await fetch(`${server.url}/v2/models/slow/infer`, {
        method: 'POST',
        body: holdBody,
        headers: { 'Inference-Header-Content-Length': String(headerLength) },
      }).then((r) => r.arrayBuffer());
    });
    await sleep(600);
    progress('refusal cost: modelfab serve with its queue held full');
    ours = await answersAndCpu(`${server.url}/v2/models/slow/infer`, body, server.pid);
    await Promise.all(holding);
  } finally {
    await server.stop();
  }
  console.log(
    `\nrefusal cost: closed loop, ${REFUSAL_CONCURRENCY} connections, ${REFUSAL_SECONDS} s, one small JSON request; the server's main-thread cpu per answer (its inference worker is busy with the two requests that hold the queue full)`,
  );
  console.log(
    `  modelfab serve, queue full:      ${fixed(ours.cpuUsPerAnswer, 1)} µs per 429 (${fixed(ours.answersPerSecond, 0)} answers/s: ${ours.statuses})`,
  );
  console.log(
    `  bare node:http, the same 429:    ${fixed(floor.cpuUsPerAnswer, 1)} µs per answer (${fixed(floor.answersPerSecond, 0)} answers/s: ${floor.statuses})`,
  );
  console.log(`  ratio: ${fixed(ours.cpuUsPerAnswer / floor.cpuUsPerAnswer, 2)}× the floor`);
}

export async function benchOverload(): Promise<void> {
  const original = affinityOf(process.pid);
  const pinned = original.length >= 2;
  const serverCpu = pinned ? original[0] : undefined;
  const clientCpu = pinned ? original[1] : undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-overload-'));
  const servers: ServerChild[] = [];
  const probeProcesses: ProbeProcess[] = [];
  const liveSamples: ProbeSample[][] = [];
  const stopAll = async (): Promise<void> => {
    for (const probes of probeProcesses.splice(0)) {
      liveSamples.push(probes.samples('live'));
      await probes.stop();
    }
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  };
  try {
    if (pinned) pin(process.pid, [clientCpu!]);
    const placement = pinned
      ? `the server on cpu ${serverCpu} (taskset -c ${serverCpu}), the load generator (this process, moved with taskset -a -p -c ${clientCpu}) and the probes (a child process) on cpu ${clientCpu}`
      : `nothing pinned (this process may use ${original.length} cpu): the server, the load generator and the probes share it`;
    console.log(
      `overload benchmark (node ${process.version}, ${os.cpus()[0]?.model.trim() ?? 'cpu'}; ${placement}; server: modelfab serve MODEL ${SERVER_FLAGS.join(' ')}; cpu in cores)`,
    );

    await refusalCost(dir, serverCpu);

    const outcomes: ScenarioOutcome[] = [];
    for (const scenario of [irisScenario(), matmulScenario(dir)]) {
      progress(`${scenario.name}: starting the server`);
      const server = await startServer(serverCpu, scenario.model);
      servers.push(server);
      console.log(`\n== ${scenario.name}: ${scenario.about}`);
      console.log(`server: ${server.readyLine}`);
      const probes = await startProbes(server, clientCpu);
      probeProcesses.push(probes);
      const peak = await findPeak(server, scenario);
      await sleep(SETTLE_MS);
      const points: Point[] = [];
      for (const multiple of LOAD_MULTIPLES) {
        points.push(await openLoopPoint(server, probes, scenario, multiple, peak));
      }
      console.log(
        `\nopen loop (Poisson arrivals, seeded), ${POINT_SECONDS} s per point after ${WARM_UP_MS / 1000} s, up to ${MAX_CONNECTIONS} keep-alive connections (arrivals beyond wait in the client, their clock running); latency of the 200s from the scheduled arrival; health: GET ${READY_PROBE.path} every ${READY_PROBE.intervalMs} ms (timeout ${READY_PROBE.timeoutMs} ms counted as its latency); peak ${peak.toFixed(0)} rps`,
      );
      printPoints(peak, points);
      const saturated = points.filter((p) => p.load.clientCpuCores >= 0.9);
      if (saturated.length > 0) {
        console.log(
          `note: the load generator used ≥ 0.9 of its core at ${saturated.map((p) => `${p.multiple}× (${p.load.offeredRps.toFixed(0)} rps offered, ${p.load.clientCpuCores.toFixed(2)} cores)`).join(', ')}: there the figures are partly the client's limit`,
        );
      }
      outcomes.push({ scenario, peak, points });
      await stopAll();
      await sleep(SETTLE_MS);
    }

    progress('big requests: starting a fresh server');
    const maxBody = SERVER_DEFAULTS.maxBodyBytes;
    const built = performance.now();
    const big = bigIrisRequest(maxBody);
    const buildMs = performance.now() - built;
    const bigServer = await startServer(serverCpu);
    servers.push(bigServer);
    const bigProbes = await startProbes(bigServer, clientCpu);
    probeProcesses.push(bigProbes);
    const rssBefore = procMemoryMb(bigServer.pid, 'VmRSS');
    let rssMax = rssBefore;
    const rssTimer = setInterval(() => {
      rssMax = Math.max(rssMax, procMemoryMb(bigServer.pid, 'VmRSS'));
    }, 100);
    progress(
      `big requests: ${BIG_CONCURRENCY} at a time for ${BIG_SECONDS} s, ${big.body.length} bytes each (${big.rows} rows)`,
    );
    const bigStarted = epochNow();
    let outcome: BigOutcome;
    let hwm: number;
    try {
      outcome = await bigRequests(bigServer, big.body);
      hwm = procMemoryMb(bigServer.pid, 'VmHWM');
    } finally {
      clearInterval(rssTimer);
    }
    const bigHealth = summarizeProbes(bigProbes.samples('ready', bigStarted, epochNow()));
    const latencies = [...outcome.latenciesMs].sort((a, b) => a - b);
    console.log(
      `\nbig requests: ${BIG_CONCURRENCY} at a time for ${BIG_SECONDS} s (a new one as each is answered), each a JSON [${big.rows}, 4] Iris batch of ${big.body.length} bytes = the default body limit SERVER_DEFAULTS.maxBodyBytes (${(maxBody / 2 ** 20).toFixed(0)} MiB; built in ${buildMs.toFixed(0)} ms), every output asked for; on a fresh server`,
    );
    console.log(
      `  answers: ${statusesText(outcome.statuses)}${outcome.unanswered ? `, ${outcome.unanswered} unanswered after ${BIG_GIVE_UP_MS / 1000} s` : ''}; latency ${latencies.length ? `min ${(latencies[0] / 1000).toFixed(2)} s, p50 ${(percentile(latencies, 50) / 1000).toFixed(2)} s, max ${(latencies[latencies.length - 1] / 1000).toFixed(2)} s` : '-'}; answer size ${outcome.answerBytes.length ? `${(Math.max(...outcome.answerBytes) / 2 ** 20).toFixed(1)} MiB` : '-'}`,
    );
    console.log(
      `  server RSS: ${rssBefore.toFixed(0)} MB before, ${rssMax.toFixed(0)} MB at most (VmRSS every 100 ms), peak VmHWM ${hwm.toFixed(0)} MB`,
    );
    console.log(
      `  health (GET ${READY_PROBE.path} every ${READY_PROBE.intervalMs} ms): ${healthText(bigHealth)} (target p99 ≤ ${TARGETS.healthP99Ms} ms: ${verdict(bigHealth.p99Ms <= TARGETS.healthP99Ms)})`,
    );

    await stopAll();
    const live = liveSamples.flat();
    const restarts = liveSamples.reduce((n, s) => n + livenessRestarts(s, LIVE_PROBE.failureThreshold), 0);
    const liveFailures = live.filter((s) => !s.ok).length;
    console.log(
      `\nliveness: GET ${LIVE_PROBE.path} every ${LIVE_PROBE.intervalMs / 1000} s with a ${LIVE_PROBE.timeoutMs / 1000} s timeout over the whole run (${live.length} probes, ${liveFailures} failed, max ${fixed(Math.max(...live.map((s) => s.ms)), 1)} ms): ${restarts} restarts at failureThreshold ${LIVE_PROBE.failureThreshold} (the rendered probe: every 10 s, timeout 3 s; probing every second is stricter)`,
    );
    console.log('\ntargets:');
    for (const { scenario, peak, points } of outcomes) {
      const at = (multiple: number) => points.find((p) => p.multiple === multiple)!;
      const goodput2 = at(2).load.goodputRps / peak;
      const goodput4 = at(4).load.goodputRps / peak;
      const healthWorst = Math.max(...points.map((p) => p.health.p99Ms));
      console.log(
        `  ${scenario.name}: goodput at 2× ${(100 * goodput2).toFixed(1)}% of peak (≥ ${100 * TARGETS.goodputAt2x}%: ${verdict(goodput2 >= TARGETS.goodputAt2x)}), at 4× ${(100 * goodput4).toFixed(1)}% (≥ ${100 * TARGETS.goodputAt4x}%: ${verdict(goodput4 >= TARGETS.goodputAt4x)}), health p99 ${points.map((p) => `${p.multiple}× ${fixed(p.health.p99Ms, 2)}`).join(', ')} ms (≤ ${TARGETS.healthP99Ms} at each: ${verdict(healthWorst <= TARGETS.healthP99Ms)})`,
      );
    }
    console.log(
      `  big requests: health p99 ${fixed(bigHealth.p99Ms, 2)} ms (≤ ${TARGETS.healthP99Ms}: ${verdict(bigHealth.p99Ms <= TARGETS.healthP99Ms)}); liveness restarts over the whole run ${restarts} (= ${TARGETS.livenessRestarts}: ${verdict(restarts === TARGETS.livenessRestarts)})`,
    );
  } finally {
    await stopAll();
    if (pinned) pin(process.pid, original);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
