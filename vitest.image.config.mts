import { defineConfig } from 'vitest/config';
import base from './vitest.config.mts';

// `npm run test:image` (see DEVELOPERS.md): the generated container image built and run with podman,
// and modelfab installed from `npm pack` with npm and with pnpm. Kept out of `npm test` (its include
// is test/**/*.test.ts): they need root, podman and debootstrap, the npm registry, and minutes the
// first time (base images). Same module aliases as `npm test`.
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ['test/image/**/*.image-test.ts'],
    // Builds build/server/ (the server bundle and the image's runtime lock), as for `npm test`.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 20 * 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
