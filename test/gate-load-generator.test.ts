/**
 * The gate's load generators, on a virtual clock against a fake executor: what a closed loop and
 * an open loop send, and how the open loop counts what a server that cannot keep up leaves behind
 * (late answers, unanswered requests), which the throughput search reads as "does not hold".
 */
import { describe, expect, it } from 'vitest';
import { closedLoop, openLoop } from '../lib/gate/load-generator';
import { uniformRandom } from '../lib/runtime';
import { FakeExecutor, serviceTime } from './support/fake-executor';
import { VirtualClock } from './support/virtual-clock';

const noInputs = () => ({});

describe('closedLoop', () => {
  it('sends the next request when the last one answered, for the duration', async () => {
    const clock = new VirtualClock();
    const result = await closedLoop(new FakeExecutor(clock, serviceTime(2)), noInputs, 10, 1, clock);
    expect(result).toMatchObject({ latenciesMs: [2, 2, 2, 2, 2], sent: 5, failed: 0, elapsedMs: 10 });
  });

  it('sends at least minRequests, however short the duration (the warm-up)', async () => {
    const clock = new VirtualClock();
    const result = await closedLoop(new FakeExecutor(clock, serviceTime(1)), noInputs, 0, 20, clock);
    expect(result.sent).toBe(20);
    expect(clock.now()).toBe(20);
  });

  it('lets an inference error through', async () => {
    const clock = new VirtualClock();
    const failing = new FakeExecutor(clock, serviceTime(1), 1, new Error('onnxruntime failed'));
    await expect(closedLoop(failing, noInputs, 10, 1, clock)).rejects.toThrow('onnxruntime failed');
  });
});

describe('openLoop', () => {
  /** An open loop at `rate` for `durationMs` against one worker taking `serviceMs` a request. */
  async function offer(
    rate: number,
    durationMs: number,
    serviceMs: number,
    drainMs: number,
    lateAfterMs: number,
  ) {
    const clock = new VirtualClock();
    const executor = new FakeExecutor(clock, serviceTime(serviceMs));
    const result = await openLoop(
      executor,
      noInputs,
      rate,
      durationMs,
      uniformRandom(7),
      drainMs,
      lateAfterMs,
      clock,
    );
    return { result, executor };
  }

  it('offers Poisson arrivals at the rate, and a server that keeps up leaves nothing behind', async () => {
    const { result } = await offer(200, 5000, 0.5, 100, 20);
    // 1,000 arrivals expected; a Poisson count is within ±10% of that with near certainty.
    expect(result.sent).toBeGreaterThan(900);
    expect(result.sent).toBeLessThan(1100);
    expect(result).toMatchObject({ failed: 0, late: 0 });
    expect(result.latenciesMs).toHaveLength(result.sent);
    expect(Math.min(...result.latenciesMs)).toBeCloseTo(0.5, 6);
  });

  it('counts the time a request waits behind others, so a server that cannot keep up shows it', async () => {
    // 400 rps against 4 ms a request: a backlog grows through the whole second.
    const { result } = await offer(400, 1000, 4, 10_000, 10_000);
    expect(result.failed).toBe(0);
    // The last requests waited for most of the backlog of ~1,600 ms of work sent within 1,000 ms.
    expect(Math.max(...result.latenciesMs)).toBeGreaterThan(400);
  });

  it('counts answers later than lateAfterMs after sending stopped as late: a backlog left behind', async () => {
    const { result } = await offer(400, 1000, 4, 10_000, 20);
    expect(result.late).toBeGreaterThan(0);
    expect(result.failed).toBe(0);
    expect(result.latenciesMs).toHaveLength(result.sent);
  });

  it('counts requests still unanswered when the drain ends as failed, and not their latency', async () => {
    const { result, executor } = await offer(400, 1000, 4, 50, 20);
    expect(result.failed).toBeGreaterThan(0);
    expect(result.latenciesMs.length + result.failed).toBe(result.sent);
    expect(result.latenciesMs).toHaveLength(executor.answered);
  });

  it('counts failed requests and keeps the first error', async () => {
    const clock = new VirtualClock();
    const failing = new FakeExecutor(clock, serviceTime(1), 1, new Error('queue full'));
    const result = await openLoop(failing, noInputs, 100, 500, uniformRandom(7), 50, 50, clock);
    expect(result.sent).toBeGreaterThan(0);
    expect(result).toMatchObject({ failed: result.sent, latenciesMs: [], firstError: 'queue full' });
  });
});
