import path from 'node:path';
import { defineConfig } from 'vitest/config';

// `npm run test:image`: the generated container image built and run with podman (see DEVELOPERS.md).
// Kept out of `npm test` (its include is test/**/*.test.ts): it needs root, podman and debootstrap,
// and minutes the first time (base images).
export default defineConfig({
  resolve: {
    alias: [
      { find: /^modelfab\/cdk8s$/, replacement: path.resolve(import.meta.dirname, 'lib/cdk8s/index.ts') },
      { find: /^modelfab$/, replacement: path.resolve(import.meta.dirname, 'lib/index.ts') },
    ],
  },
  test: {
    include: ['test/image/**/*.image-test.ts'],
    testTimeout: 120_000,
    hookTimeout: 20 * 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
