/**
 * The inference endpoint, `POST /v2/models/{name}[/versions/{v}]/infer`, once the server is ready:
 * admission from the headers (admission.ts), the body within its limit, deadline and budget, its
 * decoding (inline when small, in the codec worker when large), the executor, and the answer
 * (encoded inline or in the codec worker). Uploads still arriving can be cut when the server
 * begins to drain.
 */
import type http from 'node:http';
import { type ModelInfo } from '../model';
import {
  type Executor,
  type InferOptions,
  type InferResult,
  QueueFullError,
  type TensorData,
} from '../runtime';
import {
  BODY_BUDGET_BODIES,
  BodyBudgetError,
  UploadCancelledError,
  admissionRefusal,
  bodyReservation,
} from './admission';
import { CodecThread, OFF_THREAD_BODY_BYTES, OFF_THREAD_OUTPUT_ELEMENTS, codecHeapMb } from './codec-thread';
import { RETRY_AFTER } from './error-answer';
import { type Exchange, NO_HEADERS, answerError, headerValue, respond } from './exchange';
import { OipRequestError } from './oip-errors';
import { type DecodedInferRequest, decodeInferRequest } from './oip-infer-request';
import {
  type EncodedBody,
  type InferResponse,
  encodeInferResponseParts,
  joinInferResponseParts,
} from './oip-infer-response';
import {
  BodyTooLargeError,
  ClientGoneError,
  cancelBodyRead,
  discardRest,
  readRequestBody,
} from './request-body';
import { type ServerSettings } from './server-settings';

/** The declared `Content-Length`, when it is a whole number. */
function declaredLength(req: http.IncomingMessage): number | undefined {
  const text = req.headers['content-length'];
  if (text === undefined) return undefined;
  const length = Number(text);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

/** The `Inference-Header-Content-Length` header's value. */
function inferenceHeaderLength(req: http.IncomingMessage): number | undefined {
  const text = headerValue(req.headers['inference-header-content-length']);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) {
    throw new OipRequestError(
      `the Inference-Header-Content-Length header must be the length of the JSON header in bytes, received ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return Number(text.trim());
}

/** Elements of the outputs a response carries, to decide where it is encoded. */
function outputElements(outputs: Readonly<Record<string, TensorData>>, request: DecodedInferRequest): number {
  let elements = 0;
  for (const { name } of request.outputs) elements += outputs[name]?.data.length ?? 0;
  return elements;
}

/** What the server does when an inference request is taken in and when it has been answered. */
export interface InferLifecycle {
  /** The request was admitted: it counts as in flight until {@link settled}. */
  readonly admitted: () => void;
  /** The request was answered (or its client left). */
  readonly settled: () => void;
}

/** Serves inference requests for one model; one per server. */
export class InferHandler {
  /** Admitted requests not yet handed to the executor: they hold queue slots (see admission.ts). */
  private admitted = 0;
  /** Body bytes reserved by admitted requests not yet decoded. */
  private heldBodyBytes = 0;
  private readonly bodyBudgetBytes: number;
  /** Requests whose bodies are still arriving: cut with 503 when the server begins to drain. */
  private readonly uploads = new Set<http.IncomingMessage>();
  /** Decodes and encodes what is too large for the main thread. */
  private readonly codec: CodecThread;
  /** The 429 of a full queue, made once: refusing must cost next to nothing under overload. */
  private readonly queueFull: QueueFullError;
  private readonly queueFullBody: string;
  /** The executor's options for every request. */
  private readonly inferOptions: InferOptions;

  constructor(
    private readonly settings: ServerSettings,
    private readonly model: ModelInfo,
    private readonly lifecycle: InferLifecycle,
  ) {
    this.bodyBudgetBytes = BODY_BUDGET_BODIES * settings.maxBodyBytes;
    this.queueFull = new QueueFullError(settings.maxQueueSize);
    this.queueFullBody = JSON.stringify({ error: this.queueFull.message });
    this.codec = new CodecThread(model, codecHeapMb(settings.maxBodyBytes));
    this.inferOptions =
      settings.requestTimeoutMs > 0
        ? { timeoutMs: settings.requestTimeoutMs, transferInputs: true }
        : { transferInputs: true };
  }

  /** Starts the codec worker, so the first large request does not wait for it. */
  start(): void {
    this.codec.start();
  }

  /** Requests admitted whose bodies are arriving or being decoded (not yet in the executor's queue). */
  get receiving(): number {
    return this.admitted;
  }

  /** Cuts every upload still arriving with 503 (the server is shutting down); returns how many. */
  cancelUploads(): number {
    let cancelled = 0;
    for (const req of this.uploads) if (cancelBodyRead(req, new UploadCancelledError())) cancelled++;
    return cancelled;
  }

  /** Stops the codec worker. */
  close(): Promise<void> {
    return this.codec.close();
  }

  /**
   * Admits an inference request or refuses it, from its headers alone: nothing of a refused
   * request's body is parsed (it is read and dropped, so the client gets the answer).
   */
  handle(exchange: Exchange, req: http.IncomingMessage, res: http.ServerResponse, executor: Executor): void {
    const { maxBodyBytes, maxQueueSize } = this.settings;
    const declared = declaredLength(req);
    if (declared !== undefined && declared > maxBodyBytes) {
      answerError(exchange, res, new BodyTooLargeError(maxBodyBytes, declared));
      discardRest(req, maxBodyBytes);
      return;
    }
    const reserve = bodyReservation(declared, maxBodyBytes);
    const refusal = admissionRefusal(
      {
        admitted: this.admitted,
        queued: executor.stats().queued,
        maxQueueSize,
        heldBodyBytes: this.heldBodyBytes,
        bodyBudgetBytes: this.bodyBudgetBytes,
      },
      reserve,
    );
    if (refusal !== undefined) {
      if (refusal.reason === 'queue_full') {
        exchange.error = this.queueFull;
        exchange.refusal = 'queue_full';
        respond(res, exchange, 429, 'application/json', this.queueFullBody, RETRY_AFTER);
      } else {
        answerError(exchange, res, new BodyBudgetError(refusal.heldBytes, refusal.budgetBytes));
      }
      // A small body is read and dropped by node once the answer is out; a large one by us, bounded.
      if (declared === undefined || declared > OFF_THREAD_BODY_BYTES) discardRest(req, maxBodyBytes);
      return;
    }
    void this.serve(exchange, req, res, executor, reserve);
  }

  /** Serves an admitted request: its body, decoded; the inference; the answer. */
  private async serve(
    exchange: Exchange,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    executor: Executor,
    reservedBytes: number,
  ): Promise<void> {
    this.lifecycle.admitted();
    this.admitted++;
    this.heldBodyBytes += reservedBytes;
    let holding = true;
    const release = () => {
      if (!holding) return;
      holding = false;
      this.admitted--;
      this.heldBodyBytes -= reservedBytes;
    };
    const { maxBodyBytes, bodyTimeoutMs } = this.settings;
    try {
      let body: Buffer;
      if (/^100-continue$/i.test(headerValue(req.headers.expect) ?? '')) res.writeContinue();
      this.uploads.add(req);
      try {
        body = await readRequestBody(req, maxBodyBytes, bodyTimeoutMs);
      } finally {
        this.uploads.delete(req);
      }
      const headerLength = inferenceHeaderLength(req);
      // What costs is parsing JSON: binary tensor data after a small header is only copied.
      const request =
        (headerLength ?? body.length) >= OFF_THREAD_BODY_BYTES
          ? await this.codec.decode(body, headerLength)
          : decodeInferRequest(body, { headerLength, model: this.model });
      release(); // from here the executor's queue counts it
      const result = await executor.infer(request.inputs, this.inferOptions);
      if (res.destroyed) return;
      await this.answer(exchange, res, request, result);
    } catch (error) {
      if (error instanceof ClientGoneError) return;
      answerError(exchange, res, error as Error);
      if (error instanceof BodyTooLargeError) discardRest(req, maxBodyBytes);
    } finally {
      release();
      this.lifecycle.settled();
    }
  }

  /** Encodes and sends a result: inline when small (a JSON answer as a string, no copy), in the codec worker when large. */
  private async answer(
    exchange: Exchange,
    res: http.ServerResponse,
    request: DecodedInferRequest,
    result: InferResult,
  ): Promise<void> {
    const { modelName, modelVersion } = this.settings;
    const response: InferResponse =
      request.id !== undefined
        ? { modelName, modelVersion, id: request.id, outputs: result.outputs, requested: request.outputs }
        : { modelName, modelVersion, outputs: result.outputs, requested: request.outputs };
    let encoded: EncodedBody;
    if (outputElements(result.outputs, request) >= OFF_THREAD_OUTPUT_ELEMENTS) {
      encoded = await this.codec.encode(response);
      if (res.destroyed) return;
    } else {
      const parts = encodeInferResponseParts(response);
      if (parts.sections.length === 0) {
        respond(res, exchange, 200, 'application/json', parts.json, NO_HEADERS);
        return;
      }
      encoded = joinInferResponseParts(parts);
    }
    const extra =
      encoded.headerLength === undefined
        ? NO_HEADERS
        : ['Inference-Header-Content-Length', String(encoded.headerLength)];
    respond(res, exchange, 200, encoded.contentType, encoded.body, extra);
  }
}
