/**
 * The inference worker: a worker_threads entry that owns one onnxruntime session and runs the
 * batches the executor sends it, one at a time. `session.run()` blocks this thread, never the
 * main one. See worker-protocol.ts for how requests arrive.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { InferenceSession, type Tensor, env } from 'onnxruntime-node';
import { fromOrtTensor, toOrtTensor } from './ort-tensor';
import { sessionOptionsFor } from './session-options';
import { SpinBudget } from './spin-budget';
import { type TensorData } from './tensor';
import { type WorkerReply, type WorkerRequest, type WorkerSetup } from './worker-protocol';

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(message, transfer);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The next request: at once if one is waiting; else poll the doorbell for as long as the spin
 * budget allows (a request that follows soon is picked up without a sleep and a wake-up), then
 * sleep on it.
 */
function nextRequest(port: MessagePort, doorbell: Int32Array, spin: SpinBudget): WorkerRequest {
  for (;;) {
    const rung = Atomics.load(doorbell, 0);
    const received = receiveMessageOnPort(port);
    if (received !== undefined) return received.message as WorkerRequest;
    const pollMs = spin.next();
    if (pollMs > 0) {
      const until = performance.now() + pollMs;
      let rang = false;
      // Read the clock every 64 polls only: it allocates, and garbage means GC pauses.
      for (let i = 1; !rang; i++) {
        rang = Atomics.load(doorbell, 0) !== rung;
        if ((i & 63) === 0 && performance.now() >= until) break;
      }
      if (rang) spin.hit();
      else spin.miss();
    }
    Atomics.wait(doorbell, 0, rung);
  }
}

/** The buffers of the outputs, to transfer rather than copy (onnxruntime made them for this reply). */
function transferables(outputs: Record<string, TensorData>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const t of Object.values(outputs)) {
    if (!Array.isArray(t.data) && t.data.buffer instanceof ArrayBuffer) buffers.add(t.data.buffer);
  }
  return [...buffers];
}

async function run(
  session: InferenceSession,
  id: number,
  inputs: Readonly<Record<string, TensorData>>,
): Promise<void> {
  let outputs: Record<string, TensorData>;
  let inferMs: number;
  try {
    const feeds: Record<string, Tensor> = {};
    for (const [name, tensor] of Object.entries(inputs)) feeds[name] = toOrtTensor(tensor);
    const start = performance.now();
    const results = await session.run(feeds);
    inferMs = performance.now() - start;
    outputs = {};
    for (const name of session.outputNames) outputs[name] = fromOrtTensor(results[name]);
  } catch (error) {
    reply({ kind: 'failed', id, message: messageOf(error) });
    return;
  }
  const message: WorkerReply = { kind: 'result', id, outputs, inferMs };
  try {
    reply(message, transferables(outputs));
  } catch {
    reply(message); // a buffer that cannot be transferred is copied instead
  }
}

async function main(): Promise<void> {
  const setup = workerData as WorkerSetup;
  // The process-wide logger too (its lines are not JSON); errors come back as exceptions.
  env.logLevel = 'fatal';
  let session: InferenceSession;
  const start = performance.now();
  try {
    session = await InferenceSession.create(
      setup.modelPath,
      sessionOptionsFor({
        intraOpThreads: setup.intraOpThreads,
        executionProvider: setup.executionProvider,
      }),
    );
  } catch (error) {
    reply({ kind: 'load-failed', message: messageOf(error) });
    return;
  }
  reply({
    kind: 'ready',
    loadMs: performance.now() - start,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
  });
  const doorbell = new Int32Array(setup.doorbell);
  const spin = new SpinBudget(setup.spinMs);
  for (;;) {
    const request = nextRequest(setup.requests, doorbell, spin);
    if (request.kind === 'close') break;
    await run(session, request.id, request.inputs);
  }
  await session.release();
  setup.requests.close();
}

void main();
