/**
 * Vitest global setup (`npm test` and `npm run test:image`): builds the server bundle and the
 * image's runtime lock into `build/server/` once per run, as `npm run build` does, so every test
 * that renders a ModelImage build context reads files made from the sources under test, also
 * from a fresh clone where nothing was built yet. It also makes the gate cache the files that
 * share the Iris gate read and write (test/support/shared-gate.ts): measured once a run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildServer } from '../tools/build-server';
import { SHARED_GATE_CACHE_ENV } from './support/shared-gate';

/** Runs once before any test file; what it returns runs once after the last. */
export default function setup(): () => void {
  buildServer();
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-shared-gate-'));
  // Set before the workers start, so each inherits it.
  process.env[SHARED_GATE_CACHE_ENV] = cache;
  return () => fs.rmSync(cache, { recursive: true, force: true });
}
