/**
 * The Iris gate that the Pulumi test files share (the services, the parity rows, the stack program,
 * the preview): the same props, the same default resources, one cache for the whole run, so it is
 * measured once and read back everywhere else. Each measurement costs seconds of a 2-minute run.
 * Its bound clears the stalls of a 1-CPU CFS quota (a throttled server waits out the rest of a
 * 100 ms period): these files check what the gate feeds, not the latency.
 */
import * as path from 'node:path';
import { type GateProps } from '../../lib/core';

const IRIS_DIR = path.resolve(__dirname, '../../examples/iris/model');

/** The environment variable global-setup sets to the shared cache's folder. */
export const SHARED_GATE_CACHE_ENV = 'MODELFAB_TEST_SHARED_GATE_CACHE';

/** stacks/Pulumi.dev.yaml's gate less its throughput threshold, with a 3-second budget and one batch size. */
export const SHARED_IRIS_GATE = {
  latencyP99Ms: 200,
  accuracy: { dataset: path.join(IRIS_DIR, 'eval.jsonl'), metric: 'top1', min: 0.9 },
  parity: { dataset: path.join(IRIS_DIR, 'expected.jsonl'), atol: 1e-5, rtol: 1e-4 },
  maxColdStartMs: 2000,
  budgetSeconds: 3,
  maxBatchSize: 1,
} satisfies GateProps;

/** The shared cache's folder (set by global-setup before the workers start). */
export function sharedGateCache(): string {
  const dir = process.env[SHARED_GATE_CACHE_ENV];
  if (!dir)
    throw new Error(`${SHARED_GATE_CACHE_ENV} is not set: run the tests through vitest's global setup`);
  return dir;
}
