/**
 * The access log and the request metrics: what the server records of each exchange once its
 * response has closed. One JSON line per request at a level that means something (`error` for the
 * server's own faults, `warn` for timeouts and capacity refusals, `info` otherwise); refusals are
 * all counted, and logged sampled (they come in floods under overload).
 */
import type http from 'node:http';
import { WorkerCrashError } from '../runtime';
import { type RefusalReason } from './error-answer';
import { type Exchange } from './exchange';
import { LogSampler } from './log-sampler';
import { type LogLevel, type ServerLog } from './server-log';
import { type ServerMetrics } from './server-metrics';

/** Refusals that mean the server is at capacity: logged at warn, the others at info. */
const CAPACITY_REFUSALS: ReadonlySet<RefusalReason> = new Set(['queue_full', 'body_budget', 'decode_memory']);

/** Milliseconds to two decimals, for log lines. */
export function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Records exchanges: request metrics, refusal counts, and the log lines. */
export class AccessLog {
  private readonly refusals = new LogSampler();

  constructor(
    private readonly log: ServerLog,
    private readonly metrics: ServerMetrics,
    private readonly modelName: string,
  ) {}

  /** Records an exchange whose response has closed (answered, or abandoned by the client). */
  record(exchange: Exchange, res: http.ServerResponse): void {
    const durationMs = performance.now() - exchange.started;
    const aborted = !res.writableFinished;
    // 499 (nginx's "client closed request") when the client left before any answer.
    const status = aborted && !res.headersSent ? 499 : res.statusCode;
    const kind = exchange.route?.kind;
    if (kind !== 'live' && kind !== 'ready') this.metrics.countRequest(exchange.known, status);
    const refusal = exchange.refusal;
    // Refusals take microseconds: in the latency histogram they would hide the latency of the served.
    if (kind === 'infer' && exchange.known && refusal === undefined) {
      this.metrics.observeInference(durationMs / 1000);
    }
    const fields: Record<string, unknown> = {
      requestId: exchange.requestId,
      method: exchange.method,
      path: exchange.path,
      status,
      durationMs: roundMs(durationMs),
    };
    let level: LogLevel = status === 500 ? 'error' : status === 504 ? 'warn' : 'info';
    if (refusal !== undefined) {
      this.metrics.countRefusal(refusal);
      const suppressed = this.refusals.take(refusal);
      if (suppressed === undefined) return;
      fields.refusal = refusal;
      fields.suppressedSinceLast = suppressed;
      level = CAPACITY_REFUSALS.has(refusal) ? 'warn' : 'info';
    }
    if (exchange.known) fields.model = this.modelName;
    if (aborted) fields.aborted = true;
    const error = exchange.error;
    if (error !== undefined) {
      fields.errorKind = error.name;
      // Client errors may quote received values; only the server's own faults are logged in full.
      if (status >= 500 && refusal === undefined) {
        fields.error = error.message;
        if (status === 500 && !(error instanceof WorkerCrashError)) fields.stack = error.stack;
      }
    }
    this.log.write(level, 'request', fields);
  }
}
