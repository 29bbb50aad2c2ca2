/**
 * A lean HTTP/1.1 client for load: keep-alive connections on raw sockets, one request at a time
 * each, answers read as far as their status and Content-Length. The request is one prebuilt buffer
 * written in one call. node's own client parses every header into objects and costs several times
 * more CPU per request, which on a small machine is CPU taken from the server under test, and
 * latency that is the client's, not the server's. The gate's load generator and the benchmarks
 * under test/perf use it.
 */
import * as net from 'node:net';

/** The request a load generator sends, again and again. */
export interface HttpRequestSpec {
  /** The endpoint's full URL (`http://host:port/path`); http only. */
  readonly url: string;
  /** @default 'POST' */
  readonly method?: 'GET' | 'POST';
  /** The request body, sent with every request. @default empty */
  readonly body?: Buffer;
  /** Extra request headers. @default `{ 'Content-Type': 'application/json' }` when there is a body */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The request as bytes: request line, headers and body, written in one call. */
export function encodeHttpRequest(options: HttpRequestSpec): Buffer {
  const url = new URL(options.url);
  if (url.protocol !== 'http:') {
    throw new Error(`the load generator speaks http only, received ${JSON.stringify(options.url)}`);
  }
  const body = options.body ?? Buffer.alloc(0);
  const headers: Record<string, string> = {
    Host: url.host,
    ...(body.length > 0 ? { 'Content-Type': 'application/json' } : {}),
    ...options.headers,
    'Content-Length': String(body.length),
  };
  const head =
    `${options.method ?? 'POST'} ${url.pathname}${url.search} HTTP/1.1\r\n` +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** One answer: status (0 when the connection failed or closed mid-answer), and what came with it. */
export interface RawAnswer {
  readonly status: number;
  /** Whether the answer carried a `Retry-After` header. */
  readonly retryAfter: boolean;
  /** Body bytes received. */
  readonly bytes: number;
  /** The body, when the connection keeps bodies (else undefined). */
  readonly body: Buffer | undefined;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;
const CONNECTION_CLOSE = /\r\nconnection:[ \t]*close/i;
const RETRY_AFTER = /\r\nretry-after:/i;
/** A response head longer than this is not HTTP from our server. */
const MAX_HEAD_BYTES = 64 * 1024;
const FAILED: RawAnswer = { status: 0, retryAfter: false, bytes: 0, body: undefined };

/**
 * One keep-alive HTTP/1.1 connection on a raw socket, one request at a time. It connects on the
 * first send and again after the server closed it (`Connection: close`, an error). Bodies are
 * counted as they stream in and kept only when asked, so answers of hundreds of MB cost no copies.
 */
export class RawHttpConnection {
  private socket: net.Socket | undefined;
  private head: Buffer | undefined;
  private inBody = false;
  private remaining = 0;
  private answer: { status: number; retryAfter: boolean; close: boolean; length: number } | undefined;
  private bodyChunks: Buffer[] | undefined;
  private callback: ((answer: RawAnswer) => void) | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    /** Keep the bodies of answers (for checks); off for load. */
    public keepBodies = false,
  ) {}

  /** Whether a request is waiting for its answer. */
  get busy(): boolean {
    return this.callback !== undefined;
  }

  /** Writes the request; `onAnswer` is called once, with the answer or a failure (status 0). */
  send(request: Buffer, onAnswer: (answer: RawAnswer) => void): void {
    if (this.callback) throw new Error('RawHttpConnection.send: a request is already in flight');
    this.callback = onAnswer;
    (this.socket ?? this.connect()).write(request);
  }

  /** Closes the socket; a request in flight is dropped without its callback. */
  close(): void {
    this.callback = undefined;
    this.drop();
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.head = undefined;
    this.inBody = false;
    this.answer = undefined;
    this.bodyChunks = undefined;
    socket?.destroy();
  }

  private connect(): net.Socket {
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) this.onData(chunk);
    });
    const lost = (): void => {
      if (this.socket !== socket) return;
      this.drop();
      this.settle(FAILED);
    };
    socket.on('error', lost);
    socket.on('close', lost);
    return socket;
  }

  private onData(chunk: Buffer): void {
    let data = chunk;
    if (!this.inBody) {
      const buffered = this.head ? Buffer.concat([this.head, chunk]) : chunk;
      const headerEnd = buffered.indexOf(HEADER_END);
      if (headerEnd < 0) {
        this.head = buffered;
        if (buffered.length > MAX_HEAD_BYTES) this.fail();
        return;
      }
      this.head = undefined;
      const head = buffered.toString('latin1', 0, headerEnd);
      const length = CONTENT_LENGTH.exec(head);
      if (!length) {
        // Every answer of the server has a Content-Length; without one, the connection is unusable.
        this.fail();
        return;
      }
      this.answer = {
        status: Number(head.slice(9, 12)),
        retryAfter: RETRY_AFTER.test(head),
        close: CONNECTION_CLOSE.test(head),
        length: Number(length[1]),
      };
      this.inBody = true;
      this.remaining = this.answer.length;
      this.bodyChunks = this.keepBodies ? [] : undefined;
      data = buffered.subarray(headerEnd + HEADER_END.length);
    }
    const take = Math.min(this.remaining, data.length);
    if (take > 0) {
      this.remaining -= take;
      this.bodyChunks?.push(take === data.length ? data : data.subarray(0, take));
    }
    if (this.remaining > 0) return;
    // The answer is complete (anything after it would be a protocol error, and is dropped).
    const answer = this.answer!;
    const body = this.bodyChunks ? Buffer.concat(this.bodyChunks) : undefined;
    this.inBody = false;
    this.answer = undefined;
    this.bodyChunks = undefined;
    if (answer.close) this.drop();
    this.settle({ status: answer.status, retryAfter: answer.retryAfter, bytes: answer.length, body });
  }

  private fail(): void {
    this.drop();
    this.settle(FAILED);
  }

  private settle(answer: RawAnswer): void {
    const callback = this.callback;
    this.callback = undefined;
    callback?.(answer);
  }
}

/** `http://host:port` → the socket address. */
export function hostAndPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port: Number(parsed.port || 80) };
}

/**
 * Requests over a pool of keep-alive connections to one server: a request takes an idle
 * connection, else opens a new one while under `maxConnections`, else waits here in order (its
 * time keeps running for whoever measures it: no coordinated omission).
 */
export class HttpConnectionPool {
  private readonly host: string;
  private readonly port: number;
  private readonly all: RawHttpConnection[] = [];
  private readonly idle: RawHttpConnection[] = [];
  private waiting: Array<{ request: Buffer; resolve: (answer: RawAnswer) => void }> = [];
  private waitingHead = 0;
  private closed = false;

  /**
   * @param url the server's base URL (`http://127.0.0.1:8080`)
   * @param maxConnections the most connections open at once
   */
  constructor(
    url: string,
    private readonly maxConnections = 1024,
  ) {
    ({ host: this.host, port: this.port } = hostAndPort(url));
  }

  /** Connections opened so far. */
  get connections(): number {
    return this.all.length;
  }

  /** Sends the request (a buffer from {@link encodeHttpRequest}); resolves with the answer, status 0 when the connection failed or the pool closed. */
  send(request: Buffer): Promise<RawAnswer> {
    if (this.closed) return Promise.resolve(FAILED);
    return new Promise((resolve) => {
      let connection = this.idle.pop();
      if (!connection && this.all.length < this.maxConnections) {
        connection = new RawHttpConnection(this.host, this.port);
        this.all.push(connection);
      }
      if (connection) this.fire(connection, request, resolve);
      else this.waiting.push({ request, resolve });
    });
  }

  /** Closes every connection; requests in flight or waiting resolve as failed. */
  close(): void {
    this.closed = true;
    for (const connection of this.all) connection.close();
    for (let i = this.waitingHead; i < this.waiting.length; i++) this.waiting[i].resolve(FAILED);
    this.waiting = [];
    this.waitingHead = 0;
    for (const settle of this.inFlight) settle(FAILED);
    this.inFlight.clear();
  }

  private readonly inFlight = new Set<(answer: RawAnswer) => void>();

  private fire(connection: RawHttpConnection, request: Buffer, resolve: (answer: RawAnswer) => void): void {
    this.inFlight.add(resolve);
    connection.send(request, (answer) => {
      this.inFlight.delete(resolve);
      resolve(answer);
      if (this.closed) return;
      if (this.waitingHead < this.waiting.length) {
        const next = this.waiting[this.waitingHead++];
        if (this.waitingHead > 4096 && this.waitingHead * 2 > this.waiting.length) {
          this.waiting = this.waiting.slice(this.waitingHead);
          this.waitingHead = 0;
        }
        this.fire(connection, next.request, next.resolve);
      } else {
        this.idle.push(connection);
      }
    });
  }
}
