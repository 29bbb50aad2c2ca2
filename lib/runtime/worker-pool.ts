/**
 * The executor's inference workers: worker threads that each hold an onnxruntime session of one
 * model. The pool starts them, hands a job to an idle worker (its inputs posted with as few copies
 * as possible, its doorbell rung: see worker-protocol.ts), routes each reply back to its job,
 * reports a worker that exits on its own, and stops them all. What runs when, and what a reply
 * means for the requests of a job, is the executor's (executor.ts).
 */
import { MessageChannel, type MessagePort, type ResourceLimits, Worker } from 'node:worker_threads';
import { ModelLoadError } from './errors';
import type { ExecutionProvider } from '../core/execution-provider';
import { type TensorData } from './tensor';
import { type WorkerReply, type WorkerRequest, type WorkerSetup, ringDoorbell } from './worker-protocol';
import { type WorkerScript, resolveWorkerScript } from './worker-script';

/** How to start a {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** The ONNX model file, an absolute path. */
  readonly modelPath: string;
  /** Worker threads, each with its own session. */
  readonly workers: number;
  /** onnxruntime intra-op threads per session. */
  readonly intraOpThreads: number;
  /** The execution provider of every session. */
  readonly executionProvider: ExecutionProvider;
  /** How long an idle worker polls for its next job before it sleeps, ms (see SpinBudget); 0 never polls. */
  readonly spinMs: number;
  /** V8 heap limits of each worker thread. @default Node's defaults */
  readonly resourceLimits?: ResourceLimits;
}

/** A worker's answer to a job: the outputs and the `session.run` time, or onnxruntime's error message. */
export type JobReply = Extract<WorkerReply, { readonly kind: 'result' | 'failed' }>;

/** A worker that exited on its own (not stopped by {@link WorkerPool.close}). */
export interface WorkerExit<Job> {
  /** The worker's number, from 0. */
  readonly index: number;
  /** Its exit code. */
  readonly code: number;
  /** Its uncaught error, when it had one. */
  readonly error: Error | undefined;
  /** The job it was running, whose reply will never come. */
  readonly job: Job | undefined;
}

/** What a {@link WorkerPool} tells its owner; called on the main thread. */
export interface WorkerPoolListener<Job> {
  /** A worker answered `job`; it is idle again. */
  readonly onReply: (job: Job, reply: JobReply) => void;
  /** A worker exited on its own; it has left the pool. */
  readonly onExit: (exit: WorkerExit<Job>) => void;
}

interface WorkerHandle<Job> {
  readonly index: number;
  readonly worker: Worker;
  readonly requests: MessagePort;
  readonly doorbell: Int32Array;
  readonly loadMs: number;
  readonly inputNames: readonly string[];
  /** The job the worker runs, and the id its reply will carry. */
  running: { readonly id: number; readonly job: Job } | undefined;
  /** The worker's uncaught error, if any (its 'error' event). */
  error: Error | undefined;
  /** Set when the worker exited (its 'exit' event), even before the pool's owner listened. */
  exitCode: number | undefined;
}

/** How long close() lets a worker release its session before terminating it, ms. */
const CLOSE_GRACE_MS = 1000;

/** Below this size, cloning data whose buffer is exactly its own is cheaper than copy + transfer. */
const CLONE_BELOW_BYTES = 16 * 1024;

/**
 * The data to post for one input, with as few copies as possible: the caller's buffer itself when
 * handed over (transferred); a small array that spans its whole buffer as is (structured clone
 * copies it once); otherwise one exact copy that is transferred (cloning a view would copy its
 * whole underlying buffer, and cloning copies twice). SharedArrayBuffer data and strings go as
 * they are.
 */
function postable(tensor: TensorData, handOver: boolean, transfer: ArrayBuffer[]): TensorData {
  const data = tensor.data;
  if (Array.isArray(data) || !(data.buffer instanceof ArrayBuffer)) return tensor;
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  if (whole && handOver) {
    if (!transfer.includes(data.buffer)) transfer.push(data.buffer);
    return tensor;
  }
  if (whole && data.byteLength < CLONE_BELOW_BYTES) return tensor;
  const copy = data.slice();
  transfer.push(copy.buffer);
  return { type: tensor.type, dims: tensor.dims, data: copy };
}

/** Starts worker `index` and resolves once its session is loaded. */
function startWorker<Job>(
  index: number,
  script: WorkerScript,
  options: WorkerPoolOptions,
): Promise<WorkerHandle<Job>> {
  const { modelPath, intraOpThreads, executionProvider, spinMs, resourceLimits } = options;
  const doorbell = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  const { port1, port2 } = new MessageChannel();
  const setup: WorkerSetup = {
    modelPath,
    intraOpThreads,
    executionProvider,
    requests: port2,
    doorbell,
    spinMs,
  };
  const worker = new Worker(script.file, {
    execArgv: [...script.execArgv],
    workerData: setup,
    transferList: [port2],
    ...(resourceLimits ? { resourceLimits } : {}),
  });
  return new Promise((resolve, reject) => {
    const detach = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const fail = (message: string) => {
      detach();
      port1.close();
      void worker.terminate();
      reject(new ModelLoadError(modelPath, message));
    };
    const onMessage = (reply: WorkerReply) => {
      if (reply.kind === 'ready') {
        detach();
        const handle: WorkerHandle<Job> = {
          index,
          worker,
          requests: port1,
          doorbell: new Int32Array(doorbell),
          loadMs: reply.loadMs,
          inputNames: reply.inputNames,
          running: undefined,
          error: undefined,
          exitCode: undefined,
        };
        // Record what happens until the pool's owner listens (other workers may still be loading).
        worker.on('error', (error) => {
          handle.error = error;
        });
        worker.once('exit', (code) => {
          handle.exitCode = code;
        });
        resolve(handle);
      } else if (reply.kind === 'load-failed') {
        fail(`onnxruntime could not load ${modelPath}: ${reply.message}`);
      }
    };
    const onError = (error: Error) => fail(`inference worker ${index} failed to start: ${error.message}`);
    const onExit = (code: number) =>
      fail(`inference worker ${index} exited with code ${code} before it was ready`);
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

/**
 * Inference workers, each running one job at a time. Start with {@link WorkerPool.start}, then
 * {@link WorkerPool.listen} before the first {@link WorkerPool.run}; stop with
 * {@link WorkerPool.close} (or {@link WorkerPool.terminate} when it was never listened to).
 */
export class WorkerPool<Job> {
  /** Session create time of the slowest worker, measured inside the worker, ms. */
  readonly loadMs: number;
  /** The model's input names as onnxruntime loaded them (in the first worker). */
  readonly inputNames: readonly string[];

  private readonly handles: readonly WorkerHandle<Job>[];
  private readonly idle: WorkerHandle<Job>[];
  private readonly live = new Set<WorkerHandle<Job>>();
  private nextJobId = 1;
  private closing: Promise<void> | undefined;

  private constructor(handles: readonly WorkerHandle<Job>[]) {
    this.handles = handles;
    this.loadMs = Math.max(...handles.map((h) => h.loadMs));
    this.inputNames = handles[0].inputNames;
    this.idle = [...handles];
    for (const handle of handles) this.live.add(handle);
  }

  /**
   * Starts the workers, each loading the model into its own session, and resolves when all are
   * ready; when one fails, the others are terminated.
   * @throws ModelLoadError when onnxruntime cannot load the model (its message included) or a
   *   worker cannot start
   */
  static async start<Job>(options: WorkerPoolOptions): Promise<WorkerPool<Job>> {
    const script = resolveWorkerScript();
    const started = await Promise.allSettled(
      Array.from({ length: options.workers }, (_, i) => startWorker<Job>(i, script, options)),
    );
    const handles = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(handles.map((h) => h.worker.terminate()));
      throw failed.reason;
    }
    return new WorkerPool(handles);
  }

  /**
   * Routes replies and exits to `listener` from now on; a worker that exited while the others
   * were loading is reported at once.
   */
  listen(listener: WorkerPoolListener<Job>): void {
    for (const handle of this.handles) {
      handle.worker.on('message', (reply: WorkerReply) => this.onMessage(listener, handle, reply));
      if (handle.exitCode === undefined) {
        handle.worker.on('exit', (code) => this.onExit(listener, handle, code));
      }
    }
    for (const handle of this.handles) {
      if (handle.exitCode !== undefined) this.onExit(listener, handle, handle.exitCode);
    }
  }

  /** Live workers. */
  get size(): number {
    return this.live.size;
  }

  /** Live workers running a job. */
  get busy(): number {
    let busy = 0;
    for (const handle of this.live) if (handle.running) busy++;
    return busy;
  }

  /** True when a worker is free to {@link run} a job. */
  get hasIdle(): boolean {
    return this.idle.length > 0;
  }

  /** The jobs live workers are running. */
  runningJobs(): Job[] {
    const jobs: Job[] = [];
    for (const handle of this.live) if (handle.running) jobs.push(handle.running.job);
    return jobs;
  }

  /**
   * Hands `job` to an idle worker (check {@link hasIdle} first) with `inputs` to run. With
   * `handOver`, the inputs' ArrayBuffers that are whole are transferred (detached here) instead
   * of copied.
   */
  run(job: Job, inputs: Readonly<Record<string, TensorData>>, handOver: boolean): void {
    const handle = this.idle.pop()!;
    const transfer: ArrayBuffer[] = [];
    const posted: Record<string, TensorData> = {};
    for (const [name, tensor] of Object.entries(inputs)) posted[name] = postable(tensor, handOver, transfer);
    const id = this.nextJobId++;
    const message: WorkerRequest = { kind: 'run', id, inputs: posted };
    handle.running = { id, job };
    handle.requests.postMessage(message, transfer);
    ringDoorbell(handle.doorbell);
  }

  /** Terminates every worker at once: for a pool whose owner gave up on it before listening. */
  async terminate(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.worker.terminate()));
  }

  /**
   * Stops the pool: each worker releases its session and exits (or is terminated after a grace
   * period); exits from now on are not reported. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.stopAll();
    return this.closing;
  }

  private async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((handle) => this.stopWorker(handle)));
    this.idle.length = 0;
  }

  private async stopWorker(handle: WorkerHandle<Job>): Promise<void> {
    if (!this.live.has(handle)) return;
    const exited = new Promise<void>((resolve) => handle.worker.once('exit', () => resolve()));
    try {
      const close: WorkerRequest = { kind: 'close' };
      handle.requests.postMessage(close);
      ringDoorbell(handle.doorbell);
    } catch {
      // the port is already closed: terminate below
    }
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS);
    });
    const outcome = await Promise.race([exited, grace]);
    clearTimeout(timer);
    if (outcome === 'late') await handle.worker.terminate();
    handle.requests.close();
  }

  private onMessage(listener: WorkerPoolListener<Job>, handle: WorkerHandle<Job>, reply: WorkerReply): void {
    const running = handle.running;
    if (
      (reply.kind !== 'result' && reply.kind !== 'failed') ||
      running === undefined ||
      reply.id !== running.id
    )
      return;
    handle.running = undefined;
    if (this.live.has(handle)) this.idle.push(handle);
    listener.onReply(running.job, reply);
  }

  private onExit(listener: WorkerPoolListener<Job>, handle: WorkerHandle<Job>, code: number): void {
    if (!this.live.delete(handle)) return;
    const idleAt = this.idle.indexOf(handle);
    if (idleAt >= 0) this.idle.splice(idleAt, 1);
    if (this.closing) return;
    handle.requests.close();
    const job = handle.running?.job;
    handle.running = undefined;
    listener.onExit({ index: handle.index, code, error: handle.error, job });
  }
}
