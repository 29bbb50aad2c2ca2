/**
 * MultiCloudDeployment in cdk8s, synthesized for real (its gates read the run's shared Iris gate):
 * one manifest per target, valid against the schemas and the policy, each Ingress carrying the
 * routing's external-dns annotations, every object its wave, each target sized from its share of
 * the global SLO, the ApplicationSet that rolls the waves out, and bad input refused with nothing
 * written.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Yaml } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as cdk8s from '../lib/cdk8s';
import { type MultiCloudDeploymentProps } from '../lib/core';
import { checkPolicy, type KubeObject } from '../lib/render';
import { validateAgainstSchema } from './support/kube-schema';
import { MULTI } from './support/multicloud-fixtures';
import { sharedGateCache } from './support/shared-gate';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-multicloud-'));
beforeAll(() => vi.stubEnv('MODELFAB_CACHE_DIR', sharedGateCache()));
afterAll(() => {
  vi.unstubAllEnvs();
  fs.rmSync(scratch, { recursive: true, force: true });
});

function synth(props: MultiCloudDeploymentProps = MULTI) {
  const outdir = fs.mkdtempSync(path.join(scratch, 'out-'));
  const app = new App({ outdir });
  const deployment = new cdk8s.MultiCloudDeployment(app, 'iris', props);
  app.synth();
  const load = (file: string) => Yaml.load(path.join(outdir, file)) as KubeObject[];
  return { outdir, deployment, load };
}

describe('MultiCloudDeployment (cdk8s)', () => {
  let run: ReturnType<typeof synth>;
  beforeAll(() => {
    run = synth();
  }, 60_000);

  it("writes a manifest per target, named after it, and the ApplicationSet's", () => {
    expect(
      fs
        .readdirSync(run.outdir)
        .filter((f) => f.endsWith('.k8s.yaml'))
        .sort(),
    ).toEqual(['eks-us.k8s.yaml', 'gke-eu.k8s.yaml', 'iris-applicationset.k8s.yaml', 'onprem.k8s.yaml']);
  });

  it('emits objects that validate against their schemas and pass the policy, every one labelled with its wave', async () => {
    for (const [file, wave] of [
      ['eks-us.k8s.yaml', '1'],
      ['gke-eu.k8s.yaml', '2'],
      ['onprem.k8s.yaml', '2'],
    ]) {
      const objects = run.load(file);
      for (const object of objects) await validateAgainstSchema(object);
      expect(checkPolicy(objects).violations).toEqual([]);
      for (const object of objects) expect(object.metadata.labels?.['modelfab.dev/wave'], file).toBe(wave);
    }
    for (const object of run.load('iris-applicationset.k8s.yaml')) await validateAgainstSchema(object);
  });

  it("gives each target's Ingress the hostname, its own host and the routing's external-dns annotations", () => {
    const ingress = (file: string) => run.load(file).find((o) => o.kind === 'Ingress') as any;
    const us = ingress('eks-us.k8s.yaml');
    expect(us.spec.rules.map((r: { host: string }) => r.host)).toEqual([
      'iris.example.com',
      'eks-us.iris.example.com',
    ]);
    expect(us.metadata.annotations).toMatchObject({
      'external-dns.alpha.kubernetes.io/hostname': 'iris.example.com',
      'external-dns.alpha.kubernetes.io/set-identifier': 'eks-us',
      'external-dns.alpha.kubernetes.io/aws-weight': '60',
    });
    expect(ingress('onprem.k8s.yaml').metadata.annotations).toMatchObject({
      'external-dns.alpha.kubernetes.io/set-identifier': 'onprem',
      'external-dns.alpha.kubernetes.io/aws-weight': '0',
    });
  });

  it('sizes each target from its share of the SLO, with one target lost, and its own measured capacity', () => {
    const summary = run.deployment.summary;
    const [us, eu, onprem] = summary.targets;
    // Survive 1: losing gke-eu leaves eks-us all of the 1,000 rps (60 of 60), and the other way round.
    expect([us.requiredRps, eu.requiredRps, onprem.requiredRps]).toEqual([1000, 1000, 0]);
    expect(us.bindingLoss).toEqual(['gke-eu']);
    const hpa = (file: string) => run.load(file).find((o) => o.kind === 'HorizontalPodAutoscaler') as any;
    for (const [file, target] of [
      ['eks-us.k8s.yaml', us],
      ['gke-eu.k8s.yaml', eu],
    ] as const) {
      // The replicas one replica's measured rate needs for 1,000 rps at 70%, never below the floor of 2.
      const planned = Math.max(2, Math.ceil(1000 / (target.perReplicaRps! * 0.7)));
      expect(hpa(file).spec.minReplicas).toBe(planned);
      expect(target.replicas).toBe(Math.ceil(1000 / (target.perReplicaRps! * 0.7)));
    }
    // The standby takes no traffic in any loss of one target: its own fixed replicas, no plan.
    expect(run.load('onprem.k8s.yaml').find((o) => o.kind === 'Deployment')!.spec).toMatchObject({
      replicas: 2,
    });
    expect(summary.planTable).toContain('| eks-us |');
    expect(summary.hostname).toBe('iris.example.com');
    expect(summary.targets.map((t) => t.url)).toEqual([
      'http://iris.ml.svc.cluster.local:8080',
      'http://iris.ml.svc.cluster.local:8080',
      'http://iris.ml.svc.cluster.local:8080',
    ]);
  });

  it('rolls the targets out wave by wave through an ApplicationSet', () => {
    const [set] = run.load('iris-applicationset.k8s.yaml') as any[];
    expect(set.metadata).toMatchObject({ name: 'iris', namespace: 'argocd' });
    expect(set.spec.strategy.type).toBe('RollingSync');
    expect(set.spec.strategy.rollingSync.steps.map((s: any) => s.matchExpressions[0].values)).toEqual([
      ['1'],
      ['2'],
    ]);
    expect(set.spec.generators[0].list.elements.map((e: any) => [e.name, e.wave])).toEqual([
      ['eks-us', '1'],
      ['gke-eu', '2'],
      ['onprem', '2'],
    ]);
  });

  it.each<[string, () => unknown, string]>([
    [
      'Route53 records, which cdk8s cannot make',
      () => synth({ ...MULTI, routing: { ...MULTI.routing, dns: { route53: { zoneId: 'Z1' } } } }),
      '[iris] routing.dns.route53 creates Route53 records and health checks, which are AWS resources cdk8s cannot make',
    ],
    [
      'a target that cannot carry its share within its maxReplicas',
      () =>
        synth({
          ...MULTI,
          slo: { targetRps: 100_000_000 },
          targets: [{ ...MULTI.targets[0], autoscaling: { maxReplicas: 3 } }, MULTI.targets[1]],
        }),
      // The target, its share (and the loss that sets it), its capacity and the fix.
      "[eks-us/iris] capacity plan failed: target eks-us's share of the global slo.targetRps 100000000 (60% with every target up, 100% when gke-eu is lost), 100,000,000 rps, needs",
    ],
    [
      'a target that cannot carry its share with every target up (survive 0)',
      () =>
        synth({
          ...MULTI,
          slo: { targetRps: 100_000_000, survive: 0 },
          targets: [{ ...MULTI.targets[0], autoscaling: { maxReplicas: 3 } }, MULTI.targets[1]],
        }),
      "[eks-us/iris] capacity plan failed: target eks-us's share of the global slo.targetRps 100000000 (60% with every target up), 60,000,000 rps, needs",
    ],
    [
      'a bad override, named by its target',
      () =>
        synth({ ...MULTI, targets: [{ ...MULTI.targets[0], resources: { cpu: 'lots' } }, MULTI.targets[1]] }),
      '[eks-us/iris] resources.cpu',
    ],
  ])('refuses %s, naming the path, and writes no manifest', (_case, make, message) => {
    // The gate's reports may be written (they explain a missed plan); no manifest is.
    const written = () =>
      fs
        .readdirSync(scratch)
        .filter(
          (d) =>
            d.startsWith('out-') &&
            fs.readdirSync(path.join(scratch, d)).some((file) => file.endsWith('.k8s.yaml')),
        );
    const before = written();
    expect(make).toThrow(message);
    expect(written()).toEqual(before);
  });
});
