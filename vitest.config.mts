import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: [
      { find: /^modelfab\/cdk8s$/, replacement: path.resolve(import.meta.dirname, 'lib/cdk8s/index.ts') },
      { find: /^modelfab\/pulumi$/, replacement: path.resolve(import.meta.dirname, 'lib/pulumi/index.ts') },
      { find: /^modelfab$/, replacement: path.resolve(import.meta.dirname, 'lib/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/perf/**', 'node_modules/**', 'build/**'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One file at a time: the gate tests measure latency, and a neighbour's load would make them flaky.
    fileParallelism: false,
  },
});
