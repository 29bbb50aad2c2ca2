/**
 * Polling for a worker's reply on the main thread: while a batch that should finish within the
 * polling budget is out, the event loop keeps turning (setImmediate, so timers and I/O still run)
 * instead of sleeping, so the reply is picked up at once rather than after a wake-up of this
 * thread. How long it may turn adapts (see SpinBudget), and a model whose batches take longer than
 * the budget (by the moving average of recent `session.run` times) is never polled for.
 */
import { SpinBudget } from './spin-budget';

/** The main thread's polling for replies; one per executor. */
export class ReplySpin {
  /** Moving average of `session.run` times, ms (undefined before the first). */
  private averageInferMs: number | undefined;
  /** Whether the event loop is kept turning, until when, and for how long after a dispatch. */
  private hot = false;
  private hotUntil = 0;
  private hotMs = 0;
  private readonly spin: SpinBudget;

  /**
   * @param budgetMs how long one wait may poll, ms; 0 never polls
   * @param waiting whether a reply is still awaited (polling stops when not)
   */
  constructor(
    private readonly budgetMs: number,
    private readonly waiting: () => boolean,
  ) {
    this.spin = new SpinBudget(budgetMs);
  }

  /** A batch was sent to a worker: keep the event loop turning for its reply, if it pays. */
  dispatched(): void {
    if (this.budgetMs <= 0 || (this.averageInferMs ?? 0) > this.budgetMs) return;
    if (!this.hot) {
      this.hotMs = this.spin.next();
      if (this.hotMs <= 0) return;
      this.hot = true;
      setImmediate(this.turn);
    }
    this.hotUntil = performance.now() + this.hotMs;
  }

  /** A reply arrived; `inferMs` is its `session.run` time (undefined when the run failed). */
  replied(inferMs: number | undefined): void {
    if (this.hot) this.spin.hit();
    if (inferMs !== undefined) {
      this.averageInferMs =
        this.averageInferMs === undefined ? inferMs : 0.9 * this.averageInferMs + 0.1 * inferMs;
    }
  }

  private readonly turn = (): void => {
    if (!this.waiting()) {
      this.hot = false;
    } else if (performance.now() >= this.hotUntil) {
      this.hot = false;
      this.spin.miss();
    } else {
      setImmediate(this.turn);
    }
  };
}
