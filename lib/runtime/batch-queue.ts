/**
 * The executor's request queue and its batching policy, as plain logic without threads or timers
 * so it can be reasoned about (and tested) on its own.
 *
 * Policy (the dynamic batcher): requests are taken in arrival order. With batching, the oldest
 * request is coalesced with the later requests that have the same batch key (the same dims
 * after dim 0 on every input), in order, up to `maxBatchSize` rows. Such a group is ready when it
 * is full (`maxBatchSize` rows, or the next compatible request does not fit) or when the oldest
 * request has waited `maxQueueDelayMs`; until then a full group of another key, or a request that
 * cannot be batched, may go first. Without batching, every request is its own batch.
 */

/** What the queue needs to know about a request. */
export interface QueueItem {
  /** Rows along dim 0, or undefined when the request cannot be stacked with others. */
  readonly rows: number | undefined;
  /** Requests with the same key can be stacked; undefined when the request cannot be. */
  readonly batchKey: string | undefined;
  /** When the request was queued (performance.now()). */
  readonly enqueuedAt: number;
  /** True when the request must run on its own (a retry after its batch failed). */
  readonly solo: boolean;
}

/** The batching limits. */
export interface BatchPolicy {
  /** The most rows a batch may hold. */
  readonly maxBatchSize: number;
  /** How long the oldest request may wait for a batch to fill, ms. */
  readonly maxQueueDelayMs: number;
}

/** A batch taken from the queue. */
export interface TakenBatch<T extends QueueItem> {
  readonly items: T[];
  /** Rows of the whole batch (1 for a request that cannot be stacked). */
  readonly rows: number;
}

/** How many queued requests one `take` looks at, so a long queue costs bounded time. */
const SCAN_LIMIT = 4096;

interface Slot<T> {
  readonly item: T;
  queued: boolean;
}

interface Group<T> {
  readonly slots: Slot<T>[];
  rows: number;
  full: boolean;
}

/** A FIFO of requests that hands out batches according to a {@link BatchPolicy}. */
export class BatchQueue<T extends QueueItem> {
  private slots: Slot<T>[] = [];
  private start = 0;
  private readonly index = new Map<T, Slot<T>>();

  /**
   * @param policy the batching limits; undefined (or `maxBatchSize` 1) runs every request alone
   */
  constructor(private policy: BatchPolicy | undefined) {}

  /** Requests waiting. */
  get size(): number {
    return this.index.size;
  }

  /** Stops batching: from now on every request is taken alone. */
  disableBatching(): void {
    this.policy = undefined;
  }

  /** Queues a request at the back. */
  push(item: T): void {
    const slot = { item, queued: true };
    this.slots.push(slot);
    this.index.set(item, slot);
  }

  /** Queues requests at the front, in the given order (retries go before newer requests). */
  pushFront(items: readonly T[]): void {
    const fresh = items.map((item) => ({ item, queued: true }));
    this.slots = [...fresh, ...this.slots.slice(this.start)];
    this.start = 0;
    for (const slot of fresh) this.index.set(slot.item, slot);
  }

  /** Removes a waiting request (timed out); false when it is not queued. */
  remove(item: T): boolean {
    const slot = this.index.get(item);
    if (slot === undefined) return false;
    this.dequeue(slot);
    this.compact();
    return true;
  }

  /** Removes and returns every waiting request. */
  drain(): T[] {
    const items = this.slots
      .slice(this.start)
      .filter((s) => s.queued)
      .map((s) => s.item);
    this.slots = [];
    this.start = 0;
    this.index.clear();
    return items;
  }

  /**
   * The next batch that is ready at `now`, removed from the queue; `{ waitMs }` when requests
   * wait but none is ready yet (call again after that long); undefined when the queue is empty.
   */
  take(now: number): TakenBatch<T> | { readonly waitMs: number } | undefined {
    this.skipDequeued();
    const head = this.slots[this.start];
    if (head === undefined) return undefined;
    const policy = this.policy;
    if (!policy || policy.maxBatchSize <= 1 || !stackable(head.item)) return this.takeSlots([head]);

    const headKey = head.item.batchKey!;
    const groups = new Map<string, Group<T>>();
    let ready: Group<T> | undefined;
    let loner: Slot<T> | undefined;
    const end = Math.min(this.slots.length, this.start + SCAN_LIMIT);
    for (let i = this.start; i < end; i++) {
      const slot = this.slots[i];
      if (!slot.queued) continue;
      const item = slot.item;
      if (!stackable(item)) {
        loner ??= slot;
        continue;
      }
      let group = groups.get(item.batchKey!);
      if (group === undefined) {
        group = { slots: [], rows: 0, full: false };
        groups.set(item.batchKey!, group);
      }
      if (group.full) continue;
      if (group.rows + item.rows! <= policy.maxBatchSize || group.slots.length === 0) {
        group.slots.push(slot);
        group.rows += item.rows!;
        if (group.rows >= policy.maxBatchSize) group.full = true;
      } else group.full = true;
      if (group.full && item.batchKey === headKey) break; // the head's batch is full: look no further
      if (group.full && ready === undefined) ready = group;
    }
    const headGroup = groups.get(headKey)!;
    const waited = now - head.item.enqueuedAt;
    if (headGroup.full || waited >= policy.maxQueueDelayMs) return this.takeSlots(headGroup.slots);
    if (ready !== undefined) return this.takeSlots(ready.slots);
    if (loner !== undefined) return this.takeSlots([loner]);
    return { waitMs: policy.maxQueueDelayMs - waited };
  }

  private takeSlots(slots: readonly Slot<T>[]): TakenBatch<T> {
    let rows = 0;
    for (const slot of slots) {
      this.dequeue(slot);
      rows += slot.item.rows ?? 1;
    }
    this.compact();
    return { items: slots.map((s) => s.item), rows: slots.length === 1 ? (slots[0].item.rows ?? 1) : rows };
  }

  private dequeue(slot: Slot<T>): void {
    slot.queued = false;
    this.index.delete(slot.item);
  }

  private skipDequeued(): void {
    while (this.start < this.slots.length && !this.slots[this.start].queued) this.start++;
  }

  private compact(): void {
    this.skipDequeued();
    if (this.start === this.slots.length) {
      this.slots = [];
      this.start = 0;
    } else if (this.start > 1024 && this.start * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.start);
      this.start = 0;
    }
  }
}

function stackable(item: QueueItem): boolean {
  return !item.solo && item.rows !== undefined && item.batchKey !== undefined;
}
