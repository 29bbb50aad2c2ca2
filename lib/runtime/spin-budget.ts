/**
 * How long a thread may poll for an event before it sleeps, switched off where polling does not
 * pay.
 *
 * Polling saves the wake-up of a sleeping thread (tens of µs on a VM), but while a thread polls
 * it holds its CPU: when the thread it waits for shares that CPU (more runnable threads than
 * cores), the event cannot come until the poll gives up, so every wait costs the whole budget.
 * A poll that runs out of time now and then (a GC pause, a preempted thread) changes nothing; a
 * few in a row switch polling off. It is then tried again every so often, less and less often
 * while it keeps failing; one poll that catches its event switches it back on.
 */

/** Polls in a row that run out of time before polling is switched off. */
const MISSES_TO_SWITCH_OFF = 3;
/** Waits between trial polls while polling is off: starts here, doubles per failed trial. */
const TRIAL_INTERVAL = { first: 32, max: 1024 } as const;

/** An adaptive polling budget; see the module comment. */
export class SpinBudget {
  private on = true;
  private misses = 0;
  private trialInterval: number = TRIAL_INTERVAL.first;
  private waitsUntilTrial = 0;

  /** @param budgetMs how long one wait may poll, ms; 0 never polls */
  constructor(private readonly budgetMs: number) {}

  /** How long to poll in this wait, ms; 0 means sleep at once. Call once per wait. */
  next(): number {
    if (this.budgetMs <= 0) return 0;
    if (this.on || --this.waitsUntilTrial <= 0) return this.budgetMs;
    return 0;
  }

  /** The event came while polling. */
  hit(): void {
    this.on = true;
    this.misses = 0;
    this.trialInterval = TRIAL_INTERVAL.first;
  }

  /** Polling ran out of time before the event came. */
  miss(): void {
    if (this.on) {
      if (++this.misses < MISSES_TO_SWITCH_OFF) return;
      this.on = false;
    } else {
      this.trialInterval = Math.min(TRIAL_INTERVAL.max, this.trialInterval * 2);
    }
    this.waitsUntilTrial = this.trialInterval;
  }
}
