/**
 * A closed-loop HTTP load generator for the server benchmark: `concurrency` clients, each on its
 * own keep-alive connection, each sending its next request as soon as the last one was answered.
 *
 * The clients speak HTTP/1.1 on raw sockets instead of node's http client: the request is one
 * prebuilt buffer written in one call, and a response is read as far as its status and
 * Content-Length. node's client parses every header into objects and costs several times more
 * CPU per request, which on a small machine is CPU taken from the server and latency that is the
 * client's, not the server's. Latency is still the client's view (request written → last body
 * byte read), so it includes loopback TCP and this lean client; the result reports the client's
 * own CPU use beside the figures.
 */
import { percentile } from '../../lib/gate';
import {
  encodeHttpRequest,
  hostAndPort,
  type HttpRequestSpec,
  type RawAnswer,
  RawHttpConnection,
} from '../../lib/gate/http-client';

/** What to send and how hard. */
export interface HttpLoadOptions extends HttpRequestSpec {
  /** Clients, each with one connection and one request at a time. */
  readonly concurrency: number;
  /** How long to measure, after the warm-up, ms. */
  readonly durationMs: number;
  /** Load before the measurement, not measured, ms. @default 1000 */
  readonly warmUpMs?: number;
}

/** What one load run measured (the measured window only). */
export interface HttpLoadResult {
  readonly concurrency: number;
  /** 200 responses in the window. */
  readonly requests: number;
  /** The window: from the end of the warm-up to the last measured response, ms. */
  readonly windowMs: number;
  /** 200 responses per second. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Responses other than 200, by status (0: the connection failed or closed mid-answer). */
  readonly failures: Readonly<Record<number, number>>;
  /** The CPU this process used during the window, in cores (1 = one core busy all the time). */
  readonly clientCpuCores: number;
  /** The body of the first 200 response, to check that the server answered what was meant. */
  readonly sampleBody: Buffer | undefined;
}

/** Runs the load and returns throughput and latency percentiles of the measured window. */
export async function httpClosedLoop(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const request = encodeHttpRequest(options);
  const { host, port } = hostAndPort(options.url);
  const warmUpEnd = performance.now() + (options.warmUpMs ?? 1000);
  const end = warmUpEnd + options.durationMs;
  const latencies: number[] = [];
  const failures: Record<number, number> = {};
  let sampleBody: Buffer | undefined;
  let lastDone = warmUpEnd;
  let cpuAtWindowStart: NodeJS.CpuUsage | undefined;
  const connections: RawHttpConnection[] = [];

  const client = async (): Promise<void> => {
    const connection = new RawHttpConnection(host, port);
    connections.push(connection);
    for (;;) {
      const start = performance.now();
      if (start >= end) return;
      if (start >= warmUpEnd) cpuAtWindowStart ??= process.cpuUsage();
      connection.keepBodies = sampleBody === undefined; // one body is kept, to check the answers
      const answer = await new Promise<RawAnswer>((resolve) => connection.send(request, resolve));
      const done = performance.now();
      if (start < warmUpEnd) continue;
      lastDone = Math.max(lastDone, done);
      if (answer.status === 200) {
        latencies.push(done - start);
        sampleBody ??= answer.body;
      } else {
        failures[answer.status] = (failures[answer.status] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, client));
  const cpu = process.cpuUsage(cpuAtWindowStart);
  for (const connection of connections) connection.close();
  const windowMs = lastDone - warmUpEnd;
  latencies.sort((a, b) => a - b);
  return {
    concurrency: options.concurrency,
    requests: latencies.length,
    windowMs,
    rps: windowMs > 0 ? latencies.length / (windowMs / 1000) : 0,
    p50Ms: latencies.length ? percentile(latencies, 50) : NaN,
    p99Ms: latencies.length ? percentile(latencies, 99) : NaN,
    failures,
    clientCpuCores: windowMs > 0 ? (cpu.user + cpu.system) / 1000 / windowMs : 0,
    sampleBody,
  };
}
