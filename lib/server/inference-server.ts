/**
 * The inference server: the Open Inference Protocol (KServe V2) over node:http on top of the
 * lib/runtime executor, with its protections (body limit, bounded queue, timeouts, API key), its
 * lifecycle (digest check, load, warm-up, readiness, graceful drain) and its metrics on a port of
 * their own. The main thread only does HTTP, decoding, validation and batching; onnxruntime runs
 * in the executor's worker threads, so health and metrics answer while inference is saturated.
 *
 * Status codes: 400 for a request that does not follow the protocol or the model's signature
 * (OipRequestError, InputValidationError) and for an inference onnxruntime fails to run on valid
 * inputs (InferenceError: data-dependent, e.g. an index out of range; the protocol answers failed
 * inferences with 400); 401 without the API key; 404 for an unknown path, model or version; 405
 * for a method an endpoint does not take; 408 for a body that does not arrive within its
 * deadline; 413 for a body over the limit (or one too large to decode within the codec's heap);
 * 429 with Retry-After when the queue or the memory for bodies is full; 503 while loading, after
 * a failed load and while draining; 504 when a request times out; 500 only for the server's own
 * faults (a crashed worker, a bug).
 *
 * Protection against clients: an inference request is admitted or refused from its headers
 * alone, before its body is read (admission.ts), so refusing costs almost nothing and the
 * requests taken keep the CPU; bodies have a deadline and a memory budget; bodies and responses
 * too large to handle inline are decoded and encoded in the codec worker (codec-thread.ts), so the
 * main thread never stalls on one, and health answers in milliseconds under any load.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import { type ModelInfo, inspectModel } from '../model';
import {
  Executor,
  ExecutorClosedError,
  InferenceError,
  type InferResult,
  QueueFullError,
  type TensorData,
  WorkerCrashError,
} from '../runtime';
import { ApiKey } from './api-key';
import { checkModelDigest, ModelDigestMismatchError } from './model-digest';
import { OipRequestError } from './oip-errors';
import { type DecodedInferRequest, decodeInferRequest } from './oip-infer-request';
import { type InferResponse, encodeInferResponseParts } from './oip-infer-response';
import { modelMetadata, serverMetadata } from './oip-metadata';
import { type OipRoute, allowedMethods, matchOipRoute } from './oip-routes';
import {
  BODY_BUDGET_BODIES,
  BodyBudgetError,
  UploadCancelledError,
  admissionRefusal,
  bodyReservation,
} from './admission';
import { CodecThread, OFF_THREAD_BODY_BYTES, OFF_THREAD_OUTPUT_ELEMENTS, codecHeapMb } from './codec-thread';
import {
  BodyTooLargeError,
  ClientGoneError,
  cancelBodyRead,
  discardRest,
  readRequestBody,
} from './request-body';
import { RETRY_AFTER, type RefusalReason, errorAnswer } from './error-answer';
import { LogSampler } from './log-sampler';
import { closeServer, listen, urlOf } from './http-listener';
import { type LogLevel, type LogSink, ServerLog } from './server-log';
import { ServerMetrics } from './server-metrics';
import {
  type OptionNames,
  type ServerOptions,
  type ServerSettings,
  resolveServerSettings,
} from './server-settings';
import { serverVersion } from './server-version';
import { warmUpInputs } from './warm-up-inputs';

/** How to start an {@link InferenceServer}: the settings, and where the process context comes from. */
export interface InferenceServerOptions extends ServerOptions {
  /** Where the `MODELFAB_*` settings are read from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the JSON log lines go (one per call, no newline). @default stdout */
  readonly log?: LogSink;
  /**
   * Resolve once the model is loaded and warmed up (true), or as soon as both ports listen
   * (false: readiness answers 503 until {@link InferenceServer.whenReady} resolves).
   * @default true
   */
  readonly waitUntilReady?: boolean;
  /** The version `GET /v2` reports. @default modelfab's version */
  readonly serverVersion?: string;
  /** What each option is called where it came from, for messages (`--config`). @default the option keys */
  readonly optionNames?: OptionNames;
}

/** Where the server is in its life. */
export type InferenceServerState = 'loading' | 'ready' | 'failed' | 'draining' | 'closed';

/**
 * Idle keep-alive connections live this long, ms: longer than common load-balancer idle timeouts
 * (60 s), so the server never closes a connection a balancer is about to reuse.
 */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** The longest path a log line or an error message quotes. */
const MAX_PATH_CHARS = 200;
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
const ENDPOINTS =
  'GET /v2/health/live, GET /v2/health/ready, GET /v2, GET /v2/models/{name}[/versions/{version}][/ready], POST /v2/models/{name}[/versions/{version}]/infer';

/** What one request's log line and metrics need. */
interface Exchange {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly started: number;
  route: OipRoute | undefined;
  /** True when the request named the served model (and version, if any). */
  known: boolean;
  /** The error answered, for the log: its class, and its message for 5xx. */
  error: Error | undefined;
  /** Set when the request was refused (counted by reason, logged sampled). */
  refusal: RefusalReason | undefined;
  /** True when the answer closes the connection (the server is draining, or the body was cut). */
  closeConnection: boolean;
  /** Logs and counts the exchange once its response has closed (the server's, one per server). */
  readonly done: (exchange: Exchange, res: http.ServerResponse) => void;
}

/** Where a response keeps its {@link Exchange}, for the 'close' listener all responses share. */
const EXCHANGE = Symbol('modelfab.exchange');

type ExchangeResponse = http.ServerResponse & { [EXCHANGE]?: Exchange };

/** Every response's 'close' listener: one function instead of a closure per request. */
function onResponseClose(this: ExchangeResponse): void {
  const exchange = this[EXCHANGE];
  if (exchange === undefined) return;
  this[EXCHANGE] = undefined;
  exchange.done(exchange, this);
}

/** No extra response headers. */
const NO_HEADERS: readonly string[] = [];
/** Refusals that mean the server is at capacity: logged at warn, the others at info. */
const CAPACITY_REFUSALS: ReadonlySet<RefusalReason> = new Set(['queue_full', 'body_budget', 'decode_memory']);

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

/** Routes by request target, so the few targets a client repeats are matched once. */
const ROUTE_CACHE_SIZE = 64;

function pathOf(target: string): string {
  const query = target.indexOf('?');
  const path = query < 0 ? target : target.slice(0, query);
  return path.length > MAX_PATH_CHARS ? `${path.slice(0, MAX_PATH_CHARS)}…` : path;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Resolves with true when `promise` settles within `ms`, false otherwise. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  const outcome = await Promise.race([settled, late]);
  clearTimeout(timer);
  return outcome;
}

/**
 * Answers with `body` and these headers in one `writeHead` (a flat name, value array, which node
 * takes without validating each through setHeader): Content-Type, Content-Length, the request id
 * and `Connection: close` when `exchange` says so, then `extra` (name, value, name, value…). A
 * string body goes out with the head in one write.
 */
function respond(
  res: http.ServerResponse,
  exchange: Exchange | undefined,
  status: number,
  contentType: string,
  body: string | Buffer,
  extra: readonly string[],
): void {
  const length = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
  const headers = ['Content-Type', contentType, 'Content-Length', String(length)];
  if (exchange !== undefined) {
    headers.push('X-Request-Id', exchange.requestId);
    if (exchange.closeConnection) headers.push('Connection', 'close');
  }
  for (let i = 0; i < extra.length; i++) headers.push(extra[i]);
  res.writeHead(status, headers);
  res.end(body);
}

function sendJson(
  res: http.ServerResponse,
  exchange: Exchange | undefined,
  status: number,
  value: unknown,
  extra: readonly string[] = NO_HEADERS,
): void {
  if (res.destroyed) return;
  if (res.headersSent) {
    // Too late for an error answer: cut the response short rather than leave it hanging.
    if (!res.writableEnded) res.destroy();
    return;
  }
  respond(res, exchange, status, 'application/json', JSON.stringify(value), extra);
}

/**
 * A running inference server. Start one with {@link startInferenceServer}; stop it with
 * {@link InferenceServer.close}.
 */
export class InferenceServer {
  /** The settings it runs with. */
  readonly settings: ServerSettings;
  /** The served model's signature and digest. */
  readonly model: ModelInfo;

  private apiUrl = '';
  private scrapeUrl = '';
  private currentState: InferenceServerState = 'loading';
  private executor: Executor | undefined;
  private loadError: Error | undefined;
  private loading: Promise<void> = Promise.resolve();
  private readonly http: http.Server;
  private readonly metricsHttp: http.Server;
  private readonly metrics: ServerMetrics;
  /** Inference requests admitted and not yet answered (their bodies arriving, decoded, queued or running). */
  private active = 0;
  /** Admitted requests not yet handed to the executor: they hold queue slots (see admission.ts). */
  private admitted = 0;
  /** Body bytes reserved by admitted requests not yet decoded. */
  private heldBodyBytes = 0;
  private readonly bodyBudgetBytes: number;
  /** Requests whose bodies are still arriving: cut with 503 when the server begins to drain. */
  private readonly uploads = new Set<http.IncomingMessage>();
  /** Decodes and encodes what is too large for the main thread. */
  private readonly codec: CodecThread;
  /** Which refusal lines get logged. */
  private readonly refusalLog = new LogSampler();
  /** The 429 of a full queue, made once: refusing must cost next to nothing under overload. */
  private readonly queueFull: QueueFullError;
  private readonly queueFullBody: string;
  private idleWaiters: Array<() => void> = [];
  /** matchOipRoute's answers by request target (undefined answers included), bounded. */
  private readonly routes = new Map<string, OipRoute | undefined>();
  private readonly exchangeDone = (exchange: Exchange, res: http.ServerResponse): void =>
    this.onExchangeDone(exchange, res);
  /** The executor's options for every request. */
  private readonly inferOptions: { readonly timeoutMs?: number; readonly transferInputs: true };
  private draining: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    settings: ServerSettings,
    model: ModelInfo,
    private readonly apiKey: ApiKey | undefined,
    private readonly log: ServerLog,
    private readonly version: string,
  ) {
    this.settings = settings;
    this.model = model;
    this.metrics = new ServerMetrics(settings.modelName, settings.maxBatchSize, () => this.executor?.stats());
    this.bodyBudgetBytes = BODY_BUDGET_BODIES * settings.maxBodyBytes;
    this.queueFull = new QueueFullError(settings.maxQueueSize);
    this.queueFullBody = JSON.stringify({ error: this.queueFull.message });
    this.codec = new CodecThread(model, codecHeapMb(settings.maxBodyBytes));
    this.inferOptions =
      settings.requestTimeoutMs > 0
        ? { timeoutMs: settings.requestTimeoutMs, transferInputs: true }
        : { transferInputs: true };
    const serverOptions: http.ServerOptions = {
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      headersTimeout: KEEP_ALIVE_TIMEOUT_MS + 1000,
    };
    this.http = http.createServer(serverOptions, (req, res) => this.onRequest(req, res));
    // `Expect: 100-continue` (curl sends it for large bodies): the client is told to send its
    // body only once the request is admitted (see infer); a refused one never sends it.
    this.http.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) =>
      this.onRequest(req, res),
    );
    this.metricsHttp = http.createServer((req, res) => this.onMetricsRequest(req, res));
  }

  /** @internal Use {@link startInferenceServer}. */
  static async start(options: InferenceServerOptions): Promise<InferenceServer> {
    const log = new ServerLog(options.log);
    let server: InferenceServer;
    try {
      const settings = resolveServerSettings(options, options.env ?? process.env, options.optionNames);
      const model = inspectModel(settings.modelPath);
      checkModelDigest(settings.modelPath, model.sha256, settings.expectedSha256);
      const apiKey = settings.apiKeyFile ? ApiKey.fromFile(settings.apiKeyFile) : undefined;
      server = new InferenceServer(settings, model, apiKey, log, options.serverVersion ?? serverVersion());
    } catch (error) {
      const fields =
        error instanceof ModelDigestMismatchError
          ? {
              event: 'refused-to-start',
              modelPath: error.modelPath,
              sha256: error.actualSha256,
              expectedSha256: error.expected.sha256,
              expectedBy: error.expected.source,
            }
          : { event: 'refused-to-start' };
      log.error((error as Error).message, fields);
      throw error;
    }
    await server.listen();
    server.loading = server.load();
    if (options.waitUntilReady ?? true) {
      try {
        await server.loading;
      } catch (error) {
        await server.close();
        throw error;
      }
    } else {
      server.loading.catch(() => undefined); // reported by whenReady() and the log
    }
    return server;
  }

  /** The Open Inference Protocol's base URL, `http://host:port` (127.0.0.1 when listening on all addresses). */
  get url(): string {
    return this.apiUrl;
  }

  /** The Prometheus endpoint, `http://host:port/metrics`. */
  get metricsUrl(): string {
    return this.scrapeUrl;
  }

  /** Where the server is: loading, ready, failed (the model did not load), draining or closed. */
  get state(): InferenceServerState {
    return this.currentState;
  }

  /** True while `GET /v2/health/ready` answers 200: loaded, warmed up, not draining, workers alive. */
  get ready(): boolean {
    return this.currentState === 'ready' && (this.executor?.stats().workers ?? 0) > 0;
  }

  /** Resolves once the model is loaded and warmed up; rejects with the error when that failed. */
  whenReady(): Promise<void> {
    return this.loading;
  }

  /**
   * Stops intake and waits: readiness and new inference requests answer 503 from now on, and the
   * returned promise resolves once every inference request received before has been answered and
   * the executor is idle. Health, metadata and metrics keep answering; {@link close} stops them.
   */
  drain(): Promise<void> {
    if (this.currentState === 'loading' || this.currentState === 'ready') {
      this.currentState = 'draining';
      let cancelled = 0;
      // Uploads still arriving were not accepted: they get 503 now, and only accepted requests are waited for.
      for (const req of this.uploads) if (cancelBodyRead(req, new UploadCancelledError())) cancelled++;
      this.log.info('draining', {
        event: 'draining',
        activeRequests: this.active - cancelled,
        uploadsCancelled: cancelled,
        queued: this.executor?.stats().queued ?? 0,
      });
    }
    this.draining ??= this.whenIdle().then(() => this.executor?.drain());
    return this.draining;
  }

  /**
   * Shuts down gracefully: {@link drain}s for at most `drainSeconds`, then closes both servers
   * (keep-alive connections included) and the executor. Requests still unanswered at the deadline
   * get 503 where their connection is still open. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const started = performance.now();
    const deadlineMs = this.settings.drainSeconds * 1000;
    const drained = await within(this.drain(), deadlineMs);
    if (!drained) {
      this.log.warn('the drain deadline passed with requests unanswered; closing anyway', {
        event: 'drain-timeout',
        drainSeconds: this.settings.drainSeconds,
        activeRequests: this.active,
      });
    }
    if (this.currentState !== 'failed') this.currentState = 'closed';
    const httpClosed = closeServer(this.http);
    const metricsClosed = closeServer(this.metricsHttp);
    if (!drained) this.http.closeAllConnections();
    const leftMs = Math.max(0, deadlineMs - (performance.now() - started));
    await within(this.loading, leftMs); // a model still loading is closed by load() itself
    await this.executor?.close();
    await this.codec.close();
    // Connections busy with a last response end after it (they are answered with Connection: close).
    if (!(await within(httpClosed, 1000))) this.http.closeAllConnections();
    this.metricsHttp.closeAllConnections();
    await Promise.all([httpClosed, metricsClosed]);
    this.log.info('stopped', { event: 'stopped', drained, shutdownMs: round(performance.now() - started) });
    this.log.flush();
  }

  private async listen(): Promise<void> {
    const { host, port, metricsPort } = this.settings;
    try {
      const httpPort = await listen(this.http, port, host);
      const boundMetricsPort = await listen(this.metricsHttp, metricsPort, host);
      this.apiUrl = urlOf(host, httpPort);
      this.scrapeUrl = urlOf(host, boundMetricsPort, '/metrics');
    } catch (error) {
      this.log.error(`the server cannot listen: ${(error as Error).message}`, { event: 'refused-to-start' });
      this.currentState = 'closed';
      await Promise.all([closeServer(this.http), closeServer(this.metricsHttp)]);
      throw error;
    }
    const s = this.settings;
    this.log.info('listening', {
      event: 'listening',
      url: this.url,
      metricsUrl: this.metricsUrl,
      model: s.modelName,
      modelVersion: s.modelVersion,
      modelPath: s.modelPath,
      sha256: this.model.sha256,
      sha256Checked: s.expectedSha256.map((d) => d.source),
      apiKey: this.apiKey !== undefined,
    });
  }

  private async load(): Promise<void> {
    const s = this.settings;
    const started = performance.now();
    this.codec.start();
    let executor: Executor;
    try {
      executor = await Executor.create({
        modelPath: s.modelPath,
        model: this.model,
        workers: s.workers,
        intraOpThreads: s.intraOpThreads,
        batching: { maxBatchSize: s.maxBatchSize, maxQueueDelayMs: s.maxQueueDelayMs },
        maxQueueSize: s.maxQueueSize,
        // Whether idle threads poll depends on it, so a server sharing its cores (--cpus) can
        // turn polling off.
        cpus: s.cpus,
        onBatch: (rows, inferMs) => this.metrics.observeBatch(rows, inferMs),
      });
    } catch (error) {
      this.fail(error as Error);
      throw error;
    }
    if (this.currentState !== 'loading') {
      await executor.close();
      throw new ExecutorClosedError('the server was closed before the model was loaded');
    }
    this.executor = executor;
    const loadMs = performance.now() - started;
    const warmUp = warmUpInputs(this.model);
    let warmUpMs: number | undefined;
    if ('reason' in warmUp) {
      this.log.warn(`no warm-up inference: ${warmUp.reason}; the first request warms the model up`, {
        event: 'warm-up-skipped',
      });
    } else {
      const warmStarted = performance.now();
      try {
        await executor.infer(warmUp.inputs);
        warmUpMs = performance.now() - warmStarted;
      } catch (error) {
        if (!(error instanceof InferenceError)) {
          this.fail(error as Error);
          throw error;
        }
        // Random data need not be valid for every model (an index input, a data-dependent reshape).
        this.log.warn(`the warm-up inference on random inputs failed; serving anyway: ${error.message}`, {
          event: 'warm-up-failed',
        });
      }
    }
    if (this.currentState !== 'loading') return; // a drain began meanwhile
    this.currentState = 'ready';
    this.log.info('ready', {
      event: 'ready',
      loadMs: round(loadMs),
      ...(warmUpMs !== undefined ? { warmUpMs: round(warmUpMs) } : {}),
      workers: s.workers,
      intraOpThreads: s.intraOpThreads,
      maxBatchSize: s.maxBatchSize,
      maxQueueDelayMs: s.maxQueueDelayMs,
      batching: s.maxBatchSize > 1 && this.model.batchable,
      pollMs: executor.spinMs,
    });
  }

  private fail(error: Error): void {
    this.loadError = error;
    if (this.currentState === 'loading') this.currentState = 'failed';
    this.log.error(`the model could not be loaded: ${error.message}`, { event: 'load-failed' });
  }

  /** Why the server is not ready, for a 503's message. */
  private notReadyReason(): string {
    switch (this.currentState) {
      case 'loading':
        return 'the model is loading; retry once GET /v2/health/ready answers 200';
      case 'failed':
        return `the model could not be loaded: ${this.loadError?.message ?? 'unknown error'}`;
      case 'draining':
      case 'closed':
        return 'the server is shutting down; send the request to another replica';
      default:
        return 'every inference worker has exited; the server must be restarted';
    }
  }

  private whenIdle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settleOne(): void {
    this.active--;
    this.metrics.addInFlight(-1);
    if (this.active === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const given = headerValue(req.headers['x-request-id']);
    const exchange: Exchange = {
      requestId: given !== undefined && REQUEST_ID.test(given) ? given : crypto.randomUUID(),
      method: req.method ?? 'GET',
      path: pathOf(req.url ?? '/'),
      started: performance.now(),
      route: undefined,
      known: false,
      error: undefined,
      refusal: undefined,
      closeConnection: this.currentState === 'draining' || this.currentState === 'closed',
      done: this.exchangeDone,
    };
    (res as ExchangeResponse)[EXCHANGE] = exchange;
    res.on('close', onResponseClose);
    try {
      this.route(exchange, req, res);
    } catch (error) {
      this.answerError(exchange, res, error as Error);
    }
  }

  private matchRoute(target: string): OipRoute | undefined {
    const cached = this.routes.get(target);
    if (cached !== undefined || this.routes.has(target)) return cached;
    const route = matchOipRoute(target);
    if (this.routes.size >= ROUTE_CACHE_SIZE) this.routes.clear();
    this.routes.set(target, route);
    return route;
  }

  private route(exchange: Exchange, req: http.IncomingMessage, res: http.ServerResponse): void {
    const route = this.matchRoute(req.url ?? '/');
    exchange.route = route;
    if (route === undefined) {
      sendJson(res, exchange, 404, {
        error: `no such endpoint: ${exchange.method} ${exchange.path}; the server answers ${ENDPOINTS}`,
      });
      return;
    }
    const methods = allowedMethods(route);
    if (!methods.includes(exchange.method)) {
      sendJson(
        res,
        exchange,
        405,
        { error: `${exchange.method} is not allowed on ${exchange.path}; use ${methods.join(' or ')}` },
        ['Allow', methods.join(', ')],
      );
      return;
    }
    if (route.kind === 'live') {
      const live =
        this.currentState !== 'failed' && (this.executor === undefined || this.executor.stats().workers > 0);
      sendJson(
        res,
        exchange,
        live ? 200 : 503,
        live ? { live: true } : { live: false, error: this.notReadyReason() },
      );
      return;
    }
    if (route.kind === 'ready') {
      const ready = this.ready;
      sendJson(
        res,
        exchange,
        ready ? 200 : 503,
        ready ? { ready: true } : { ready: false, error: this.notReadyReason() },
      );
      return;
    }
    if (this.apiKey !== undefined && !this.apiKey.accepts(req.headers)) {
      exchange.refusal = 'unauthorized';
      sendJson(
        res,
        exchange,
        401,
        { error: 'missing or wrong api key; send it as "Authorization: Bearer <key>" or "X-API-Key: <key>"' },
        ['WWW-Authenticate', 'Bearer'],
      );
      return;
    }
    if (route.kind === 'server-metadata') {
      sendJson(res, exchange, 200, serverMetadata(this.version));
      return;
    }
    const { modelName, modelVersion } = this.settings;
    if (route.model !== modelName) {
      sendJson(res, exchange, 404, {
        error: `unknown model ${JSON.stringify(route.model)}; this server serves ${JSON.stringify(modelName)}`,
      });
      return;
    }
    if (route.version !== undefined && route.version !== modelVersion) {
      sendJson(res, exchange, 404, {
        error: `model ${JSON.stringify(modelName)} has no version ${JSON.stringify(route.version)}; this server serves version ${JSON.stringify(modelVersion)}`,
      });
      return;
    }
    exchange.known = true;
    if (route.kind === 'model-metadata') {
      sendJson(res, exchange, 200, modelMetadata(this.model, modelName, modelVersion));
    } else if (route.kind === 'model-ready') {
      const ready = this.ready;
      sendJson(
        res,
        exchange,
        ready ? 200 : 503,
        ready
          ? { name: modelName, ready: true }
          : { name: modelName, ready: false, error: this.notReadyReason() },
      );
    } else {
      this.admit(exchange, req, res);
    }
  }

  /**
   * Admits an inference request or refuses it, from its headers alone: nothing of a refused
   * request's body is parsed (it is read and dropped, so the client gets the answer).
   */
  private admit(exchange: Exchange, req: http.IncomingMessage, res: http.ServerResponse): void {
    const executor = this.executor;
    const { maxBodyBytes, maxQueueSize } = this.settings;
    if (!this.ready || executor === undefined) {
      const draining = this.currentState === 'draining' || this.currentState === 'closed';
      exchange.refusal = draining ? 'shutting_down' : 'not_ready';
      sendJson(res, exchange, 503, { error: this.notReadyReason() });
      return;
    }
    const declared = declaredLength(req);
    if (declared !== undefined && declared > maxBodyBytes) {
      this.answerError(exchange, res, new BodyTooLargeError(maxBodyBytes, declared));
      discardRest(req, maxBodyBytes);
      return;
    }
    const refusal = admissionRefusal(
      {
        admitted: this.admitted,
        queued: executor.stats().queued,
        maxQueueSize,
        heldBodyBytes: this.heldBodyBytes,
        bodyBudgetBytes: this.bodyBudgetBytes,
      },
      bodyReservation(declared, maxBodyBytes),
    );
    if (refusal !== undefined) {
      if (refusal.reason === 'queue_full') {
        exchange.error = this.queueFull;
        exchange.refusal = 'queue_full';
        respond(res, exchange, 429, 'application/json', this.queueFullBody, RETRY_AFTER);
      } else {
        this.answerError(exchange, res, new BodyBudgetError(refusal.heldBytes, refusal.budgetBytes));
      }
      // A small body is read and dropped by node once the answer is out; a large one by us, bounded.
      if (declared === undefined || declared > OFF_THREAD_BODY_BYTES) discardRest(req, maxBodyBytes);
      return;
    }
    void this.infer(exchange, req, res, executor, bodyReservation(declared, maxBodyBytes));
  }

  /** Serves an admitted request: its body, decoded; the inference; the answer. */
  private async infer(
    exchange: Exchange,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    executor: Executor,
    reservedBytes: number,
  ): Promise<void> {
    this.active++;
    this.admitted++;
    this.heldBodyBytes += reservedBytes;
    this.metrics.addInFlight(1);
    let holding = true;
    const release = () => {
      if (!holding) return;
      holding = false;
      this.admitted--;
      this.heldBodyBytes -= reservedBytes;
    };
    const { maxBodyBytes, bodyTimeoutMs, modelName, modelVersion } = this.settings;
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
      await this.answerResult(exchange, res, request, result, modelName, modelVersion);
    } catch (error) {
      if (error instanceof ClientGoneError) return;
      this.answerError(exchange, res, error as Error);
      if (error instanceof BodyTooLargeError) discardRest(req, maxBodyBytes);
    } finally {
      release();
      this.settleOne();
    }
  }

  /** Encodes and sends a result: inline when small, in the codec worker when large. */
  private async answerResult(
    exchange: Exchange,
    res: http.ServerResponse,
    request: DecodedInferRequest,
    result: InferResult,
    modelName: string,
    modelVersion: string,
  ): Promise<void> {
    const response: InferResponse =
      request.id !== undefined
        ? { modelName, modelVersion, id: request.id, outputs: result.outputs, requested: request.outputs }
        : { modelName, modelVersion, outputs: result.outputs, requested: request.outputs };
    if (outputElements(result.outputs, request) >= OFF_THREAD_OUTPUT_ELEMENTS) {
      const encoded = await this.codec.encode(response);
      if (res.destroyed) return;
      const extra =
        encoded.headerLength === undefined
          ? NO_HEADERS
          : ['Inference-Header-Content-Length', String(encoded.headerLength)];
      respond(res, exchange, 200, encoded.contentType, encoded.body, extra);
      return;
    }
    const encoded = encodeInferResponseParts(response);
    if (encoded.sections.length === 0) {
      respond(res, exchange, 200, 'application/json', encoded.json, NO_HEADERS);
      return;
    }
    const jsonBytes = Buffer.byteLength(encoded.json, 'utf8');
    const answer = Buffer.allocUnsafe(jsonBytes + encoded.binaryBytes);
    answer.write(encoded.json, 0, 'utf8');
    let at = jsonBytes;
    for (const section of encoded.sections) {
      answer.set(section, at);
      at += section.byteLength;
    }
    respond(res, exchange, 200, 'application/octet-stream', answer, [
      'Inference-Header-Content-Length',
      String(jsonBytes),
    ]);
  }

  private answerError(exchange: Exchange, res: http.ServerResponse, error: Error): void {
    exchange.error = error;
    const answer = errorAnswer(error, exchange.requestId);
    if (answer.refusal !== undefined) exchange.refusal = answer.refusal;
    if (answer.closeConnection) exchange.closeConnection = true;
    sendJson(res, exchange, answer.status, { error: answer.message }, answer.headers);
  }

  private onExchangeDone(exchange: Exchange, res: http.ServerResponse): void {
    const durationMs = performance.now() - exchange.started;
    const aborted = !res.writableFinished;
    // 499 (nginx's "client closed request") when the client left before any answer.
    const status = aborted && !res.headersSent ? 499 : res.statusCode;
    const kind = exchange.route?.kind;
    if (kind !== 'live' && kind !== 'ready') this.metrics.countRequest(exchange.known, status);
    const refusal = exchange.refusal;
    // Refusals take microseconds: in the latency histogram they would hide the latency of the served.
    if (kind === 'infer' && exchange.known && refusal === undefined) {
      this.metrics.observeInference(durationMs / 1000);
    }
    const fields: Record<string, unknown> = {
      requestId: exchange.requestId,
      method: exchange.method,
      path: exchange.path,
      status,
      durationMs: round(durationMs),
    };
    let level: LogLevel = status === 500 ? 'error' : status === 504 ? 'warn' : 'info';
    if (refusal !== undefined) {
      this.metrics.countRefusal(refusal);
      // Refusals come in floods under overload: every one is counted, a sample is logged.
      const suppressed = this.refusalLog.take(refusal);
      if (suppressed === undefined) return;
      fields.refusal = refusal;
      fields.suppressedSinceLast = suppressed;
      level = CAPACITY_REFUSALS.has(refusal) ? 'warn' : 'info';
    }
    if (exchange.known) fields.model = this.settings.modelName;
    if (aborted) fields.aborted = true;
    const error = exchange.error;
    if (error !== undefined) {
      fields.errorKind = error.name;
      // Client errors may quote received values; only the server's own faults are logged in full.
      if (status >= 500 && refusal === undefined) {
        fields.error = error.message;
        if (status === 500 && !(error instanceof WorkerCrashError)) fields.stack = error.stack;
      }
    }
    this.log.write(level, 'request', fields);
  }

  private onMetricsRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = pathOf(req.url ?? '/');
    if (path !== '/metrics') {
      sendJson(res, undefined, 404, { error: `no such endpoint: ${path}; metrics are at GET /metrics` });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, undefined, 405, { error: `${req.method} is not allowed on /metrics; use GET` }, [
        'Allow',
        'GET, HEAD',
      ]);
      return;
    }
    this.metrics.render().then(
      ({ body, contentType }) => {
        if (res.destroyed) return;
        const bytes = Buffer.from(body, 'utf8');
        res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': String(bytes.length) });
        res.end(bytes);
      },
      (error: Error) => {
        this.log.error(`the metrics could not be collected: ${error.message}`, { event: 'metrics-failed' });
        sendJson(res, undefined, 500, { error: `the metrics could not be collected: ${error.message}` });
      },
    );
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/**
 * Starts an inference server: resolves its settings (options, then `MODELFAB_*` variables, then
 * the serving config file, then defaults), inspects the model file and checks its sha256 against
 * the pinned digests, reads the API key, listens on the API and metrics ports, then loads the
 * model into the executor's workers and runs a warm-up inference. Every failure to start is
 * logged as one `error` line before it is thrown.
 * @throws ServerSettingsError or ServingConfigFileError for bad settings
 * @throws ModelDigestMismatchError when the model file is not the pinned one
 * @throws ModelFileError when the model file cannot be read or parsed
 * @throws ApiKeyFileError when the API key file cannot be used
 * @throws ModelLoadError when onnxruntime cannot load the model (with `waitUntilReady`)
 * @throws Error when a port cannot be listened on (EADDRINUSE, …)
 */
export function startInferenceServer(options: InferenceServerOptions = {}): Promise<InferenceServer> {
  return InferenceServer.start(options);
}
