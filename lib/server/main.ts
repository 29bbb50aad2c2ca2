/**
 * The server process: the entry the image runs (`node server/main.js`, bundled by esbuild with
 * `server/inference-worker.js` beside it). Settings come from `MODELFAB_*` variables and the
 * serving config file: `$MODELFAB_CONFIG`, else `modelfab.json` in the directory above this
 * file's (the build context's root). SIGTERM or SIGINT drains and exits 0 within
 * `drainSeconds`; a second signal exits at once with 1. A server that cannot start (bad settings,
 * a model file whose sha256 is not the pinned one, a model onnxruntime cannot load, a busy port)
 * logs one error line and exits 1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type InferenceServer, startInferenceServer } from './inference-server';
import { ServerLog } from './server-log';
import { SERVER_ENV } from '../core';

/** Starts the server for this process, and drains it on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const log = new ServerLog();
  const env = process.env;
  // The image's serving config: modelfab.json at the build context's root, above server/.
  const fallback = path.join(__dirname, '..', 'modelfab.json');
  const useFallback = (env[SERVER_ENV.configFile] ?? '').trim() === '' && fs.existsSync(fallback);
  let server: InferenceServer;
  try {
    server = await startInferenceServer({
      env,
      waitUntilReady: false,
      ...(useFallback ? { configFile: fallback } : {}),
    });
  } catch {
    process.exit(1); // startInferenceServer logged why
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn(`received ${signal} again; exiting without waiting`, { event: 'signal', signal });
      process.exit(1);
    }
    stopping = true;
    log.info(`received ${signal}; draining`, { event: 'signal', signal });
    server.close().then(
      () => process.exit(0),
      (error: Error) => {
        log.error(`the shutdown failed: ${error.message}`, { event: 'shutdown-failed' });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    await server.whenReady();
  } catch {
    if (stopping) return; // closed while loading: stop() exits
    await server.close(); // the server logged why it could not load the model
    process.exit(1);
  }
}

void main();
