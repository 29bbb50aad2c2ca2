/**
 * An inference server for tests: on 127.0.0.1 with ephemeral ports, no `MODELFAB_*` variables
 * from the test's environment, and its JSON log lines collected in `lines`.
 */
import { type InferenceServer, type InferenceServerOptions, startInferenceServer } from '../../lib/server';

/** Starts a server with `options` over those defaults; close it when done. */
export function startLocalServer(options: InferenceServerOptions, lines: string[]): Promise<InferenceServer> {
  return startInferenceServer({
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    env: {},
    log: (line) => lines.push(line),
    ...options,
  });
}
