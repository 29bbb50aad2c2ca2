/**
 * Reads a request body into memory up to a limit and within a deadline: a body that is too large
 * is never buffered, and one that stops arriving is cut at the deadline with its memory freed.
 */
import { type IncomingMessage } from 'node:http';
import { SERVER_ENV } from '../core';

/** The body is larger than the server takes; the server answers 413. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';

  constructor(
    /** The limit, bytes. */
    readonly maxBodyBytes: number,
    /** The declared `Content-Length`, when the request declared one. */
    readonly declaredBytes: number | undefined,
  ) {
    super(
      declaredBytes !== undefined
        ? `the request body is ${declaredBytes} bytes, more than the server's limit of ${maxBodyBytes} bytes; send a smaller batch, or raise ${SERVER_ENV.maxBodyBytes}`
        : `the request body is more than the server's limit of ${maxBodyBytes} bytes; send a smaller batch, or raise ${SERVER_ENV.maxBodyBytes}`,
    );
  }
}

/** The body did not arrive within the server's deadline; the server answers 408 and closes the connection. */
export class BodyTimeoutError extends Error {
  override readonly name = 'BodyTimeoutError';

  constructor(
    /** The deadline, ms. */
    readonly timeoutMs: number,
    /** Bytes received before it. */
    readonly receivedBytes: number,
  ) {
    super(
      `the request body did not arrive within ${timeoutMs} ms (${receivedBytes} bytes received); send the whole body at once, or raise ${SERVER_ENV.bodyTimeoutMs}`,
    );
  }
}

/** The client went away before its body arrived; there is no one to answer. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
}

/** What a body being read has so far, kept on its request while it is read. */
interface BodyRead {
  readonly maxBodyBytes: number;
  readonly chunks: Buffer[];
  received: number;
  /** Cuts the read at its deadline; undefined without one. */
  timer: NodeJS.Timeout | undefined;
  readonly resolve: (body: Buffer) => void;
  readonly reject: (error: Error) => void;
}

/** Where a request keeps its {@link BodyRead}: the listeners are shared, not made per request. */
const BODY_READ = Symbol('modelfab.bodyRead');

type ReadingRequest = IncomingMessage & { [BODY_READ]?: BodyRead };

function detach(request: ReadingRequest): BodyRead | undefined {
  const read = request[BODY_READ];
  if (read === undefined) return undefined;
  request[BODY_READ] = undefined;
  if (read.timer !== undefined) clearTimeout(read.timer);
  request.off('data', onData);
  request.off('end', onEnd);
  request.off('error', onError);
  request.off('close', onClose);
  return read;
}

function onData(this: ReadingRequest, chunk: Buffer): void {
  const read = this[BODY_READ];
  if (read === undefined) return;
  read.received += chunk.length;
  if (read.received > read.maxBodyBytes) {
    detach(this);
    this.pause();
    read.chunks.length = 0;
    read.reject(new BodyTooLargeError(read.maxBodyBytes, undefined));
    return;
  }
  read.chunks.push(chunk);
}

function onEnd(this: ReadingRequest): void {
  const read = detach(this);
  if (read === undefined) return;
  const { chunks, received } = read;
  read.resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
}

function onError(this: ReadingRequest, error: Error): void {
  const read = detach(this);
  read?.reject(new ClientGoneError(`the request body could not be read: ${error.message}`));
}

function onClose(this: ReadingRequest): void {
  if (this.complete) return;
  const read = detach(this);
  read?.reject(new ClientGoneError('the client closed the connection before its body arrived'));
}

/**
 * Stops reading a body that is still arriving: the read rejects with `error`, what arrived is
 * dropped, and the request is paused. Returns false when no read was under way (the body had
 * arrived, or none was being read).
 */
export function cancelBodyRead(request: IncomingMessage, error: Error): boolean {
  const reading = request as ReadingRequest;
  const read = detach(reading);
  if (read === undefined) return false;
  reading.pause();
  read.chunks.length = 0;
  read.reject(error);
  return true;
}

/**
 * The request's body, at most `maxBodyBytes`, within `timeoutMs` of the call (0: no deadline). A
 * declared `Content-Length` over the limit fails before reading anything; a body that grows past
 * it fails as soon as it does, and the rest is not read; a body not complete at the deadline
 * fails then, and what arrived of it is dropped.
 * @throws BodyTooLargeError over the limit
 * @throws BodyTimeoutError past the deadline
 * @throws ClientGoneError when the request is aborted
 */
export function readRequestBody(
  request: IncomingMessage,
  maxBodyBytes: number,
  timeoutMs = 0,
): Promise<Buffer> {
  const declared = request.headers['content-length'];
  if (declared !== undefined) {
    const length = Number(declared);
    if (Number.isFinite(length) && length > maxBodyBytes) {
      return Promise.reject(new BodyTooLargeError(maxBodyBytes, length));
    }
  }
  const reading = request as ReadingRequest;
  if (reading[BODY_READ] !== undefined) {
    return Promise.reject(new Error('readRequestBody was called twice on one request; read the body once'));
  }
  return new Promise((resolve, reject) => {
    const read: BodyRead = { maxBodyBytes, chunks: [], received: 0, timer: undefined, resolve, reject };
    if (timeoutMs > 0) {
      read.timer = setTimeout(() => {
        read.timer = undefined;
        cancelBodyRead(request, new BodyTimeoutError(timeoutMs, read.received));
      }, timeoutMs);
    }
    reading[BODY_READ] = read;
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}

/** After a 413, the rest of the body is read and dropped (so the client gets the answer) up to this long, ms. */
const DISCARD_MS = 10_000;

/**
 * After a 413, reads and drops the rest of the body, so the client (still sending) sees the answer
 * instead of a reset connection, and the connection can serve its next request; a body that goes
 * on past another `maxBodyBytes` or for longer than {@link DISCARD_MS} gets its connection closed.
 */
export function discardRest(req: IncomingMessage, maxBodyBytes: number): void {
  if (req.complete) return;
  let dropped = 0;
  const timer = setTimeout(() => req.socket.destroy(), DISCARD_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > maxBodyBytes) {
      clearTimeout(timer);
      req.socket.destroy();
    }
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}
