/**
 * examples/multicloud as its users run it (`npm run synth:multicloud` runs the same app compiled),
 * with the gate skipped (MODELFAB_GATE=skip; sizing from measured capacity is tested in
 * multicloud.test.ts): a manifest per cluster, valid and within the policy, each Ingress with its
 * weighted record's annotations, and the ApplicationSet of the two waves.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Yaml } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPolicy, type KubeObject } from '../lib/render';
import { validateAgainstSchema } from './support/kube-schema';
import { runExample } from './support/run-example';

const EXAMPLE = path.resolve(__dirname, '../examples/multicloud');
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-multicloud-example-'));

beforeAll(async () => {
  await runExample(EXAMPLE, outdir, () => import('../examples/multicloud/main.js'), {
    MODELFAB_GATE: 'skip',
  });
}, 60_000);
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

const load = (file: string) => Yaml.load(path.join(outdir, file)) as KubeObject[];

describe('examples/multicloud', () => {
  it('writes a manifest per cluster, the ApplicationSet and the image context', () => {
    expect(fs.readdirSync(outdir).sort()).toEqual([
      'eks-us.k8s.yaml',
      'gke-eu.k8s.yaml',
      'image.image',
      'iris-applicationset.k8s.yaml',
      'onprem.k8s.yaml',
    ]);
  });

  it('emits objects valid against their schemas and the policy, each Ingress with its weight', async () => {
    for (const [file, weight] of [
      ['eks-us.k8s.yaml', '60'],
      ['gke-eu.k8s.yaml', '30'],
      ['onprem.k8s.yaml', '10'],
    ]) {
      const objects = load(file);
      for (const object of objects) await validateAgainstSchema(object);
      expect(checkPolicy(objects).violations).toEqual([]);
      const ingress = objects.find((o) => o.kind === 'Ingress')!;
      expect(ingress.metadata.annotations).toMatchObject({
        'external-dns.alpha.kubernetes.io/hostname': 'iris.example.com',
        'external-dns.alpha.kubernetes.io/aws-weight': weight,
      });
    }
    const [set] = load('iris-applicationset.k8s.yaml') as any[];
    await validateAgainstSchema(set);
    expect(set.spec.strategy.rollingSync.steps).toHaveLength(2);
  });
});
