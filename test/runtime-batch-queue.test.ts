/**
 * lib/runtime BatchQueue: the dynamic batcher's policy on its own (no threads, no timers): FIFO,
 * coalescing by batch key up to maxBatchSize rows, the queue delay of the oldest request, and
 * what may overtake a waiting batch.
 */
import { describe, expect, it } from 'vitest';
import { BatchQueue, type QueueItem } from '../lib/runtime';

interface Item extends QueueItem {
  readonly name: string;
}

function item(
  name: string,
  rows: number | undefined,
  batchKey: string | undefined = 'k',
  enqueuedAt = 0,
): Item {
  return { name, rows, batchKey, enqueuedAt, solo: false };
}

function names(taken: ReturnType<BatchQueue<Item>['take']>): string[] | { waitMs: number } | undefined {
  if (taken === undefined || 'waitMs' in taken) return taken;
  return taken.items.map((i) => i.name);
}

describe('BatchQueue', () => {
  it('without a policy hands out one request at a time, oldest first', () => {
    const q = new BatchQueue<Item>(undefined);
    q.push(item('a', 1));
    q.push(item('b', undefined));
    expect(q.size).toBe(2);
    expect(q.take(0)).toMatchObject({ items: [{ name: 'a' }], rows: 1 });
    expect(q.take(0)).toMatchObject({ items: [{ name: 'b' }], rows: 1 });
    expect(q.take(0)).toBeUndefined();
    expect(q.size).toBe(0);
  });

  it('waits for the oldest request’s delay, then takes what has come', () => {
    const q = new BatchQueue<Item>({ maxBatchSize: 4, maxQueueDelayMs: 5 });
    q.push(item('a', 1, 'k', 0));
    q.push(item('b', 1, 'k', 2));
    expect(q.take(1)).toEqual({ waitMs: 4 });
    q.push(item('c', 1, 'k', 3));
    expect(names(q.take(5))).toEqual(['a', 'b', 'c']);
    expect(q.size).toBe(0);
  });

  it('takes a full batch at once and leaves the rest', () => {
    const q = new BatchQueue<Item>({ maxBatchSize: 4, maxQueueDelayMs: 100 });
    for (const name of ['a', 'b', 'c', 'd', 'e']) q.push(item(name, 1));
    const taken = q.take(0);
    expect(names(taken)).toEqual(['a', 'b', 'c', 'd']);
    expect(taken).toMatchObject({ rows: 4 });
    expect(q.take(0)).toEqual({ waitMs: 100 });
  });

  it('counts rows, closes a batch when the next request does not fit, and runs an oversized one alone', () => {
    const q = new BatchQueue<Item>({ maxBatchSize: 4, maxQueueDelayMs: 100 });
    q.push(item('three', 3));
    q.push(item('two', 2));
    q.push(item('one', 1));
    expect(q.take(0)).toMatchObject({ items: [{ name: 'three' }], rows: 3 });
    expect(q.take(0)).toEqual({ waitMs: 100 });
    expect(q.take(100)).toMatchObject({ items: [{ name: 'two' }, { name: 'one' }], rows: 3 });
    q.push(item('ten', 10));
    expect(q.take(0)).toMatchObject({ items: [{ name: 'ten' }], rows: 10 });
  });

  it('stacks only requests with the same key', () => {
    const q = new BatchQueue<Item>({ maxBatchSize: 2, maxQueueDelayMs: 100 });
    q.push(item('a1', 1, 'A'));
    q.push(item('b1', 1, 'B'));
    q.push(item('a2', 1, 'A'));
    q.push(item('b2', 1, 'B'));
    expect(names(q.take(0))).toEqual(['a1', 'a2']);
    expect(names(q.take(0))).toEqual(['b1', 'b2']);
  });

  it('lets a full batch of another key, or a request that cannot be stacked, pass a waiting one', () => {
    const q = new BatchQueue<Item>({ maxBatchSize: 2, maxQueueDelayMs: 10 });
    q.push(item('a', 1, 'A'));
    q.push(item('b1', 1, 'B'));
    q.push(item('loner', undefined, undefined));
    q.push(item('b2', 1, 'B'));
    expect(names(q.take(0))).toEqual(['b1', 'b2']);
    expect(names(q.take(0))).toEqual(['loner']);
    expect(q.take(0)).toEqual({ waitMs: 10 });
    expect(names(q.take(10))).toEqual(['a']);
  });

  it('runs a solo request alone, and retries pushed to the front go first', () => {
    const q = new BatchQueue<Item>({ maxBatchSize: 8, maxQueueDelayMs: 0 });
    q.push(item('new', 1));
    q.pushFront([
      { ...item('r1', 1), solo: true },
      { ...item('r2', 1), solo: true },
    ]);
    expect(names(q.take(0))).toEqual(['r1']);
    expect(names(q.take(0))).toEqual(['r2']);
    expect(names(q.take(0))).toEqual(['new']);
  });

  it('removes and drains', () => {
    const q = new BatchQueue<Item>({ maxBatchSize: 8, maxQueueDelayMs: 0 });
    const a = item('a', 1);
    const b = item('b', 1);
    const c = item('c', 1);
    for (const i of [a, b, c]) q.push(i);
    expect(q.remove(b)).toBe(true);
    expect(q.remove(b)).toBe(false);
    expect(q.size).toBe(2);
    expect(names(q.take(0))).toEqual(['a', 'c']);
    q.push(a);
    q.push(b);
    expect(q.drain().map((i) => i.name)).toEqual(['a', 'b']);
    expect(q.size).toBe(0);
  });

  it('stops stacking once batching is disabled', () => {
    const q = new BatchQueue<Item>({ maxBatchSize: 8, maxQueueDelayMs: 0 });
    q.push(item('a', 1));
    q.push(item('b', 1));
    q.disableBatching();
    expect(names(q.take(0))).toEqual(['a']);
  });

  it('stays consistent over many requests', () => {
    const q = new BatchQueue<Item>({ maxBatchSize: 3, maxQueueDelayMs: 0 });
    const seen: string[] = [];
    for (let i = 0; i < 5000; i++) {
      q.push(item(`r${i}`, 1, i % 7 === 0 ? 'odd' : 'k'));
      if (i % 2 === 0) {
        const taken = q.take(0);
        if (taken && !('waitMs' in taken)) seen.push(...taken.items.map((t) => t.name));
      }
    }
    for (let taken = q.take(0); taken && !('waitMs' in taken); taken = q.take(0)) {
      seen.push(...taken.items.map((t) => t.name));
    }
    expect(seen).toHaveLength(5000);
    expect(new Set(seen).size).toBe(5000);
    expect(q.size).toBe(0);
  });
});
