/**
 * Log sampling for lines that come in floods (refused requests): the first line of a kind is
 * written, then at most one per interval, carrying how many were left out since the last one.
 * The metrics count every one; the log shows that it happens and how often.
 */

/** How often a line of one kind is written at most, ms. */
export const LOG_SAMPLE_INTERVAL_MS = 10_000;

/** Decides which lines of each kind get written. */
export class LogSampler {
  private readonly kinds = new Map<string, { lastAt: number; suppressed: number }>();

  /**
   * @param intervalMs the least time between two written lines of one kind
   * @param now the clock, ms
   */
  constructor(
    private readonly intervalMs: number = LOG_SAMPLE_INTERVAL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Whether to write a line of `kind` now: undefined to leave it out, else the number of lines of
   * that kind left out since the last one written (0 for the first).
   */
  take(kind: string): number | undefined {
    const at = this.now();
    const seen = this.kinds.get(kind);
    if (seen === undefined) {
      this.kinds.set(kind, { lastAt: at, suppressed: 0 });
      return 0;
    }
    if (at - seen.lastAt < this.intervalMs) {
      seen.suppressed++;
      return undefined;
    }
    const suppressed = seen.suppressed;
    seen.lastAt = at;
    seen.suppressed = 0;
    return suppressed;
  }
}
