/**
 * Structured logs: one JSON object per line, for a log collector to parse. One line per request
 * (request id, method, path, status, duration, model) and one per lifecycle event. Tensor data
 * never reaches a log: request lines carry no bodies, and the messages of client errors (which may
 * quote received values) are left out.
 */

/** Where log lines go: one JSON object per call, without a trailing newline. */
export type LogSink = (line: string) => void;

/** How serious a line is. */
export type LogLevel = 'info' | 'warn' | 'error';

/** Writes each line to stdout. */
export const stdoutLogSink: LogSink = (line) => {
  process.stdout.write(`${line}\n`);
};

/** Writes structured lines to a {@link LogSink}. */
export class ServerLog {
  constructor(private readonly sink: LogSink = stdoutLogSink) {}

  /**
   * Writes `{ ts, level, msg, ...fields }` as one line. A failing sink is reported on stderr and
   * never fails the caller.
   */
  write(level: LogLevel, msg: string, fields: Readonly<Record<string, unknown>> = {}): void {
    try {
      this.sink(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }));
    } catch (error) {
      console.error(`modelfab server: the log sink failed: ${(error as Error).message}`);
    }
  }

  info(msg: string, fields?: Readonly<Record<string, unknown>>): void {
    this.write('info', msg, fields);
  }

  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void {
    this.write('warn', msg, fields);
  }

  error(msg: string, fields?: Readonly<Record<string, unknown>>): void {
    this.write('error', msg, fields);
  }
}
