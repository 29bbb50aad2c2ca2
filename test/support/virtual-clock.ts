/**
 * A clock on which time passes only when everything waits: the gate's load generators read and
 * sleep on it, the fake executor completes batches on it, and a measurement of many virtual
 * seconds runs in milliseconds, with the same result every time.
 */
import { type Clock } from '../../lib/gate/bench-environment';

interface Timer {
  readonly at: number;
  readonly order: number;
  readonly fire: () => void;
}

/**
 * Virtual time, ms from 0. Timers fire in time order (in the order they were set when due at the
 * same time). Time moves to the next timer only once the code that the previous one woke has
 * nothing left to run (a `setImmediate` after the microtasks), so the code under test always sees
 * the clock where it left it.
 */
export class VirtualClock implements Clock {
  private time = 0;
  private order = 0;
  private readonly timers: Timer[] = [];
  private advancing = false;

  now(): number {
    return this.time;
  }

  /** Resolves `ms` later, at least 1 ms, as `setTimeout` does. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.at(this.time + Math.max(1, ms), resolve));
  }

  /** Runs `fire` when the clock reaches `at` (at once, in time order, when `at` has passed). */
  at(at: number, fire: () => void): void {
    const timer = { at: Math.max(at, this.time), order: this.order++, fire };
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1].at > timer.at) i--;
    this.timers.splice(i, 0, timer);
    this.scheduleAdvance();
  }

  private scheduleAdvance(): void {
    if (this.advancing) return;
    this.advancing = true;
    setImmediate(this.advance);
  }

  private readonly advance = (): void => {
    this.advancing = false;
    const next = this.timers.shift();
    if (!next) return;
    this.time = next.at;
    next.fire();
    if (this.timers.length > 0) this.scheduleAdvance();
  };
}
