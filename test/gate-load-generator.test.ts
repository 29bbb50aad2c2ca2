/**
 * The gate's load generators, on a virtual clock against a fake served model: what a closed loop
 * and an open loop send, how the open loop counts what a server that cannot keep up leaves behind
 * (waiting, late answers, unanswered requests), which the throughput search reads as "does not
 * hold", and how a stop rule ends the sending early.
 */
import { describe, expect, it } from 'vitest';
import { closedLoop, openLoop, type OpenLoopOptions } from '../lib/gate/load-generator';
import { uniformRandom } from '../lib/runtime';
import { FakeExecutor, serviceTime } from './support/fake-executor';
import { VirtualClock } from './support/virtual-clock';

describe('closedLoop', () => {
  it('sends the next request when the last one answered, for the duration', async () => {
    const clock = new VirtualClock();
    const result = await closedLoop(new FakeExecutor(clock, serviceTime(2)), 10, 1, clock);
    const { idle, ...figures } = result;
    expect(figures).toEqual({
      latenciesMs: [2, 2, 2, 2, 2],
      completedAtMs: [2, 4, 6, 8, 10],
      sent: 5,
      failed: 0,
      late: 0,
      abandoned: 0,
      unansweredMs: [],
      sendingMs: 10,
      elapsedMs: 10,
      lateSends: 0,
      maxSendLagMs: 0,
    });
    await expect(idle).resolves.toBeUndefined();
  });

  it('sends at least minRequests, however short the duration (the warm-up)', async () => {
    const clock = new VirtualClock();
    const result = await closedLoop(new FakeExecutor(clock, serviceTime(1)), 0, 20, clock);
    expect(result.sent).toBe(20);
    expect(clock.now()).toBe(20);
  });

  it('lets an inference error through', async () => {
    const clock = new VirtualClock();
    const failing = new FakeExecutor(clock, serviceTime(1), 1, { failure: new Error('connection reset') });
    await expect(closedLoop(failing, 10, 1, clock)).rejects.toThrow('connection reset');
  });
});

describe('openLoop', () => {
  /** An open loop at `rate` for at most `maxDurationMs` against one worker taking `serviceMs` a request. */
  async function offer(
    serviceMs: number,
    {
      failure,
      workers,
      ...options
    }: Omit<OpenLoopOptions, 'random' | 'clock'> & { failure?: Error; workers?: number },
  ) {
    const clock = new VirtualClock();
    const executor = new FakeExecutor(clock, serviceTime(serviceMs), 1, {
      ...(failure ? { failure } : {}),
      ...(workers !== undefined ? { workers } : {}),
    });
    const result = await openLoop(executor, { ...options, random: uniformRandom(7), clock });
    return { result, executor, clock, tookMs: clock.now() };
  }

  it('offers Poisson arrivals at the rate, and a server that keeps up leaves nothing behind', async () => {
    const { result } = await offer(0.5, {
      ratePerSecond: 200,
      maxDurationMs: 5000,
      drainMs: 100,
      lateAfterMs: 20,
    });
    // 1,000 arrivals expected; a Poisson count is within ±10% (3 standard deviations) of that.
    expect(result.sent).toBeGreaterThan(900);
    expect(result.sent).toBeLessThan(1100);
    expect(result).toMatchObject({ failed: 0, late: 0 });
    expect(result.latenciesMs).toHaveLength(result.sent);
    expect(result.completedAtMs).toHaveLength(result.sent);
    expect(Math.min(...result.latenciesMs)).toBeCloseTo(0.5, 6);
    // Completion times only grow, and the last one is within a service time of the end of sending.
    expect(result.completedAtMs).toEqual([...result.completedAtMs].sort((a, b) => a - b));
    expect(result.elapsedMs).toBeLessThanOrEqual(5000 + 0.5 + 1e-9);
  });

  it('gaps between arrivals are exponential: their mean is 1/rate and a third are over the mean', async () => {
    // One request at a time takes 0.001 ms, so each latency is 0.001 ms and each completion time is
    // an arrival time (+0.001): the gaps between completions are the generator's gaps.
    const { result } = await offer(0.001, { ratePerSecond: 100, maxDurationMs: 20_000, drainMs: 100 });
    const at = result.completedAtMs;
    const gaps = at.slice(1).map((t, i) => t - at[i]);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeGreaterThan(9);
    expect(mean).toBeLessThan(11);
    // P(gap > mean) = 1/e ≈ 0.368 for an exponential; a fixed pacing would give about 0 or 1.
    const over = gaps.filter((g) => g > 10).length / gaps.length;
    expect(over).toBeGreaterThan(0.32);
    expect(over).toBeLessThan(0.42);
  });

  it('counts the time a request waits behind others from its scheduled send: no coordinated omission', async () => {
    // 400 rps against 4 ms a request: about 1,600 ms of work arrives within 1,000 ms, and the
    // backlog grows through the whole second.
    const { result } = await offer(4, {
      ratePerSecond: 400,
      maxDurationMs: 1000,
      drainMs: 10_000,
      lateAfterMs: 10_000,
    });
    expect(result.failed).toBe(0);
    expect(result.latenciesMs).toHaveLength(result.sent);
    // The server answers one request per 4 ms, so the last answer comes at least sent × 4 ms after
    // the start; the last request, scheduled before 1,000 ms, is counted from then: it waited for
    // the rest of that backlog (a generator that sent it only when the server was free would not see it).
    expect(result.elapsedMs).toBeGreaterThanOrEqual(result.sent * 4);
    expect(result.latenciesMs.at(-1)).toBeGreaterThan(result.elapsedMs - 1000);
    expect(Math.max(...result.latenciesMs)).toBeGreaterThan(400);
  });

  it('counts answers later than lateAfterMs after sending stopped as late: a backlog left behind', async () => {
    const { result } = await offer(4, {
      ratePerSecond: 400,
      maxDurationMs: 1000,
      drainMs: 10_000,
      lateAfterMs: 20,
    });
    expect(result.failed).toBe(0);
    expect(result.latenciesMs).toHaveLength(result.sent);
    // Every answer after 1,020 ms is late: those past the 255 or so the server answers by then.
    const late = result.completedAtMs.filter((t) => t > 1000 + 20).length;
    expect(late).toBeGreaterThan(100);
    expect(result.late).toBe(late);
  });

  it('counts requests still unanswered when the drain ends as failed, and not their latency', async () => {
    const { result, executor, tookMs } = await offer(4, {
      ratePerSecond: 400,
      maxDurationMs: 1000,
      drainMs: 50,
      lateAfterMs: 20,
    });
    expect(result.failed).toBeGreaterThan(0);
    expect(result.firstError).toBeUndefined();
    expect(result.latenciesMs.length + result.failed).toBe(result.sent);
    expect(result.latenciesMs).toHaveLength(executor.answered);
    // It waited the drain and no longer.
    expect(tookMs).toBeLessThanOrEqual(1000 + 50 + 4);
  });

  it('counts failed requests and keeps the first error', async () => {
    const { result } = await offer(1, {
      ratePerSecond: 100,
      maxDurationMs: 500,
      drainMs: 50,
      failure: new Error('queue full'),
    });
    expect(result.sent).toBeGreaterThan(0);
    expect(result).toMatchObject({ failed: result.sent, latenciesMs: [], firstError: 'queue full' });
  });

  it('stops sending when the stop rule says so, asking every checkEveryMs, then drains', async () => {
    const asked: Array<{ samples: number; sendingMs: number }> = [];
    const { result, tookMs } = await offer(1, {
      ratePerSecond: 1000,
      maxDurationMs: 10_000,
      drainMs: 100,
      checkEveryMs: 50,
      stopWhen: (latencies, sendingMs) => {
        asked.push({ samples: latencies.length, sendingMs });
        return latencies.length >= 300 ? 'stop' : undefined;
      },
    });
    // Asked about every 50 ms (the clock may have moved on by up to a gap), until 300 answers came.
    expect(asked.length).toBeGreaterThan(2);
    for (const [i, ask] of asked.entries()) {
      if (i > 0) expect(ask.sendingMs - asked[i - 1].sendingMs).toBeGreaterThanOrEqual(50);
    }
    const stop = asked.at(-1)!;
    expect(stop.samples).toBeGreaterThanOrEqual(300);
    expect(asked.at(-2)!.samples).toBeLessThan(300);
    expect(result.sendingMs).toBe(stop.sendingMs);
    expect(result.sendingMs).toBeLessThan(1000);
    expect(result.sent).toBeGreaterThanOrEqual(stop.samples);
    expect(result).toMatchObject({ failed: 0, late: 0, abandoned: 0 });
    // Nothing sent after it stopped: the drain is short, and it did not run on to maxDurationMs.
    expect(tookMs).toBeLessThan(result.sendingMs + 100);
  });

  it('records no answer to a request sent in the lead-in, and asks the stop rule only after it', async () => {
    const asked: number[] = [];
    const { result } = await offer(1, {
      ratePerSecond: 1000,
      maxDurationMs: 1000,
      drainMs: 100,
      checkEveryMs: 50,
      leadInMs: 300,
      stopWhen: (_latencies, sendingMs) => {
        asked.push(sendingMs);
        return undefined;
      },
    });
    // About 300 of the 1,000 requests fall in the lead-in: sent and answered, not recorded.
    expect(result.sent).toBeGreaterThan(900);
    expect(result.latenciesMs.length).toBeGreaterThan(600);
    expect(result.latenciesMs.length).toBeLessThan(result.sent - 250);
    expect(result.completedAtMs.every((at) => at >= 0 && at <= 700 + 100)).toBe(true);
    // The stop rule sees the time sent after the lead-in: never more than the 700 ms left.
    expect(asked[0]).toBeGreaterThanOrEqual(0);
    expect(asked[0]).toBeLessThan(50);
    expect(Math.max(...asked)).toBeLessThanOrEqual(700);
  });

  it('records how late each answered request was sent, beside its latency', async () => {
    const clock = new VirtualClock();
    // This process wakes 3 ms late every time it sleeps: its requests leave up to ~3 ms late.
    const late = { now: () => clock.now(), sleep: (ms: number) => clock.sleep(ms + 3) };
    const result = await openLoop(new FakeExecutor(clock, serviceTime(0.1), 1, { workers: Infinity }), {
      ratePerSecond: 500,
      maxDurationMs: 1000,
      drainMs: 100,
      lagToleranceMs: 2,
      random: uniformRandom(7),
      clock: late,
    });
    expect(result.sendLagsMs).toHaveLength(result.latenciesMs.length);
    expect(result.lateSends).toBeGreaterThan(0);
    expect(Math.max(...result.sendLagsMs!)).toBeCloseTo(result.maxSendLagMs, 6);
    // Counted from the scheduled send, a latency includes the lag: 0.1 ms of service after it.
    result.latenciesMs.forEach((ms, i) => expect(ms - result.sendLagsMs![i]).toBeCloseTo(0.1, 6));
  });

  it('counts a failure in the lead-in as a failure', async () => {
    const { result } = await offer(1, {
      ratePerSecond: 100,
      maxDurationMs: 500,
      drainMs: 50,
      leadInMs: 300,
      failure: new Error('queue full'),
    });
    expect(result).toMatchObject({ failed: result.sent, latenciesMs: [], firstError: 'queue full' });
  });

  it('passes the failures so far to the stop rule', async () => {
    let sawFailed = 0;
    const { result } = await offer(1, {
      ratePerSecond: 200,
      maxDurationMs: 10_000,
      drainMs: 50,
      checkEveryMs: 20,
      failure: new Error('503'),
      stopWhen: (_latencies, _sendingMs, failed) => {
        sawFailed = failed;
        return failed > 0 ? 'stop' : undefined;
      },
    });
    expect(sawFailed).toBeGreaterThan(0);
    expect(result.sendingMs).toBeLessThan(100);
    expect(result).toMatchObject({ failed: result.sent, firstError: '503' });
  });

  it('without a stop rule sends until maxDurationMs, and reports sendingMs as the time of the last send', async () => {
    const { result } = await offer(1, { ratePerSecond: 50, maxDurationMs: 700, drainMs: 10 });
    // Each request is answered 1 ms after it was scheduled: completion − latency is its schedule.
    const scheduled = result.completedAtMs.map((t, i) => t - result.latenciesMs[i]);
    // The same seed's arrivals, by hand: every one before 700 ms was sent, at its time, and no other.
    const random = uniformRandom(7);
    const arrivals: number[] = [];
    for (let t = -Math.log(1 - random()) * 20; t < 700; t += -Math.log(1 - random()) * 20) arrivals.push(t);
    expect(result.sent).toBe(arrivals.length);
    scheduled.forEach((t, i) => expect(t).toBeCloseTo(arrivals[i], 9));
    const last = scheduled.at(-1)!;
    expect(result.sendingMs).toBeGreaterThanOrEqual(last);
    expect(result.sendingMs).toBeLessThanOrEqual(Math.min(700, last + 1));
  });

  it('abandons what is in flight when the stop rule says abandon: neither waited for, counted nor failed', async () => {
    // 100 ms a request at 100 rps: about 10 requests are always in flight.
    const { result, executor, clock, tookMs } = await offer(100, {
      ratePerSecond: 100,
      maxDurationMs: 10_000,
      drainMs: 5_000,
      checkEveryMs: 100,
      stopWhen: (latencies) => (latencies.length >= 20 ? 'abandon' : undefined),
      workers: Infinity,
    });
    expect(result.abandoned).toBeGreaterThan(0);
    expect(result).toMatchObject({ failed: 0, late: 0 });
    expect(result.latenciesMs.length + result.abandoned).toBe(result.sent);
    // It returned when it stopped sending, without the drain; the abandoned answer later, uncounted.
    expect(tookMs).toBe(result.sendingMs);
    expect(executor.answered).toBe(result.latenciesMs.length);
    const counted = result.latenciesMs.length;
    await clock.sleep(200);
    expect(executor.answered).toBe(result.sent);
    expect(result.latenciesMs).toHaveLength(counted);
  });

  it('rejects when the stop rule throws', async () => {
    await expect(
      offer(1, {
        ratePerSecond: 100,
        maxDurationMs: 10_000,
        drainMs: 10,
        stopWhen: () => {
          throw new Error('cannot decide');
        },
      }),
    ).rejects.toThrow('cannot decide');
  });
});
