/**
 * `pulumi preview` runs the same program with the engine in dry-run mode: the gate runs there too,
 * so a model that misses its thresholds is stopped before `pulumi up` is ever run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InferenceService, ModelImage } from '../lib/pulumi';
import { SHARED_IRIS_GATE, sharedGateCache } from './support/shared-gate';
import { installPulumiMocks, runProgram } from './support/pulumi-mocks';

const mocks = installPulumiMocks({ preview: true });
const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-pulumi-preview-'));
beforeAll(() => vi.stubEnv('MODELFAB_CACHE_DIR', sharedGateCache()));
afterAll(() => {
  vi.unstubAllEnvs();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('pulumi preview', () => {
  it('is a dry run', () => {
    expect(pulumi.runtime.isDryRun()).toBe(true);
  });

  it('plans the image and every object of a service that passes its gate', async () => {
    const outdir = path.join(scratch, 'out');
    const run = await runProgram(() => {
      const image = new ModelImage('iris', { model: IRIS, ecr: true, outdir });
      new InferenceService('iris', {
        image,
        namespace: 'ml',
        // The run's shared gate (measured once): this checks the preview's plan, not the latency.
        gate: SHARED_IRIS_GATE,
        outdir,
      });
    });
    expect(run.errors).toEqual([]);
    expect(mocks.resources.filter((r) => r.type.startsWith('kubernetes:'))).toHaveLength(6);
    expect(fs.existsSync(path.join(outdir, 'iris.gate.svg'))).toBe(true);
  }, 60_000);

  it('fails on a missed gate, with its message, before anything is deployed', async () => {
    mocks.reset();
    const run = await runProgram(() => {
      new InferenceService('iris', {
        model: IRIS,
        image: 'ghcr.io/acme/iris:1.0.0',
        gate: { latencyP99Ms: 0.0001, budgetSeconds: 3, maxBatchSize: 1 },
        outdir: path.join(scratch, 'failed'),
      });
    });
    // Matched among all errors: one left over from an earlier failed run would otherwise hide this one.
    expect(run.errors.map((error) => error.message)).toContainEqual(
      expect.stringMatching(/\[iris\] gate failed: latency p99 .* > latencyP99Ms 0\.0001/),
    );
    expect(mocks.resources.filter((r) => r.type.startsWith('kubernetes:'))).toEqual([]);
  }, 60_000);
});
