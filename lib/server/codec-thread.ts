/**
 * Decoding and encoding off the main thread, for the requests and responses too large to handle
 * inline without stalling everything else the main thread does (health probes first). Small ones
 * stay on the main thread, where they cost less than a message hop.
 *
 * One worker runs one job at a time, under a V8 heap limit: the memory a large body can take
 * while it is parsed is bounded, and a body that needs more ends the worker (which is started
 * again for the next job) and is answered 413, instead of growing the server until the kernel
 * kills it.
 */
import { type ResourceLimits, Worker } from 'node:worker_threads';
import { type ModelInfo } from '../model';
import { resolveWorkerScript } from '../runtime';
import { type CodecAnswer, type CodecJob, type CodecSetup, wholeBuffers } from './codec-protocol';
import { OipRequestError } from './oip-errors';
import { type DecodedInferRequest } from './oip-infer-request';
import { type EncodedBody, type InferResponse } from './oip-infer-response';

/**
 * Requests with this much JSON or more are decoded in the codec worker, bytes (JSON.parse of 64 KiB
 * takes about 0.5 ms); binary tensor data after a smaller JSON header is only copied, inline.
 */
export const OFF_THREAD_BODY_BYTES = 64 * 1024;
/** Responses with this many output elements or more are encoded in the codec worker. */
export const OFF_THREAD_OUTPUT_ELEMENTS = 16 * 1024;
/** The least heap the codec worker gets, MiB. */
const MIN_CODEC_HEAP_MB = 256;
/** Parsed JSON takes up to this many times its text in heap (nested arrays of small numbers). */
const JSON_HEAP_FACTOR = 16;

/**
 * The codec worker's V8 heap limit for a body limit, MiB: {@link JSON_HEAP_FACTOR} times the
 * largest body, at least {@link MIN_CODEC_HEAP_MB}.
 */
export function codecHeapMb(maxBodyBytes: number): number {
  return Math.max(MIN_CODEC_HEAP_MB, Math.ceil((maxBodyBytes * JSON_HEAP_FACTOR) / (1024 * 1024)));
}

/** Decoding a request (or encoding its response) needed more memory than the codec worker may take; the server answers 413. */
export class CodecMemoryError extends Error {
  override readonly name = 'CodecMemoryError';
}

/** The codec worker failed for another reason (a bug, a worker that could not start); the server answers 500. */
export class CodecFailureError extends Error {
  override readonly name = 'CodecFailureError';
}

interface Pending {
  readonly job: CodecJob;
  readonly transfer: ArrayBuffer[];
  readonly resolve: (answer: CodecAnswer) => void;
  readonly reject: (error: Error) => void;
}

/** The codec worker as the main thread sees it: jobs go out one at a time, in order. */
export class CodecThread {
  private worker: Worker | undefined;
  private running: Pending | undefined;
  private readonly waiting: Pending[] = [];
  private nextId = 1;
  private closed = false;

  /**
   * @param model the served model
   * @param heapMb the worker's V8 heap limit, MiB (see {@link codecHeapMb})
   */
  constructor(
    private readonly model: ModelInfo,
    private readonly heapMb: number,
  ) {}

  /**
   * Decodes a request body in the worker. The body's memory is handed over (transferred) when it
   * is a buffer of its own, else copied once. The request comes back without its `parameters`
   * (`{}`), which the server does not use past decoding.
   * @throws OipRequestError for a bad request, CodecMemoryError when decoding it needs more memory
   *   than the worker may take, CodecFailureError otherwise
   */
  async decode(body: Buffer, headerLength: number | undefined): Promise<DecodedInferRequest> {
    const whole = wholeBuffers([body]).length === 1;
    const bytes = whole ? body : new Uint8Array(body);
    const answer = await this.submit({ kind: 'decode', id: this.nextId++, body: bytes, headerLength }, [
      bytes.buffer as ArrayBuffer,
    ]);
    if (answer.kind !== 'decoded')
      throw new CodecFailureError(`the codec worker answered ${answer.kind} to a decode`);
    return answer.request;
  }

  /**
   * Encodes a response in the worker. Only the requested outputs go to it; those that span their
   * own buffers are handed over and must not be read afterwards.
   * @throws CodecMemoryError, CodecFailureError
   */
  async encode(response: InferResponse): Promise<EncodedBody> {
    const outputs = Object.fromEntries(response.requested.map((r) => [r.name, response.outputs[r.name]]));
    const transfer = wholeBuffers(
      Object.values(outputs)
        .filter((t) => t !== undefined)
        .map((t) => t.data),
    );
    const answer = await this.submit(
      { kind: 'encode', id: this.nextId++, response: { ...response, outputs } },
      transfer,
    );
    if (answer.kind !== 'encoded')
      throw new CodecFailureError(`the codec worker answered ${answer.kind} to an encode`);
    const body = Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength);
    return answer.headerLength === undefined
      ? { body, contentType: answer.contentType }
      : { body, contentType: answer.contentType, headerLength: answer.headerLength };
  }

  /** Starts the worker now, so the first large request does not wait for it to start. */
  start(): void {
    if (this.worker === undefined && !this.closed) this.spawn();
  }

  /** Stops the worker; jobs not yet done fail with CodecFailureError. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new CodecFailureError('the server is shutting down');
    for (const pending of this.waiting.splice(0)) pending.reject(error);
    this.running?.reject(error);
    this.running = undefined;
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private submit(job: CodecJob, transfer: ArrayBuffer[]): Promise<CodecAnswer> {
    if (this.closed) return Promise.reject(new CodecFailureError('the server is shutting down'));
    return new Promise<CodecAnswer>((resolve, reject) => {
      this.waiting.push({ job, transfer, resolve, reject });
      this.next();
    }).then((answer) => {
      if (answer.kind !== 'failed') return answer;
      throw answer.errorName === 'OipRequestError'
        ? new OipRequestError(answer.message)
        : new CodecFailureError(`the codec worker failed: ${answer.errorName}: ${answer.message}`);
    });
  }

  private next(): void {
    if (this.running !== undefined || this.closed) return;
    const pending = this.waiting.shift();
    if (pending === undefined) return;
    this.running = pending;
    try {
      (this.worker ?? this.spawn()).postMessage(pending.job, pending.transfer);
    } catch (error) {
      this.running = undefined;
      pending.reject(
        new CodecFailureError(`the codec worker could not take the job: ${(error as Error).message}`),
      );
      this.next();
    }
  }

  private spawn(): Worker {
    const script = resolveWorkerScript(__filename, 'codec-worker');
    const setup: CodecSetup = { model: this.model };
    const resourceLimits: ResourceLimits = { maxOldGenerationSizeMb: this.heapMb };
    const worker = new Worker(script.file, {
      execArgv: [...script.execArgv],
      workerData: setup,
      resourceLimits,
    });
    worker.unref();
    let failure: Error | undefined;
    worker.on('message', (answer: CodecAnswer) => {
      if (this.worker !== worker) return;
      const running = this.running;
      if (running === undefined || running.job.id !== answer.id) return;
      this.running = undefined;
      running.resolve(answer);
      this.next();
    });
    // An answer that cannot be received (deserialized) here would leave its job waiting forever.
    worker.on('messageerror', (error: Error) => {
      if (this.worker !== worker) return;
      const running = this.running;
      this.running = undefined;
      running?.reject(
        new CodecFailureError(`the codec worker's answer could not be received: ${error.message}`),
      );
      this.next();
    });
    worker.on('error', (error: Error & { code?: string }) => {
      failure =
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new CodecMemoryError(
              `the request needs more than the ${this.heapMb} MiB the server may use to decode or encode one request; send the tensors as binary data (the binary tensor data extension) or fewer rows per request`,
            )
          : new CodecFailureError(`the codec worker failed: ${error.message}`);
    });
    worker.on('exit', (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const running = this.running;
      this.running = undefined;
      running?.reject(failure ?? new CodecFailureError(`the codec worker exited with code ${code}`));
      this.next(); // a new worker for the jobs still waiting
    });
    this.worker = worker;
    return worker;
  }
}
