/**
 * The messages between the executor (main thread) and its inference workers.
 *
 * Requests travel on a dedicated MessagePort that the worker reads synchronously
 * (`receiveMessageOnPort`), with a shared "doorbell" counter the main thread bumps after each
 * post: an idle worker polls the doorbell for a moment (`spinMs`, adaptive: see SpinBudget),
 * then sleeps on it with `Atomics.wait`, so a request reaches it without a trip through its event
 * loop, and usually without a sleep and a wake-up. Replies go back on
 * the worker's `parentPort` as ordinary messages, which the main thread's event loop delivers.
 */
import { type MessagePort } from 'node:worker_threads';
import type { ExecutionProvider } from '../core/execution-provider';
import { type TensorData } from './tensor';

/** What a worker gets as `workerData`. */
export interface WorkerSetup {
  readonly modelPath: string;
  readonly intraOpThreads: number;
  readonly executionProvider: ExecutionProvider;
  /** The port requests arrive on (the main thread keeps the other end). */
  readonly requests: MessagePort;
  /** An Int32Array's buffer: element 0 counts the requests posted so far. */
  readonly doorbell: SharedArrayBuffer;
  /** The polling budget of an idle worker, ms (see SpinBudget); 0 never polls. */
  readonly spinMs: number;
}

/** Main thread → worker. */
export type WorkerRequest =
  | { readonly kind: 'run'; readonly id: number; readonly inputs: Readonly<Record<string, TensorData>> }
  | { readonly kind: 'close' };

/** Worker → main thread. */
export type WorkerReply =
  | {
      readonly kind: 'ready';
      /** Session create time inside the worker, ms. */
      readonly loadMs: number;
      readonly inputNames: readonly string[];
      readonly outputNames: readonly string[];
    }
  | { readonly kind: 'load-failed'; readonly message: string }
  | {
      readonly kind: 'result';
      readonly id: number;
      readonly outputs: Record<string, TensorData>;
      /** `session.run` time inside the worker, ms. */
      readonly inferMs: number;
    }
  | { readonly kind: 'failed'; readonly id: number; readonly message: string };

/** Rings a worker's doorbell after a request was posted to it. */
export function ringDoorbell(doorbell: Int32Array): void {
  Atomics.add(doorbell, 0, 1);
  Atomics.notify(doorbell, 0, 1);
}
