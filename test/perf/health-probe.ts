/**
 * Health probes for the overload benchmark: a GET on a path every `intervalMs`, on its own
 * keep-alive connection, one probe at a time (as the kubelet does: a tick that comes while the
 * last probe is still out is skipped, and counted). A probe not answered within `timeoutMs` fails
 * as a timeout and its connection is closed; the next one reconnects.
 *
 * The probes run in a process of their own (`startProbeProcess`, this file run as a script), so
 * that a load generator saturating its own event loop does not delay them: the figures are the
 * server's, plus loopback TCP and the scheduler of the core the prober shares.
 *
 * {@link livenessRestarts} turns liveness probe results into the restarts a kubelet would make.
 */
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { percentile } from '../../lib/gate';
import { encodeHttpRequest, hostAndPort, RawHttpConnection } from '../../lib/gate/http-client';

/** What to probe and how often. */
export interface ProbeSpec {
  /** The probe's name in the results (`ready`, `live`). */
  readonly name: string;
  /** The full URL to GET. */
  readonly url: string;
  /** @default 100 */
  readonly intervalMs?: number;
  /** @default 1000 */
  readonly timeoutMs?: number;
}

/** One probe's outcome. */
export interface ProbeSample {
  readonly name: string;
  /** When it was sent, ms since the epoch (fractional; comparable across processes). */
  readonly at: number;
  /** Until the answer, or until it failed (a timeout counts `timeoutMs`), ms. */
  readonly ms: number;
  /** The answer's status; 0 when the connection failed; -1 when it timed out. */
  readonly status: number;
  /** Whether it passed: a 2xx answer within the timeout (as the kubelet counts 200–399). */
  readonly ok: boolean;
  /** Ticks skipped since the last sample because this probe was still out. */
  readonly skipped: number;
}

/** Now, ms since the epoch, with performance.now()'s resolution. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Probes one URL until stopped. */
export class HealthProber {
  private readonly connection: RawHttpConnection;
  private readonly request: Buffer;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private interval: NodeJS.Timeout | undefined;
  private timeout: NodeJS.Timeout | undefined;
  private skipped = 0;
  private out = false;

  constructor(
    private readonly spec: ProbeSpec,
    private readonly onSample: (sample: ProbeSample) => void,
  ) {
    const { host, port } = hostAndPort(spec.url);
    this.connection = new RawHttpConnection(host, port);
    this.request = encodeHttpRequest({ url: spec.url, method: 'GET' });
    this.intervalMs = spec.intervalMs ?? 100;
    this.timeoutMs = spec.timeoutMs ?? 1000;
  }

  start(): void {
    this.interval ??= setInterval(() => this.probe(), this.intervalMs);
  }

  stop(): void {
    if (this.interval) clearInterval(this.interval);
    if (this.timeout) clearTimeout(this.timeout);
    this.interval = undefined;
    this.connection.close();
  }

  private probe(): void {
    if (this.out) {
      this.skipped++;
      return;
    }
    this.out = true;
    const at = epochNow();
    const sent = performance.now();
    const done = (status: number, ms: number): void => {
      this.out = false;
      if (this.timeout) clearTimeout(this.timeout);
      this.timeout = undefined;
      const skipped = this.skipped;
      this.skipped = 0;
      this.onSample({ name: this.spec.name, at, ms, status, ok: status >= 200 && status < 300, skipped });
    };
    this.timeout = setTimeout(() => {
      this.connection.close(); // drops the late answer; the next probe reconnects
      done(-1, this.timeoutMs);
    }, this.timeoutMs);
    this.connection.send(this.request, (answer) => done(answer.status, performance.now() - sent));
  }
}

/** Figures of a set of probe samples; latencies include the failures (a timeout at its timeout). */
export interface ProbeSummary {
  readonly probes: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Probes that did not pass: timeouts, failed connections, non-2xx answers. */
  readonly failures: number;
  readonly timeouts: number;
  /** Ticks skipped because the previous probe was still out. */
  readonly skipped: number;
}

export function summarizeProbes(samples: readonly ProbeSample[]): ProbeSummary {
  const latencies = samples.map((s) => s.ms).sort((a, b) => a - b);
  return {
    probes: samples.length,
    p50Ms: latencies.length ? percentile(latencies, 50) : NaN,
    p99Ms: latencies.length ? percentile(latencies, 99) : NaN,
    maxMs: latencies.length ? latencies[latencies.length - 1] : NaN,
    failures: samples.filter((s) => !s.ok).length,
    timeouts: samples.filter((s) => s.status === -1).length,
    skipped: samples.reduce((n, s) => n + s.skipped, 0),
  };
}

/**
 * The restarts a kubelet would make from these liveness results (in time order): each run of
 * `failureThreshold` consecutive failures is one restart (the count starts again after it). Probing
 * more often than the kubelet's periodSeconds only makes this stricter: a failure the kubelet
 * would see is within a run at least as long here.
 */
export function livenessRestarts(samples: readonly ProbeSample[], failureThreshold = 3): number {
  let restarts = 0;
  let run = 0;
  for (const sample of [...samples].sort((a, b) => a.at - b.at)) {
    run = sample.ok ? 0 : run + 1;
    if (run >= failureThreshold) {
      restarts++;
      run = 0;
    }
  }
  return restarts;
}

/** Probers running in a child process. */
export interface ProbeProcess {
  readonly pid: number;
  /** The samples of probe `name` sent in [from, to] (epoch ms), so far. */
  samples(name: string, from?: number, to?: number): ProbeSample[];
  /** Stops the probers and the process. */
  stop(): Promise<void>;
}

/**
 * Starts the probers in a child process (pinned to `cpuList` with taskset when given) and resolves
 * once every probe has reported once.
 */
export async function startProbeProcess(
  specs: readonly ProbeSpec[],
  cpuList?: string,
): Promise<ProbeProcess> {
  const nodeArgs = [
    '--import',
    pathToFileURL(require.resolve('tsx')).href,
    __filename,
    JSON.stringify(specs),
  ];
  const child =
    cpuList === undefined
      ? spawn(process.execPath, nodeArgs, { stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn('taskset', ['-c', cpuList, process.execPath, ...nodeArgs], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const all: ProbeSample[] = [];
  const seen = new Set<string>();
  let partial = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (line.trim() === '') continue;
        const sample = JSON.parse(line) as ProbeSample;
        all.push(sample);
        seen.add(sample.name);
      }
      if (seen.size >= specs.length) resolve();
    });
    void exited.then((code) => reject(new Error(`the probe process exited with ${code} before it probed`)));
  });
  return {
    pid: child.pid!,
    samples: (name, from = -Infinity, to = Infinity) =>
      all.filter((s) => s.name === name && s.at >= from && s.at <= to),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** As a script: probes the specs in argv[2] (JSON), a sample per stdout line, until SIGTERM. */
function main(): void {
  const specs = JSON.parse(process.argv[2] ?? '[]') as ProbeSpec[];
  const probers = specs.map(
    (spec) => new HealthProber(spec, (sample) => process.stdout.write(`${JSON.stringify(sample)}\n`)),
  );
  for (const prober of probers) prober.start();
  process.once('SIGTERM', () => {
    for (const prober of probers) prober.stop();
    process.stdout.write('', () => process.exit(0));
  });
}

if (require.main === module) main();
