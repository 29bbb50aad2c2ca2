import path from 'node:path';
import { defineConfig } from 'vitest/config';

// `npm test` (`vitest run`) runs two projects, one after the other:
// - parallel: every file that measures nothing, two at a time;
// - measures: the files whose assertions rest on timing (real gate runs that must pass, a latency
//   or a pace measured on this machine), one at a time and after the others, so no neighbour's load
//   moves what they measure.
// `vitest run <file>` picks the file's project either way.

const resolve = {
  alias: [
    { find: /^modelfab\/cdk8s$/, replacement: path.resolve(import.meta.dirname, 'lib/cdk8s/index.ts') },
    { find: /^modelfab\/pulumi$/, replacement: path.resolve(import.meta.dirname, 'lib/pulumi/index.ts') },
    { find: /^modelfab$/, replacement: path.resolve(import.meta.dirname, 'lib/index.ts') },
  ],
};

/** Files that measure: a new file that runs a gate needing a pass, or times something, goes here. */
const MEASURES = [
  // Real gates: the Iris gate must pass, its latency must settle, its search must find a rate.
  'test/gate-run.test.ts',
  // The served model in its cgroup, and the cgroups themselves: a CPU quota halves real work.
  'test/gate-served-model.test.ts',
  'test/gate-resource-budget.test.ts',
  'test/cli-bench.test.ts',
  'test/examples-iris-synth.test.ts', // the example's 8-second gate, when examples/iris has no cache
  'test/pulumi-inference-service.test.ts',
  'test/pulumi-parity.test.ts',
  'test/pulumi-preview.test.ts',
  'test/pulumi-stack-program.test.ts',
  'test/multicloud.test.ts',
  'test/pulumi-multicloud.test.ts',
  'test/canary.test.ts',
  // Timing on this machine: a polling p50 pinned to one CPU; a timer's pace during inference;
  // inspecting a large model within a time that proves its weights are not scanned.
  'test/runtime-spin-budget.test.ts',
  'test/runtime-executor.test.ts',
  'test/model-inspect.test.ts',
];

const EXCLUDE = ['test/perf/**', 'node_modules/**', 'build/**'];

/** What both projects share. */
const common = {
  testTimeout: 30_000,
  hookTimeout: 120_000,
  pool: 'forks',
} as const;

export default defineConfig({
  resolve,
  test: {
    // Builds build/server/ (the server bundle and the image's runtime lock) before any test.
    globalSetup: ['test/global-setup.ts'],
    projects: [
      {
        resolve,
        test: {
          ...common,
          name: 'parallel',
          include: ['test/**/*.test.ts'],
          exclude: [...EXCLUDE, ...MEASURES],
          maxWorkers: 2,
          // Each worker runs its files one after another in one process, sharing loaded modules:
          // importing them again for each file cost ~7 s of a 2-core run. Each file sets up its own
          // mocks and state and restores what it changes (env stubs, the working directory).
          isolate: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        resolve,
        test: {
          ...common,
          name: 'measures',
          include: MEASURES,
          exclude: EXCLUDE,
          fileParallelism: false,
          // One after the other in one process, sharing loaded modules (@pulumi/*, onnxruntime):
          // importing them again for each file cost ~7 s. Each file sets up its own mocks and state.
          isolate: false,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
