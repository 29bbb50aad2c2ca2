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

/** Lines written to stdout's buffer and not yet flushed, each with its newline. */
let pending = '';
let flushScheduled = false;
let exitHookInstalled = false;

/**
 * Writes the lines {@link stdoutLogSink} holds to stdout now. stdout is synchronous for files
 * and pipes (and terminals) on Linux, so nothing is lost when the process exits right after.
 */
export function flushStdoutLog(): void {
  flushScheduled = false;
  if (pending === '') return;
  const text = pending;
  pending = '';
  try {
    process.stdout.write(text);
  } catch (error) {
    console.error(`modelfab server: the log could not be written to stdout: ${(error as Error).message}`);
  }
}

/**
 * Writes each line to stdout, buffered: the lines of one event-loop turn go out in one write at
 * the end of the turn (a busy server answers many requests per turn, and a write to a file or
 * pipe is a system call that blocks). Buffered lines are flushed before the process exits, by
 * {@link ServerLog.flush} and on the process's `exit` event.
 */
export const stdoutLogSink: LogSink = (line) => {
  pending += `${line}\n`;
  if (flushScheduled) return;
  flushScheduled = true;
  setImmediate(flushStdoutLog);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', flushStdoutLog);
  }
};

/** The ISO time of the last line, and its millisecond: lines of the same millisecond share it. */
let lastMs = NaN;
let lastIso = '';

function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** Writes structured lines to a {@link LogSink}. */
export class ServerLog {
  constructor(private readonly sink: LogSink = stdoutLogSink) {}

  /**
   * Writes `{ ts, level, msg, ...fields }` as one line. A failing sink is reported on stderr and
   * never fails the caller.
   */
  write(level: LogLevel, msg: string, fields: Readonly<Record<string, unknown>> = {}): void {
    try {
      const line: Record<string, unknown> = { ts: isoNow(), level, msg };
      for (const key in fields) line[key] = fields[key];
      this.sink(JSON.stringify(line));
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

  /** Writes out the lines a buffered sink (stdout's) still holds; other sinks write at once. */
  flush(): void {
    if (this.sink === stdoutLogSink) flushStdoutLog();
  }
}
