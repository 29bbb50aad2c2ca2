/**
 * MultiCloudDeployment as a Pulumi component, under mocks: a Kubernetes provider per target and
 * each target's objects on it, the same objects cdk8s synthesizes for that target (DNS by
 * external-dns), Route53 health checks and records with the inputs of each routing policy, each
 * wave depending on the one before, the summary, and bad input refused before anything is made.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as pulumi from '@pulumi/pulumi';
import { App } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as cdk8s from '../lib/cdk8s';
import { type KubeObject } from '../lib/render';
import { MultiCloudDeployment, type MultiCloudDeploymentArgs } from '../lib/pulumi';
import { MULTI } from './support/multicloud-fixtures';
import { installPulumiMocks, runProgram, valueOf } from './support/pulumi-mocks';
import { sharedGateCache } from './support/shared-gate';

const mocks = installPulumiMocks();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-pulumi-multicloud-'));
beforeAll(() => vi.stubEnv('MODELFAB_CACHE_DIR', sharedGateCache()));
afterAll(() => {
  vi.unstubAllEnvs();
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** MULTI with a cluster per target (kubeconfig contexts), reports in the scratch folder, no ApplicationSet (cdk8s's). */
const { rollout: _rollout, ...PULUMI_MULTI } = MULTI;
const ARGS: MultiCloudDeploymentArgs = {
  ...PULUMI_MULTI,
  targets: MULTI.targets.map((t) => ({ ...t, context: `ctx-${t.name}` })),
  outdir: path.join(scratch, 'out'),
};
const KUBERNETES = /^kubernetes:/;

async function deploy(args: MultiCloudDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
  mocks.reset();
  return runProgram(async () => {
    const deployment = new MultiCloudDeployment('iris', args, opts);
    return { deployment, summary: await valueOf(deployment.summary) };
  });
}

/** The objects registered on a target's provider (reads of admitted Ingresses aside). */
function objectsOf(target: string): KubeObject[] {
  const provider = mocks.resources.find((r) => r.name === `iris-${target}-cluster`);
  expect(provider, target).toBeDefined();
  return mocks.resources
    .filter(
      (r) =>
        KUBERNETES.test(r.type) &&
        r.provider?.includes(`::iris-${target}-cluster::`) &&
        !r.name.endsWith('-ingress-status'),
    )
    .map((r) => JSON.parse(JSON.stringify(r.inputs)) as KubeObject);
}

const byKind = (objects: readonly KubeObject[]) =>
  [...objects].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));

describe('MultiCloudDeployment (Pulumi)', () => {
  it("makes a provider per target and puts each target's objects on it: the objects cdk8s makes for that target", async () => {
    const run = await deploy(ARGS);
    expect(run.errors).toEqual([]);
    expect(mocks.ofType('pulumi:providers:kubernetes').map((p) => [p.name, p.inputs.context])).toEqual([
      ['iris-eks-us-cluster', 'ctx-eks-us'],
      ['iris-gke-eu-cluster', 'ctx-gke-eu'],
      ['iris-onprem-cluster', 'ctx-onprem'],
    ]);
    const app = new App({ outdir: fs.mkdtempSync(path.join(scratch, 'cdk8s-')) });
    const synthesized = new cdk8s.MultiCloudDeployment(app, 'iris', MULTI);
    for (const target of ['eks-us', 'gke-eu', 'onprem']) {
      const objects = objectsOf(target);
      expect(objects.length, target).toBeGreaterThan(0);
      expect(byKind(objects), target).toEqual(byKind(synthesized.charts[target].toJson() as KubeObject[]));
    }
  }, 60_000);

  it('summarizes the plan, each target and the cost over all of them', async () => {
    const run = await deploy({ ...ARGS, service: { ...ARGS.service, nodeType: 'c6i.xlarge' } });
    expect(run.errors).toEqual([]);
    const summary = run.result!.summary;
    expect(summary.hostname).toBe('iris.example.com');
    expect(summary.targets.map((t) => [t.target, t.serviceName, t.requiredRps])).toEqual([
      ['eks-us', 'iris', 1000],
      ['gke-eu', 'iris', 1000],
      ['onprem', 'iris', 0],
    ]);
    const perHour = summary.targets.reduce((sum, t) => sum + t.cost!.costPerHour, 0);
    expect(summary.costPerHour).toBeCloseTo(perHour, 12);
    // The bill over what the hostname serves in an hour at slo.targetRps: 1,000 × 3,600 a million.
    expect(summary.costPerMillionInferences).toBeCloseTo((perHour / 3.6e6) * 1e6, 12);
    expect(summary.planTable).toContain('| gke-eu |');
  }, 60_000);

  it("makes each wave's services depend on the previous wave's", async () => {
    const options = new Map<string, pulumi.ResourceOptions>();
    const names = new Map<unknown, string>();
    const run = await deploy(ARGS, {
      transformations: [
        ({ name, opts, resource }) => {
          options.set(name, opts);
          names.set(resource, name);
          return undefined;
        },
      ],
    });
    expect(run.errors).toEqual([]);
    const dependsOn = (name: string) =>
      ((options.get(name)?.dependsOn as unknown[]) ?? []).map((r) => names.get(r));
    expect(dependsOn('iris-eks-us')).toEqual([]);
    expect(dependsOn('iris-gke-eu')).toEqual(['iris-eks-us']);
    expect(dependsOn('iris-onprem')).toEqual(['iris-eks-us']);
    // Their objects too: a child does not inherit its parent's dependencies.
    expect(dependsOn('iris-gke-eu-deployment')).toEqual(['iris-eks-us']);
    expect(dependsOn('iris-eks-us-deployment')).toEqual([]);
  }, 60_000);

  const ROUTE53 = { ...ARGS.routing, dns: { route53: { zoneId: 'Z0123456789ABC' } } };
  it.each<[string, Partial<MultiCloudDeploymentArgs>, Array<Record<string, unknown>>]>([
    [
      'weighted',
      { routing: ROUTE53 },
      [
        { weightedRoutingPolicies: [{ weight: 60 }] },
        { weightedRoutingPolicies: [{ weight: 40 }] },
        { weightedRoutingPolicies: [{ weight: 0 }] },
      ],
    ],
    [
      'latency',
      {
        routing: { ...ROUTE53, policy: 'latency' },
        targets: ARGS.targets.map((t, i) => ({
          ...t,
          region: t.region ?? 'us-west-2',
          routing: { expectedShare: [0.5, 0.3, 0.2][i] },
        })),
      },
      [
        { latencyRoutingPolicies: [{ region: 'us-east-1' }] },
        { latencyRoutingPolicies: [{ region: 'europe-west4' }] },
        { latencyRoutingPolicies: [{ region: 'us-west-2' }] },
      ],
    ],
    [
      'failover',
      {
        routing: { ...ROUTE53, policy: 'failover' },
        targets: [
          { ...ARGS.targets[0], routing: { failover: 'primary' } },
          { ...ARGS.targets[1], routing: { failover: 'secondary' } },
        ],
      },
      [
        { failoverRoutingPolicies: [{ type: 'PRIMARY' }] },
        { failoverRoutingPolicies: [{ type: 'SECONDARY' }] },
      ],
    ],
    [
      'geolocation',
      {
        routing: { ...ROUTE53, policy: 'geolocation' },
        targets: [
          { ...ARGS.targets[0], routing: { geolocation: { continent: 'NA' }, expectedShare: 0.6 } },
          { ...ARGS.targets[1], routing: { geolocation: { country: '*' }, expectedShare: 0.4 } },
        ],
      },
      [
        { geolocationRoutingPolicies: [{ continent: 'NA' }] },
        { geolocationRoutingPolicies: [{ country: '*' }] },
      ],
    ],
  ])(
    '%s: a health check on each target host, and a record for the hostname pointing at its load balancer',
    async (_policy, change, policies) => {
      const run = await deploy({ ...ARGS, ...change });
      expect(run.errors).toEqual([]);
      const targets = (change.targets ?? ARGS.targets).map((t) => t.name);
      const checks = mocks.ofType('aws:route53/healthCheck:HealthCheck');
      expect(
        checks.map((c) => [
          c.name,
          c.inputs.fqdn,
          c.inputs.type,
          c.inputs.resourcePath,
          c.inputs.failureThreshold,
          c.inputs.requestInterval,
        ]),
      ).toEqual(
        targets.map((t) => [
          `iris-${t}-health-check`,
          `${t}.iris.example.com`,
          'HTTPS',
          '/v2/health/ready',
          3,
          30,
        ]),
      );
      const records = mocks
        .ofType('aws:route53/record:Record')
        .filter((r) => r.inputs.name === 'iris.example.com');
      // Registered as each load balancer's address arrives: looked up by target.
      expect(records.map((r) => r.name).sort()).toEqual(targets.map((t) => `iris-${t}-record`).sort());
      targets.forEach((target, i) => {
        const record = records.find((r) => r.name === `iris-${target}-record`)!;
        expect(record.inputs).toMatchObject({
          zoneId: 'Z0123456789ABC',
          setIdentifier: target,
          healthCheckId: `iris-${target}-health-check-id`,
          ...policies[i],
        });
        // The load balancer the target's Ingress reports: an ELB's hostname, or MetalLB's IP on premises.
        expect([record.inputs.type, record.inputs.records]).toEqual(
          target === 'onprem'
            ? ['A', ['203.0.113.10']]
            : ['CNAME', [`iris-${target}-ingress-status.elb.us-east-1.amazonaws.com`]],
        );
      });
      const hosts = mocks
        .ofType('aws:route53/record:Record')
        .filter((r) => r.inputs.name !== 'iris.example.com');
      expect(hosts.map((r) => [r.name, r.inputs.name]).sort()).toEqual(
        targets.map((t) => [`iris-${t}-host-record`, `${t}.iris.example.com`]),
      );
      // No external-dns annotations when Route53 resources write the records.
      const ingress = mocks.resources.find(
        (r) => r.type === 'kubernetes:networking.k8s.io/v1:Ingress' && !r.name.endsWith('-ingress-status'),
      );
      expect(
        Object.keys(ingress!.inputs.metadata.annotations ?? {}).filter((k) => k.startsWith('external-dns')),
      ).toEqual([]);
    },
    60_000,
  );

  it.each<[string, MultiCloudDeploymentArgs, string]>([
    [
      'targets that name no cluster',
      { ...ARGS, targets: MULTI.targets },
      '[iris] targets[0] (eks-us) names no cluster, so every target would deploy to the default one; set provider, or kubeconfig and context',
    ],
    [
      'an Argo CD ApplicationSet, which would apply the same objects a second time',
      { ...ARGS, rollout: MULTI.rollout },
      `[iris] rollout.applicationSet {"repoURL":"https://github.com/acme/deploy.git","path":"iris"} has Argo CD apply each target's manifests from a repository, but this component deploys them itself, wave after wave; remove it, or write the manifests Argo CD syncs with the cdk8s MultiCloudDeployment`,
    ],
    [
      'an unknown arg',
      { ...ARGS, regions: ['x'] } as never,
      '[iris] regions is not an arg of MultiCloudDeployment',
    ],
    [
      'a bad target',
      { ...ARGS, targets: [{ ...ARGS.targets[0], wave: 0 }, ARGS.targets[1]] },
      '[iris] targets[0].wave must be an integer from 1 to 100, got 0',
    ],
  ])('refuses %s before anything is registered', async (_case, args, message) => {
    const run = await deploy(args);
    expect(run.errors.map((e) => e.message)).toEqual([expect.stringContaining(message)]);
    expect(mocks.resources).toEqual([]);
  });
});
