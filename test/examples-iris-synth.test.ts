import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Yaml } from 'cdk8s';
import { afterAll, describe, expect, it } from 'vitest';
import { checkPolicy, type KubeObject } from '../lib/render';
import { validateAgainstSchema } from './support/kube-schema';

const ROOT = path.resolve(__dirname, '..');
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-iris-synth-'));
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

describe('npm run synth (the quick start)', () => {
  // The real command: compile the package and the example, then `cdk8s synth` from examples/iris.
  const run = spawnSync('npm', ['run', 'synth', '--', '--output', outdir], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
  });

  it('exits 0 and writes the Iris manifests', () => {
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(fs.readdirSync(outdir).sort()).toEqual([
      'iris-iris.gate.json',
      'iris-iris.gate.md',
      'iris-iris.gate.svg',
      'iris.k8s.yaml',
    ]);
  });

  it('emits objects that validate against the Kubernetes OpenAPI schema of their apiVersion', async () => {
    const objects = Yaml.load(path.join(outdir, 'iris.k8s.yaml')) as KubeObject[];
    expect(objects.map((o) => `${o.apiVersion}/${o.kind}`)).toEqual([
      'v1/ServiceAccount',
      'v1/Service',
      'apps/v1/Deployment',
      'autoscaling/v2/HorizontalPodAutoscaler',
      'policy/v1/PodDisruptionBudget',
      'networking.k8s.io/v1/NetworkPolicy',
      'networking.k8s.io/v1/Ingress',
    ]);
    for (const object of objects) {
      await expect(
        validateAgainstSchema(object),
        `${object.kind}/${object.metadata.name}`,
      ).resolves.toBeUndefined();
    }
  });

  it('passes the policy check with zero violations and no waivers', () => {
    const objects = Yaml.load(path.join(outdir, 'iris.k8s.yaml')) as KubeObject[];
    expect(checkPolicy(objects)).toEqual({ violations: [], waived: [] });
  });
});
