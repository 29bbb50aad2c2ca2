import { defineConfig } from 'vitest/config';
import base from './vitest.config.mts';

// `npm run test:image`: the generated container image built and run with podman (see DEVELOPERS.md).
// Kept out of `npm test` (its include is test/**/*.test.ts): it needs root, podman and debootstrap,
// and minutes the first time (base images). Same module aliases as `npm test`.
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ['test/image/**/*.image-test.ts'],
    testTimeout: 120_000,
    hookTimeout: 20 * 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
