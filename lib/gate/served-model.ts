/**
 * The model as the pod serves it: the server bundle the image runs (`build/server/main.js`),
 * started as its own process with the settings the Deployment gives it, inside the pod's CPU and
 * memory limits (a {@link ResourceBudget}), and loaded over loopback HTTP by this process. Its
 * cold start is the pod's: from the process's start to the first `200` of `/v2/health/ready`
 * (node, onnxruntime, the model's session and the server's warm-up).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { SERVER_ENV } from '../core';
import { type Clock, realClock } from './bench-environment';
import { encodeHttpRequest, HttpConnectionPool } from './http-client';
import { type ResourceBudget } from './resource-budget';

/** The server ran out of memory under the pod's limit: the pod would be OOM-killed. */
export class ServerOutOfMemoryError extends Error {
  override readonly name = 'ServerOutOfMemoryError';
}

/** How to start one served model. */
export interface ServedModelOptions {
  /** The server bundle's entry file (`build/server/main.js`). */
  readonly entry: string;
  /**
   * The server's environment as the Deployment sets it (`MODELFAB_*` by their table's names). The
   * ports are replaced by free loopback ones; nothing of this process's `MODELFAB_*` leaks in.
   */
  readonly env: Readonly<Record<string, string>>;
  /** The limits to run in; the served model releases it when it closes. */
  readonly budget: ResourceBudget;
  /** The model's name in URLs. */
  readonly modelName: string;
  /** The memory limit, bytes: checked against the peak when no memory cgroup enforces it. */
  readonly memoryLimitBytes: number;
  /** How long the server may take to become ready, ms. */
  readonly readyTimeoutMs: number;
  /** Request bodies with their headers, cycled by {@link ServedModel.infer}. */
  readonly bodies: ReadonlyArray<{
    readonly body: Buffer;
    readonly headers: Readonly<Record<string, string>>;
  }>;
  /** @default the process clock */
  readonly clock?: Clock;
}

/** A running server and a keep-alive client to it. */
export interface ServedModel {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Process start to ready, ms. */
  readonly readyMs: number;
  /** Sends the next request of the ring; resolves on 200, rejects with the status and body otherwise. */
  infer(): Promise<void>;
  /** Peak memory of the server so far, bytes (the memory cgroup's, else the process's peak RSS). */
  peakMemoryBytes(): number;
  /** Stops the server (SIGTERM, SIGKILL after 10 s), releases its budget; throws {@link ServerOutOfMemoryError} if it ran out of memory. */
  close(): Promise<void>;
}

/** Names of the settings the gate sets for every start, whatever the Deployment says. */
const LOOPBACK = { [SERVER_ENV.port]: '0', [SERVER_ENV.metricsPort]: '0' } as const;

/** The process's environment without settings of its own (`MODELFAB_*`), plus the server's. */
function serverEnvironment(env: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('MODELFAB_')),
  );
  return { ...inherited, ...env, ...LOOPBACK };
}

/** Peak resident memory of a process from /proc (`VmHWM`), bytes; undefined when unreadable. */
function processPeakRss(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A server log line as a person reads it: the `msg` of its JSON line, else the line itself. */
function logMessage(line: string): string {
  try {
    const event = JSON.parse(line) as { msg?: unknown };
    if (typeof event.msg === 'string') return event.msg;
  } catch {
    // not one of the server's JSON lines (node's own output on stderr): kept as it is
  }
  return line;
}

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

/**
 * Starts the server and waits until it is ready.
 *
 * @throws Error when it exits or does not become ready in time, with its last log lines
 * @throws ServerOutOfMemoryError when it runs out of memory while loading
 */
export async function startServedModel(options: ServedModelOptions): Promise<ServedModel> {
  const clock = options.clock ?? realClock;
  const { budget } = options;
  const started = clock.now();
  const { command, args } = budget.wrap(process.execPath, [options.entry]);
  const child: ChildProcess = spawn(command, [...args], {
    env: serverEnvironment(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logTail: string[] = [];
  let url: string | undefined;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let stopping = false;
  let peakRss = 0;
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    });
    child.on('error', (error) => {
      logTail.push(`could not start ${command}: ${error.message}`);
      exit = { code: null, signal: null };
      resolve();
    });
  });
  const remember = (raw: string) => {
    if (raw.trim() === '') return;
    const line = logMessage(raw);
    logTail.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
    if (logTail.length > 8) logTail.shift();
  };
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    // The server logs one JSON line per event (and per request under load): scanned for
    // `listening`; once it is seen, the rest is drained unread (the pipe must not fill).
    if (url !== undefined) return;
    const lines = (pending + chunk.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      remember(line);
      if (!line.includes('"listening"')) continue;
      try {
        const event = JSON.parse(line) as { url?: string };
        if (event.url) url = event.url.replace('://0.0.0.0:', '://127.0.0.1:');
      } catch {
        // not a log line of ours
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => chunk.toString('utf8').split('\n').forEach(remember));

  const memoryPeak = (): number => {
    const cgroup = budget.peakMemoryBytes();
    peakRss = Math.max(peakRss, processPeakRss(child.pid) ?? 0);
    return cgroup ?? peakRss;
  };
  const outOfMemory = (): boolean =>
    budget.outOfMemory() ||
    (exit?.signal === 'SIGKILL' && !stopping && budget.memory === 'cgroup') ||
    (budget.memory === 'none' && memoryPeak() > options.memoryLimitBytes);
  const oomError = () =>
    new ServerOutOfMemoryError(
      `the server ran out of memory under resources.memory ${mib(options.memoryLimitBytes)} (peak ${mib(memoryPeak())}, ${budget.memory === 'cgroup' ? 'killed by the memory cgroup as the kubelet would OOM-kill the pod' : 'its peak resident memory exceeds the limit, so the pod would be OOM-killed'}); raise resources.memory, lower gate.maxBatchSize or use a smaller model`,
    );
  const died = (what: string) => {
    const how = exit?.signal ? `signal ${exit.signal}` : `code ${exit?.code}`;
    return new Error(
      `the server ${what} (exit ${how}); its last lines: ${logTail.slice(-4).join(' | ') || '(none)'}`,
    );
  };
  const release = async () => {
    if (!exit) {
      stopping = true;
      child.kill('SIGKILL');
      await exited;
    }
    budget.release();
  };

  try {
    // Wait for `listening`, then for readiness, polling every 5 ms.
    const deadline = started + options.readyTimeoutMs;
    while (url === undefined) {
      if (exit) throw outOfMemory() ? oomError() : died('exited before listening');
      if (clock.now() > deadline) throw died(`did not listen within ${options.readyTimeoutMs} ms`);
      await clock.sleep(2);
    }
    const pool = new HttpConnectionPool(url, 4096);
    const readyRequest = encodeHttpRequest({ url: `${url}/v2/health/ready`, method: 'GET' });
    for (;;) {
      const answer = await Promise.race([pool.send(readyRequest), exited.then(() => undefined)]);
      if (exit) throw outOfMemory() ? oomError() : died('exited while loading the model');
      if (answer?.status === 200) break;
      if (clock.now() > deadline) throw died(`was not ready within ${options.readyTimeoutMs} ms`);
      await clock.sleep(5);
    }
    const readyMs = clock.now() - started;
    const inferUrl = `${url}/v2/models/${encodeURIComponent(options.modelName)}/infer`;
    const requests = options.bodies.map(({ body, headers }) =>
      encodeHttpRequest({ url: inferUrl, body, headers }),
    );
    let next = 0;
    return {
      url,
      readyMs,
      infer: async () => {
        const request = requests[next];
        next = (next + 1) % requests.length;
        const answer = await pool.send(request);
        if (answer.status === 200) return;
        if (exit) throw outOfMemory() ? oomError() : died('exited under load');
        throw new Error(
          `the server answered ${answer.status === 0 ? 'nothing (connection lost)' : answer.status}`,
        );
      },
      peakMemoryBytes: memoryPeak,
      close: async () => {
        pool.close();
        memoryPeak(); // the last reading before the process is gone
        if (!exit) {
          stopping = true;
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }
        const oom = outOfMemory();
        budget.release();
        if (oom) throw oomError();
      },
    };
  } catch (error) {
    await release();
    throw error;
  }
}
