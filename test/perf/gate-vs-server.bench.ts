/**
 * The gate's capacity against an independent load test of the same server: for the Iris model, a
 * medium generated model (8 chained 512×512 MatMuls) and a model with a symbolic sequence dim, a
 * fresh gate run (1 CPU, 1 GiB, no cache) tunes the serving settings and reports the per-replica
 * capacity at its p99 bound (`throughput.rps`, open loop over HTTP inside a CFS quota). Then the
 * server bundle (`build/server/main.js`) is started again with those settings inside the same CPU
 * and memory limits ({@link createResourceBudget}), and loaded by wrk (closed loop, one thread,
 * 8 to 128 connections, the same OIP JSON body the gate sends). The server's capacity at the bound
 * is wrk's best Requests/sec among the connection counts whose p99 is within the bound (and that
 * got no errors). Target: the gate's figure within ±15% of wrk's.
 *
 * wrk and this process run outside the limits, on the machine's other cores, as the gate's load
 * generator does; the output says how the limits were held.
 *
 * Environment: MODELFAB_BENCH_BUDGET (each gate's budget, s, default 20), MODELFAB_BENCH_POINT_SECONDS
 * (each wrk point, default 4, after a 1 s warm-up run). Needs wrk (skipped, saying so, without it)
 * and the server bundle (`npm run build`). Figures go to stdout, progress to stderr.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultModelName, type GateProps, PropsChecker, resolveGate, SERVER_ENV } from '../../lib/core';
import { type GateReport, runGateSync } from '../../lib/gate';
import { benchmarkInputs } from '../../lib/gate/gate-inputs';
import { encodeInferRequest } from '../../lib/gate/request-bodies';
import { createResourceBudget, findExecutable, type ResourceBudget } from '../../lib/gate/resource-budget';
import { inspectModel } from '../../lib/model';
import { serverEntryFile } from '../../lib/server/bundle-server';
import { freePort } from '../support/free-port';
import { chainedMatMulModel, symbolicSeqModel } from '../support/gate-fixtures';
import { positiveEnv, progressFor, verdict } from './bench-support';

const BUDGET_SECONDS = positiveEnv('MODELFAB_BENCH_BUDGET', 20, 'a number of seconds from 3 to 3600');
const POINT_SECONDS = positiveEnv('MODELFAB_BENCH_POINT_SECONDS', 4, 'a positive number of seconds');
const WARM_UP_SECONDS = 1;
const CONNECTIONS = [8, 16, 32, 64, 128] as const;
const LIMITS = { cpuMillis: 1000, memoryBytes: 2 ** 30 } as const;
const TARGET = 0.15;
const READY_TIMEOUT_MS = 60_000;
const IRIS = path.resolve(__dirname, '../../examples/iris/model/iris.onnx');

const progress = progressFor('gate-vs-server');

function freshGate(modelPath: string, props: GateProps): GateReport {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-bench-cache-'));
  try {
    return runGateSync({
      constructPath: 'bench',
      modelName: defaultModelName(modelPath),
      model: inspectModel(modelPath),
      gate: resolveGate(
        new PropsChecker('bench'),
        { budgetSeconds: BUDGET_SECONDS, ...props },
        process.cwd(),
      ),
      resources: { ...LIMITS },
      server: { entry: serverEntryFile(), env: {} },
      cacheDir,
    });
  } finally {
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

/** Processes and budgets to clean up, also on SIGINT/SIGTERM. */
const live = new Set<{ child: ChildProcess; budget: ResourceBudget }>();

function killAll(): void {
  for (const { child, budget } of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    budget.release();
  }
  live.clear();
}

/** A server started by this bench inside the limits, ready to answer. */
interface ServerUnderTest {
  readonly url: string;
  readonly detail: string;
  stop(): Promise<void>;
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the server bundle with the gate's tuned settings inside the same limits, and waits until ready. */
async function startServer(
  modelPath: string,
  modelName: string,
  report: GateReport,
): Promise<ServerUnderTest> {
  const config = report.measurements.servingConfig;
  const [port, metricsPort] = [await freePort(), await freePort()];
  const budget = createResourceBudget({ ...LIMITS });
  const { command, args } = budget.wrap(process.execPath, [serverEntryFile()]);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('MODELFAB_')),
  );
  const child = spawn(command, [...args], {
    env: {
      ...inherited,
      [SERVER_ENV.modelPath]: modelPath,
      [SERVER_ENV.modelName]: modelName,
      [SERVER_ENV.port]: String(port),
      [SERVER_ENV.metricsPort]: String(metricsPort),
      [SERVER_ENV.intraOpThreads]: String(config.intraOpThreads),
      [SERVER_ENV.workers]: String(config.workers),
      [SERVER_ENV.maxBatchSize]: String(config.maxBatchSize),
      [SERVER_ENV.maxQueueDelayMs]: String(config.maxQueueDelayMs),
    },
    // stdout (a JSON line per event) is read and dropped, as the gate and a container runtime do.
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = { child, budget };
  live.add(entry);
  const tail: string[] = [];
  child.stdout.resume();
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    tail.push(...text.split('\n').filter((l) => l.trim() !== ''));
    tail.splice(0, Math.max(0, tail.length - 6));
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      tail.push(`could not start ${command}: ${error.message}`);
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    try {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    } finally {
      budget.release();
      live.delete(entry);
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `the server exited before it was ready (${child.signalCode ?? `code ${child.exitCode}`}): ${tail.join(' | ') || '(no stderr)'}`,
        );
      }
      if ((await getStatus(`${url}/v2/health/ready`)) === 200) break;
      if (Date.now() > deadline) throw new Error(`the server was not ready within ${READY_TIMEOUT_MS} ms`);
      await sleep(50);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, detail: budget.detail, stop };
}

/** One wrk run's figures. */
interface WrkPoint {
  readonly connections: number;
  readonly rps: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** Non-2xx/3xx answers plus socket errors (connect, read, write, timeout). */
  readonly errors: number;
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses wrk's `--latency` output. @throws Error when a figure is missing */
function parseWrk(output: string, connections: number): WrkPoint {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const p99 = /^\s*99(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$/m.exec(output);
  const requests = /^\s*(\d+) requests in /m.exec(output);
  if (!rps || !p99 || !requests) throw new Error(`cannot read wrk's output:\n${output}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const errors =
    Number(non2xx?.[1] ?? 0) + (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
  return {
    connections,
    rps: Number(rps[1]),
    p99Ms: Number(p99[1]) * UNIT_MS[p99[2]],
    requests: Number(requests[1]),
    errors,
  };
}

function runWrk(wrk: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(wrk, [...args], { maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`wrk ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The Lua script that POSTs the body in `bodyFile` as JSON. */
function wrkScript(dir: string, body: Buffer): string {
  const bodyFile = path.join(dir, 'body.json');
  fs.writeFileSync(bodyFile, body);
  const script = path.join(dir, 'infer.lua');
  fs.writeFileSync(
    script,
    [
      `local f = assert(io.open([[${bodyFile}]], "rb"))`,
      'wrk.method = "POST"',
      'wrk.body = f:read("*a")',
      'f:close()',
      'wrk.headers["Content-Type"] = "application/json"',
      '',
    ].join('\n'),
  );
  return script;
}

/** What one model's comparison found. */
interface Comparison {
  readonly label: string;
  readonly report: GateReport;
  readonly boundMs: number;
  readonly points: readonly WrkPoint[];
  readonly best?: WrkPoint;
  readonly detail: string;
}

async function compare(wrk: string, label: string, modelPath: string, props: GateProps): Promise<Comparison> {
  progress(`${label}: fresh gate (budget ${BUDGET_SECONDS} s, ${LIMITS.cpuMillis / 1000} CPU, 1 GiB)`);
  const report = freshGate(modelPath, props);
  const t = report.measurements.throughput;
  const config = report.measurements.servingConfig;
  progress(
    `${label}: gate capacity ${t.generatorBound ? '≥' : ''}${t.rps.toFixed(0)} rps at p99 ≤ ${t.latencyBoundMs} ms, batch ${config.maxBatchSize}, delay ${config.maxQueueDelayMs} ms`,
  );
  const modelName = report.model.name;
  const body = encodeInferRequest(benchmarkInputs(inspectModel(modelPath), report.gate)(), 'json').body;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-bench-wrk-'));
  const points: WrkPoint[] = [];
  let detail: string;
  try {
    const script = wrkScript(dir, body);
    const server = await startServer(modelPath, modelName, report);
    detail = server.detail;
    try {
      const url = `${server.url}/v2/models/${encodeURIComponent(modelName)}/infer`;
      for (const connections of CONNECTIONS) {
        const common = ['-t1', `-c${connections}`, '--latency', '--timeout', '10s', '-s', script];
        await runWrk(wrk, [...common, `-d${WARM_UP_SECONDS}s`, url]);
        const point = parseWrk(await runWrk(wrk, [...common, `-d${POINT_SECONDS}s`, url]), connections);
        progress(
          `${label}: wrk ${connections} connections: ${point.rps.toFixed(0)} rps, p99 ${point.p99Ms.toFixed(2)} ms${point.errors > 0 ? `, ${point.errors} errors` : ''}`,
        );
        points.push(point);
      }
    } finally {
      await server.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const boundMs = t.latencyBoundMs;
  const best = points
    .filter((p) => p.p99Ms <= boundMs && p.errors === 0)
    .reduce<WrkPoint | undefined>((a, b) => (a === undefined || b.rps > a.rps ? b : a), undefined);
  return { label, report, boundMs, points, best, detail };
}

function printTable(results: readonly Comparison[]): void {
  console.log(
    `\ngate capacity vs wrk (${LIMITS.cpuMillis / 1000} CPU, 1 GiB; gate budget ${BUDGET_SECONDS} s; wrk -t1, ${POINT_SECONDS} s per point after ${WARM_UP_SECONDS} s warm-up)`,
  );
  const header = [
    'model'.padEnd(10),
    'bound ms'.padEnd(9),
    'gate rps'.padEnd(9),
    'batch/delay'.padEnd(12),
    'wrk best rps (conns, p99 ms)'.padEnd(29),
    'gate/wrk'.padEnd(9),
    `within ±${TARGET * 100}%`,
  ];
  console.log(header.join(' '));
  for (const r of results) {
    const t = r.report.measurements.throughput;
    const c = r.report.measurements.servingConfig;
    const ratio = r.best ? t.rps / r.best.rps : NaN;
    console.log(
      [
        r.label.padEnd(10),
        String(r.boundMs).padEnd(9),
        `${t.generatorBound ? '≥' : ''}${t.rps.toFixed(0)}`.padEnd(9),
        `${c.maxBatchSize}/${c.maxQueueDelayMs} ms`.padEnd(12),
        (r.best
          ? `${r.best.rps.toFixed(0)} (${r.best.connections}, ${r.best.p99Ms.toFixed(2)})`
          : 'none within bound'
        ).padEnd(29),
        (Number.isFinite(ratio) ? ratio.toFixed(2) : '-').padEnd(9),
        `${verdict(Number.isFinite(ratio) && Math.abs(ratio - 1) <= TARGET)}${t.generatorBound ? ' (gate figure is a lower bound)' : ''}`,
      ].join(' '),
    );
  }
  console.log('\nwrk points (connections: rps, p99 ms, errors):');
  for (const r of results) {
    console.log(
      `  ${r.label}: ${r.points.map((p) => `${p.connections}: ${p.rps.toFixed(0)}, ${p.p99Ms.toFixed(2)}${p.errors > 0 ? `, ${p.errors} errors` : ''}`).join('; ')}`,
    );
  }
  console.log('\nenforcement:');
  for (const r of results) {
    console.log(`  ${r.label}: gate: ${r.report.measurements.environment.enforcement.detail}`);
    console.log(`  ${r.label}: wrk's server: ${r.detail}`);
  }
}

export async function benchGateVsServer(): Promise<void> {
  console.log(
    `gate vs server benchmark (node ${process.version}, ${os.cpus()[0]?.model.trim() ?? 'cpu'}, ${os.cpus().length} cores)`,
  );
  const wrk = findExecutable('wrk');
  if (wrk === undefined) {
    console.log(
      'wrk is not installed (not at /usr/bin/wrk nor on PATH): skipping the gate-vs-server comparison',
    );
    return;
  }
  const onSignal = (signal: NodeJS.Signals) => {
    killAll();
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-bench-models-'));
  const results: Comparison[] = [];
  try {
    const models: Array<[string, string, GateProps]> = [
      ['iris', IRIS, { latencyP99Ms: 20 }],
      ['medium', chainedMatMulModel(scratch, 8, 512), { latencyP99Ms: 50 }],
      ['symbolic', symbolicSeqModel(scratch), { latencyP99Ms: 50, inputShapes: { tokens: [1, 16, 8] } }],
    ];
    for (const [label, modelPath, props] of models) {
      results.push(await compare(wrk, label, modelPath, props));
    }
    printTable(results);
  } finally {
    killAll();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
