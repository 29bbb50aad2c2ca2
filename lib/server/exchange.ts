/**
 * One request and its answer, as the server handles it: the exchange record the access log reads
 * when the response closes, and the functions that write answers (one `writeHead`, one write).
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import { type RefusalReason, errorAnswer } from './error-answer';
import { type OipRoute } from './oip-routes';

/** What one request's log line and metrics need. */
export interface Exchange {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly started: number;
  route: OipRoute | undefined;
  /** True when the request named the served model (and version, if any). */
  known: boolean;
  /** The error answered, for the log: its class, and its message for 5xx. */
  error: Error | undefined;
  /** Set when the request was refused (counted by reason, logged sampled). */
  refusal: RefusalReason | undefined;
  /** True when the answer closes the connection (the server is draining, or the body was cut). */
  closeConnection: boolean;
  /** Logs and counts the exchange once its response has closed (the server's, one per server). */
  readonly done: (exchange: Exchange, res: http.ServerResponse) => void;
}

/** No extra response headers. */
export const NO_HEADERS: readonly string[] = [];
/** The longest path a log line or an error message quotes. */
const MAX_PATH_CHARS = 200;
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** Where a response keeps its {@link Exchange}, for the 'close' listener all responses share. */
const EXCHANGE = Symbol('modelfab.exchange');

type ExchangeResponse = http.ServerResponse & { [EXCHANGE]?: Exchange };

/** Every response's 'close' listener: one function instead of a closure per request. */
function onResponseClose(this: ExchangeResponse): void {
  const exchange = this[EXCHANGE];
  if (exchange === undefined) return;
  this[EXCHANGE] = undefined;
  exchange.done(exchange, this);
}

/** A request target's path, without the query, cut to a length a log line may quote. */
export function pathOf(target: string): string {
  const query = target.indexOf('?');
  const path = query < 0 ? target : target.slice(0, query);
  return path.length > MAX_PATH_CHARS ? `${path.slice(0, MAX_PATH_CHARS)}…` : path;
}

/** A header's value (the first, when it came more than once). */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The exchange of a request that just arrived: its request id (the client's `X-Request-Id` when
 * it is printable ASCII of at most 128 characters, else a new UUID), and `done` called once its
 * response has closed.
 */
export function startExchange(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  closeConnection: boolean,
  done: Exchange['done'],
): Exchange {
  const given = headerValue(req.headers['x-request-id']);
  const exchange: Exchange = {
    requestId: given !== undefined && REQUEST_ID.test(given) ? given : crypto.randomUUID(),
    method: req.method ?? 'GET',
    path: pathOf(req.url ?? '/'),
    started: performance.now(),
    route: undefined,
    known: false,
    error: undefined,
    refusal: undefined,
    closeConnection,
    done,
  };
  (res as ExchangeResponse)[EXCHANGE] = exchange;
  res.on('close', onResponseClose);
  return exchange;
}

/**
 * Answers with `body` and these headers in one `writeHead` (a flat name, value array, which node
 * takes without validating each through setHeader): Content-Type, Content-Length, the request id
 * and `Connection: close` when `exchange` says so, then `extra` (name, value, name, value…). A
 * string body goes out with the head in one write.
 */
export function respond(
  res: http.ServerResponse,
  exchange: Exchange | undefined,
  status: number,
  contentType: string,
  body: string | Buffer,
  extra: readonly string[],
): void {
  const length = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
  const headers = ['Content-Type', contentType, 'Content-Length', String(length)];
  if (exchange !== undefined) {
    headers.push('X-Request-Id', exchange.requestId);
    if (exchange.closeConnection) headers.push('Connection', 'close');
  }
  for (let i = 0; i < extra.length; i++) headers.push(extra[i]);
  res.writeHead(status, headers);
  res.end(body);
}

/** Answers with `value` as JSON; a response already under way is cut short instead. */
export function sendJson(
  res: http.ServerResponse,
  exchange: Exchange | undefined,
  status: number,
  value: unknown,
  extra: readonly string[] = NO_HEADERS,
): void {
  if (res.destroyed) return;
  if (res.headersSent) {
    // Too late for an error answer: cut the response short rather than leave it hanging.
    if (!res.writableEnded) res.destroy();
    return;
  }
  respond(res, exchange, status, 'application/json', JSON.stringify(value), extra);
}

/** Answers `error` as errorAnswer maps it, recording it (and the refusal it counts as) on the exchange. */
export function answerError(exchange: Exchange, res: http.ServerResponse, error: Error): void {
  exchange.error = error;
  const answer = errorAnswer(error, exchange.requestId);
  if (answer.refusal !== undefined) exchange.refusal = answer.refusal;
  if (answer.closeConnection) exchange.closeConnection = true;
  sendJson(res, exchange, answer.status, { error: answer.message }, answer.headers);
}
