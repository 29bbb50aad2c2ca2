// Over ~400 lines on purpose: one class, the server's lifecycle (start, listen, load, ready, drain, close), whose steps share its state; its other concerns have files of their own.
/**
 * The inference server: the Open Inference Protocol (KServe V2) over node:http on top of the
 * lib/runtime executor, with its protections (body limit, bounded queue, timeouts, API key), its
 * lifecycle (digest check, load, warm-up, readiness, graceful drain) and its metrics on a port of
 * their own. The main thread only does HTTP, decoding, validation and batching; onnxruntime runs
 * in the executor's worker threads, so health and metrics answer while inference is saturated
 * (except a model measured faster than a hand-off to a worker, a few tens of µs a run, whose
 * small requests the executor runs on the main thread: see lib/runtime/inline-choice.ts).
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
 *
 * This file holds the lifecycle and the routing; the inference endpoint is infer-handler.ts, the
 * log lines and request metrics access-log.ts, the metrics port metrics-endpoint.ts, and how an
 * answer is written exchange.ts.
 */
import http from 'node:http';
import { type ModelInfo, inspectModel } from '../model';
import { Executor, ExecutorClosedError, type InlineMode } from '../runtime';
import { AccessLog, roundMs } from './access-log';
import { ApiKey } from './api-key';
import { type Exchange, answerError, sendJson, startExchange } from './exchange';
import { closeServer, listen, urlOf } from './http-listener';
import { InferHandler } from './infer-handler';
import { serveMetrics } from './metrics-endpoint';
import { checkModelDigest, ModelDigestMismatchError } from './model-digest';
import { OipRouter } from './oip-router';
import { type LogSink, ServerLog } from './server-log';
import { ServerMetrics } from './server-metrics';
import { type ServerOptions } from '../core';
import { type OptionNames, type ServerSettings, resolveServerSettings } from './server-settings';
import { serverVersion } from './server-version';
import { warmUp } from './warm-up';

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
  /**
   * Whether the executor may run a very fast model's small requests on the main thread (see
   * lib/runtime/inline-choice.ts); `always` and `never` are for tests.
   * @default 'auto'
   */
  readonly inline?: InlineMode;
}

/** Where the server is in its life. */
export type InferenceServerState = 'loading' | 'ready' | 'failed' | 'draining' | 'closed';

/**
 * Idle keep-alive connections live this long, ms: longer than common load-balancer idle timeouts
 * (60 s), so the server never closes a connection a balancer is about to reuse.
 */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

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
  private readonly inference: InferHandler;
  private readonly accessLog: AccessLog;
  private idleWaiters: Array<() => void> = [];
  private readonly router: OipRouter;
  private readonly exchangeDone = (exchange: Exchange, res: http.ServerResponse): void =>
    this.accessLog.record(exchange, res);
  private draining: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    settings: ServerSettings,
    model: ModelInfo,
    private readonly apiKey: ApiKey | undefined,
    private readonly log: ServerLog,
    version: string,
    private readonly inline: InlineMode,
  ) {
    this.settings = settings;
    this.model = model;
    this.metrics = new ServerMetrics(
      { name: settings.modelName, version: settings.modelVersion, sha256: model.sha256 },
      settings.maxBatchSize,
      () => ({ queued: this.executor?.stats().queued ?? 0, receiving: this.inference.receiving }),
      settings.latencyBoundMs,
    );
    this.accessLog = new AccessLog(log, this.metrics, settings.modelName);
    this.inference = new InferHandler(settings, model, {
      admitted: () => {
        this.active++;
        this.metrics.addInFlight(1);
      },
      settled: () => this.settleOne(),
    });
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
    this.metricsHttp = http.createServer((req, res) => serveMetrics(this.metrics, log, req, res));
    this.router = new OipRouter(
      {
        model,
        modelName: settings.modelName,
        modelVersion: settings.modelVersion,
        serverVersion: version,
        apiKey,
      },
      {
        isLive: () => this.live,
        isReady: () => this.ready,
        notReadyReason: () => this.notReadyReason(),
        infer: (exchange, req, res) => this.infer(exchange, req, res),
      },
    );
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
      server = new InferenceServer(
        settings,
        model,
        apiKey,
        log,
        options.serverVersion ?? serverVersion(),
        options.inline ?? 'auto',
      );
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

  /** True while `GET /v2/health/live` answers 200: the model did not fail to load, and once loaded, workers are alive. */
  private get live(): boolean {
    return (
      this.currentState !== 'failed' && (this.executor === undefined || this.executor.stats().workers > 0)
    );
  }

  /** True once a drain or close began: answers close their connections, new inference gets 503. */
  private get shuttingDown(): boolean {
    return this.currentState === 'draining' || this.currentState === 'closed';
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
      // Uploads still arriving were not accepted: they get 503 now, and only accepted requests are waited for.
      const cancelled = this.inference.cancelUploads();
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
    await this.inference.close();
    // Connections busy with a last response end after it (they are answered with Connection: close).
    if (!(await within(httpClosed, 1000))) this.http.closeAllConnections();
    this.metricsHttp.closeAllConnections();
    await Promise.all([httpClosed, metricsClosed]);
    this.log.info('stopped', { event: 'stopped', drained, shutdownMs: roundMs(performance.now() - started) });
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
    this.inference.start();
    let executor: Executor;
    try {
      executor = await Executor.create({
        modelPath: s.modelPath,
        model: this.model,
        workers: s.workers,
        intraOpThreads: s.intraOpThreads,
        executionProvider: s.executionProvider,
        batching: { maxBatchSize: s.maxBatchSize, maxQueueDelayMs: s.maxQueueDelayMs },
        maxQueueSize: s.maxQueueSize,
        // Whether idle threads poll depends on it, so a server sharing its cores (--cpus) can
        // turn polling off.
        cpus: s.cpus,
        // A model faster than a hand-off to a worker runs its small requests on this thread.
        inline: this.inline,
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
    let warmUpMs: number | undefined;
    try {
      warmUpMs = await warmUp(executor, this.model, this.log);
    } catch (error) {
      this.fail(error as Error);
      throw error;
    }
    if (this.currentState !== 'loading') return; // a drain began meanwhile
    this.currentState = 'ready';
    this.log.info('ready', {
      event: 'ready',
      loadMs: roundMs(loadMs),
      ...(warmUpMs !== undefined ? { warmUpMs: roundMs(warmUpMs) } : {}),
      workers: s.workers,
      intraOpThreads: s.intraOpThreads,
      executionProvider: s.executionProvider,
      maxBatchSize: s.maxBatchSize,
      maxQueueDelayMs: s.maxQueueDelayMs,
      batching: s.maxBatchSize > 1 && this.model.batchable,
      pollMs: executor.spinMs,
      execution: executor.execution,
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
    const exchange = startExchange(req, res, this.shuttingDown, this.exchangeDone);
    try {
      this.router.route(exchange, req, res);
    } catch (error) {
      answerError(exchange, res, error as Error);
    }
  }

  /** An inference request: 503 unless ready, else the inference handler's. */
  private infer(exchange: Exchange, req: http.IncomingMessage, res: http.ServerResponse): void {
    const executor = this.executor;
    if (!this.ready || executor === undefined) {
      exchange.refusal = this.shuttingDown ? 'shutting_down' : 'not_ready';
      sendJson(res, exchange, 503, { error: this.notReadyReason() });
      return;
    }
    this.inference.handle(exchange, req, res, executor);
  }
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
