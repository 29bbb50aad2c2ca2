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
import * as net from 'node:net';
import { percentile } from '../../lib/gate';
import { encodeHttpRequest, type HttpRequestSpec } from '../../lib/gate/http-client';

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

/** One response: its status (0 when the connection failed) and body. */
interface Answer {
  readonly status: number;
  readonly body: Buffer;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const CONNECTION_CLOSE = /\r\nconnection:[ \t]*close/i;

/**
 * One keep-alive connection that sends one request at a time and reads each answer by its
 * Content-Length. It reconnects after the server closed it (`Connection: close`, an error).
 */
class KeepAliveConnection {
  private socket: net.Socket | undefined;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter: ((answer: Answer) => void) | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  send(request: Buffer): Promise<Answer> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      (this.socket ?? this.connect()).write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connect(): net.Socket {
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = socket;
    this.chunks = [];
    this.buffered = 0;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const lost = (): void => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.settle({ status: 0, body: Buffer.alloc(0) });
    };
    socket.on('error', lost);
    socket.on('close', lost);
    return socket;
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const data = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.buffered);
    this.chunks = [data];
    const headerEnd = data.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = data.toString('latin1', 0, headerEnd);
    const status = Number(head.slice(9, 12));
    const length = CONTENT_LENGTH.exec(head);
    if (!length) {
      // Every answer of the server has a Content-Length; without one, the connection is unusable.
      this.close();
      this.settle({ status: 0, body: Buffer.alloc(0) });
      return;
    }
    const end = headerEnd + HEADER_END.length + Number(length[1]);
    if (data.length < end) return;
    const body = data.subarray(headerEnd + HEADER_END.length, end);
    const rest = data.subarray(end);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    if (CONNECTION_CLOSE.test(head)) this.close();
    this.settle({ status, body });
  }

  private settle(answer: Answer): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(answer);
  }
}

/** Runs the load and returns throughput and latency percentiles of the measured window. */
export async function httpClosedLoop(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const url = new URL(options.url);
  const request = encodeHttpRequest(options);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 80);
  const warmUpEnd = performance.now() + (options.warmUpMs ?? 1000);
  const end = warmUpEnd + options.durationMs;
  const latencies: number[] = [];
  const failures: Record<number, number> = {};
  let sampleBody: Buffer | undefined;
  let lastDone = warmUpEnd;
  let cpuAtWindowStart: NodeJS.CpuUsage | undefined;
  const connections: KeepAliveConnection[] = [];

  const client = async (): Promise<void> => {
    const connection = new KeepAliveConnection(host, port);
    connections.push(connection);
    for (;;) {
      const start = performance.now();
      if (start >= end) return;
      if (start >= warmUpEnd) cpuAtWindowStart ??= process.cpuUsage();
      const answer = await connection.send(request);
      const done = performance.now();
      if (start < warmUpEnd) continue;
      lastDone = Math.max(lastDone, done);
      if (answer.status === 200) {
        latencies.push(done - start);
        sampleBody ??= Buffer.from(answer.body);
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
