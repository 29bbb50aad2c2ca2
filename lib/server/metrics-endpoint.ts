/**
 * The metrics port's one endpoint, `GET /metrics` (and HEAD): the Prometheus exposition of the
 * server's registry. It takes no API key: the port is kept private by the NetworkPolicy instead.
 */
import type http from 'node:http';
import { pathOf, sendJson } from './exchange';
import { type ServerLog } from './server-log';
import { type ServerMetrics } from './server-metrics';

/** Answers one request on the metrics port. */
export function serveMetrics(
  metrics: ServerMetrics,
  log: ServerLog,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): void {
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
  metrics.render().then(
    ({ body, contentType }) => {
      if (res.destroyed) return;
      const bytes = Buffer.from(body, 'utf8');
      res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': String(bytes.length) });
      res.end(bytes);
    },
    (error: Error) => {
      log.error(`the metrics could not be collected: ${error.message}`, { event: 'metrics-failed' });
      sendJson(res, undefined, 500, { error: `the metrics could not be collected: ${error.message}` });
    },
  );
}
