/**
 * Listening and closing the server's two HTTP servers, and the URLs they answer on.
 */
import type http from 'node:http';
import { type AddressInfo } from 'node:net';

/** The URL a client on this machine reaches `host:port` at (`0.0.0.0` → `127.0.0.1`). */
export function urlOf(host: string, port: number, suffix = ''): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const hostPart = reachable.includes(':') ? `[${reachable}]` : reachable;
  return `http://${hostPart}:${port}${suffix}`;
}

/** Listens on `host:port` and resolves with the port bound (`0`: a free one). */
export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting, closes idle keep-alive connections and resolves once the server has closed. */
export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
