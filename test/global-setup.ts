/**
 * Vitest global setup (`npm test` and `npm run test:image`): builds the server bundle and the
 * image's runtime lock into `build/server/` once per run, as `npm run build` does, so every test
 * that renders a ModelImage build context reads files made from the sources under test, also
 * from a fresh clone where nothing was built yet.
 */
import { buildServer } from '../tools/build-server';

/** Runs once before any test file. */
export default function setup(): void {
  buildServer();
}
