import { defineConfig } from 'vitest/config';
import base from './vitest.config.mts';

// `npm run test:gate` (see DEVELOPERS.md): the gate's full budgets on models that need them (a
// model of about 100 ms per inference judged within a 30-second budget, twice). Kept out of
// `npm test` (its include is test/**/*.test.ts): a minute of measuring on a 2-core machine, which
// `npm test`'s two minutes cannot hold. Same module aliases as `npm test`; one file at a time,
// since gates measure.
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ['test/gate-budget/**/*.gate-test.ts'],
    // Builds build/server/ (the server bundle the gate starts), as for `npm test`.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
