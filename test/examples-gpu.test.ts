/**
 * examples/gpu as its users run it (`npm run synth:gpu` runs the same app compiled): one manifest
 * per cloud, every object valid against its schema (Karpenter's and GKE's CRDs included), the
 * policy clean but for the device plugin's recorded waivers, and the services priced.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Yaml } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPolicy, DEVICE_PLUGIN_WAIVERS, type KubeObject } from '../lib/render';
import { validateAgainstSchema } from './support/kube-schema';
import { runExample } from './support/run-example';

const EXAMPLE = path.resolve(__dirname, '../examples/gpu');
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-gpu-example-'));
let stderr = '';

beforeAll(async () => {
  stderr = await runExample(EXAMPLE, outdir, () => import('../examples/gpu/main.js'));
}, 60_000);
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

const load = (file: string) => Yaml.load(path.join(outdir, file)) as KubeObject[];

describe('examples/gpu', () => {
  it('writes a manifest per cloud and the Triton image context', () => {
    expect(fs.readdirSync(outdir).sort()).toEqual(['aws-image.image', 'aws.k8s.yaml', 'gcp.k8s.yaml']);
    expect(load('aws.k8s.yaml').map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'EC2NodeClass/gpu',
      'NodePool/gpu-spot',
      'NodePool/gpu',
      'DaemonSet/gpu-device-plugin',
      'NetworkPolicy/gpu-device-plugin',
      'ServiceAccount/iris',
      'Service/iris',
      'Deployment/iris',
      'HorizontalPodAutoscaler/iris',
      'PodDisruptionBudget/iris',
      'NetworkPolicy/iris',
    ]);
    expect(load('gcp.k8s.yaml').map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ComputeClass/gpu',
      'ServiceAccount/iris',
      'Service/iris',
      'Deployment/iris',
      'HorizontalPodAutoscaler/iris',
      'PodDisruptionBudget/iris',
      'NetworkPolicy/iris',
    ]);
  });

  it('emits objects valid against their schemas, the policy waived for the device plugin only', async () => {
    for (const file of ['aws.k8s.yaml', 'gcp.k8s.yaml']) {
      const objects = load(file);
      for (const object of objects) await validateAgainstSchema(object);
      const { violations, waived } = checkPolicy(objects, DEVICE_PLUGIN_WAIVERS);
      expect(violations).toEqual([]);
      expect(new Set(waived.map((w) => w.object))).toEqual(
        file === 'aws.k8s.yaml' ? new Set(['DaemonSet/kube-system/gpu-device-plugin']) : new Set(),
      );
    }
  });

  it('prices each service on the cheapest node its pod fits', () => {
    expect(stderr).toContain('aws/iris: 1 × g5.xlarge at $1.006/h = $1.006/h');
    expect(stderr).toContain('gcp/iris: 1 × g2-standard-4 at $0.71/h = $0.710/h');
  });
});
