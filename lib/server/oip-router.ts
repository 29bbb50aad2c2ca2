/**
 * The server's answer by endpoint: 404 for an unknown path, model or version, 405 for a method an
 * endpoint does not take, 401 without the API key (health is open to probes), the health,
 * readiness and metadata answers, and inference handed to the server. A client repeats a few
 * request targets, so each is matched once and remembered.
 */
import type http from 'node:http';
import { type ModelInfo } from '../model';
import { type ApiKey } from './api-key';
import { type Exchange, sendJson } from './exchange';
import { modelMetadata, serverMetadata } from './oip-metadata';
import { type OipRoute, allowedMethods, matchOipRoute } from './oip-routes';

/** What the router serves, and who may ask. */
export interface RoutedModel {
  /** The served model's signature, for its metadata. */
  readonly model: ModelInfo;
  /** The name the model is served under. */
  readonly modelName: string;
  /** The version the model is served as. */
  readonly modelVersion: string;
  /** The version `GET /v2` reports. */
  readonly serverVersion: string;
  /** The key every endpoint but health requires, when the server has one. */
  readonly apiKey: ApiKey | undefined;
}

/** What the router asks the server, each time a request needs it. */
export interface RoutedServer {
  /** True while `GET /v2/health/live` answers 200. */
  readonly isLive: () => boolean;
  /** True while `GET /v2/health/ready` (and the model's ready endpoint) answers 200. */
  readonly isReady: () => boolean;
  /** Why the server is not ready (or not live), for a 503's message. */
  readonly notReadyReason: () => string;
  /** Serves an inference request for the served model. */
  readonly infer: (exchange: Exchange, req: http.IncomingMessage, res: http.ServerResponse) => void;
}

const ENDPOINTS =
  'GET /v2/health/live, GET /v2/health/ready, GET /v2, GET /v2/models/{name}[/versions/{version}][/ready], POST /v2/models/{name}[/versions/{version}]/infer';

/** Routes by request target, so the few targets a client repeats are matched once. */
const ROUTE_CACHE_SIZE = 64;

/** Answers each request by the endpoint it names; one per server. */
export class OipRouter {
  /** matchOipRoute's answers by request target (undefined answers included), bounded. */
  private readonly routes = new Map<string, OipRoute | undefined>();

  constructor(
    private readonly served: RoutedModel,
    private readonly server: RoutedServer,
  ) {}

  /** Answers `req`, or hands it to the server's inference when it is one for the served model. */
  route(exchange: Exchange, req: http.IncomingMessage, res: http.ServerResponse): void {
    const route = this.match(req.url ?? '/');
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
    if (route.kind === 'live' || route.kind === 'ready') {
      const ok = route.kind === 'live' ? this.server.isLive() : this.server.isReady();
      const answer = ok
        ? { [route.kind]: true }
        : { [route.kind]: false, error: this.server.notReadyReason() };
      sendJson(res, exchange, ok ? 200 : 503, answer);
      return;
    }
    const { apiKey } = this.served;
    if (apiKey !== undefined && !apiKey.accepts(req.headers)) {
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
      sendJson(res, exchange, 200, serverMetadata(this.served.serverVersion));
      return;
    }
    const { modelName, modelVersion } = this.served;
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
      sendJson(res, exchange, 200, modelMetadata(this.served.model, modelName, modelVersion));
    } else if (route.kind === 'model-ready') {
      const ready = this.server.isReady();
      sendJson(
        res,
        exchange,
        ready ? 200 : 503,
        ready
          ? { name: modelName, ready: true }
          : { name: modelName, ready: false, error: this.server.notReadyReason() },
      );
    } else {
      this.server.infer(exchange, req, res);
    }
  }

  private match(target: string): OipRoute | undefined {
    const cached = this.routes.get(target);
    if (cached !== undefined || this.routes.has(target)) return cached;
    const route = matchOipRoute(target);
    if (this.routes.size >= ROUTE_CACHE_SIZE) this.routes.clear();
    this.routes.set(target, route);
    return route;
  }
}
