/**
 * MultiCloudDeployment's props resolved and each target's service composed: defaults, the routing
 * per policy, and a bad-input table where each failure names the construct path, the target, the
 * value and the fix.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type MultiCloudDeploymentProps, PropsChecker, resolveMultiCloud } from '../lib/core';
import { planMultiCloud } from '../lib/pipeline';
import { chainedMatMulModel } from './support/gate-fixtures';

const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');

const PROPS: MultiCloudDeploymentProps = {
  service: { model: IRIS, image: 'ghcr.io/acme/iris:1.0.0', namespace: 'ml', gate: {} },
  targets: [
    { name: 'eks-us', cloud: 'aws', region: 'us-east-1', routing: { weight: 60 } },
    { name: 'gke-eu', cloud: 'gcp', region: 'europe-west4', routing: { weight: 40 }, wave: 2 },
    { name: 'onprem', cloud: 'other', routing: { weight: 0 }, wave: 2 },
  ],
  routing: { hostname: 'iris.example.com', policy: 'weighted' },
  slo: { targetRps: 1000 },
};

const resolve = (props: unknown) =>
  resolveMultiCloud(new PropsChecker('app/iris'), props as MultiCloudDeploymentProps);

describe('resolveMultiCloud', () => {
  it('applies the defaults: survive 1 with several targets, hosts under the hostname, external-dns', () => {
    const spec = resolve(PROPS);
    expect(spec.slo).toEqual({ targetRps: 1000, targetUtilization: 0.7, survive: 1 });
    expect(spec.routing).toEqual({
      hostname: 'iris.example.com',
      policy: 'weighted',
      healthCheck: { path: '/v2/health/ready', intervalSeconds: 30, failureThreshold: 3, regions: [] },
      dns: { kind: 'external-dns', annotationPrefix: 'external-dns.alpha.kubernetes.io/' },
    });
    expect(spec.targets.map((t) => [t.name, t.host, t.wave, t.routing])).toEqual([
      ['eks-us', 'eks-us.iris.example.com', 1, { setIdentifier: 'eks-us', weight: 60 }],
      ['gke-eu', 'gke-eu.iris.example.com', 2, { setIdentifier: 'gke-eu', weight: 40 }],
      ['onprem', 'onprem.iris.example.com', 2, { setIdentifier: 'onprem', weight: 0 }],
    ]);
    expect(spec.waves).toBe(2);
    // Losing eks-us leaves gke-eu all the traffic (40 of 40), and losing both others leaves the standby.
    expect(spec.plan.targets.map((t) => [t.name, t.requiredRps, t.bindingLoss])).toEqual([
      ['eks-us', 1000, ['gke-eu']],
      ['gke-eu', 1000, ['eks-us']],
      ['onprem', 0, []],
    ]);
  });

  it("composes each target's service: its overrides, the routing hosts and annotations, its wave, its share as its SLO", () => {
    const planned = planMultiCloud(
      {
        ...PROPS,
        service: { ...PROPS.service, env: { LOG: 'info' }, autoscaling: { maxReplicas: 8 } },
        targets: [
          { ...PROPS.targets[0], resources: { cpu: '2', memory: '1Gi' }, env: { REGION: 'us' } },
          { ...PROPS.targets[1], replicas: 3 },
          PROPS.targets[2],
        ],
      },
      'app/iris',
      { fallbackId: 'iris', path: (target) => `${target}/iris` },
    );
    const [us, eu, onprem] = planned.targets.map((t) => t.service);
    expect(us).toMatchObject({
      resources: { cpu: '2', memory: '1Gi' },
      autoscaling: { maxReplicas: 8 },
      env: { LOG: 'info', REGION: 'us' },
      labels: { 'modelfab.dev/wave': '1' },
      slo: { targetRps: 1000, targetUtilization: 0.7 },
    });
    expect(us.ingress?.hosts).toEqual(['iris.example.com', 'eks-us.iris.example.com']);
    expect(us.ingress?.annotations).toMatchObject({
      'external-dns.alpha.kubernetes.io/hostname': 'iris.example.com',
      'external-dns.alpha.kubernetes.io/set-identifier': 'eks-us',
      'external-dns.alpha.kubernetes.io/aws-weight': '60',
    });
    // external-dns from v0.22 reads another prefix: the same annotations under it.
    const ga = planMultiCloud(
      {
        ...PROPS,
        routing: {
          ...PROPS.routing,
          dns: { externalDns: { annotationPrefix: 'external-dns.kubernetes.io/' } },
        },
      },
      'app/iris',
      { fallbackId: 'iris', path: (target) => `${target}/iris` },
    );
    expect(ga.targets[0].service.ingress?.annotations).toMatchObject({
      'external-dns.kubernetes.io/hostname': 'iris.example.com',
      'external-dns.kubernetes.io/aws-weight': '60',
    });
    // Fixed replicas replace the service's autoscaling.
    expect(eu).toMatchObject({ replicas: 3, labels: { 'modelfab.dev/wave': '2' } });
    expect(eu.autoscaling).toBeUndefined();
    // A standby that takes no traffic in any loss the plan covers keeps its own scaling.
    expect(onprem.slo).toBeUndefined();
  });

  const target = (i: number, change: object) =>
    PROPS.targets.map((t, k) => (k === i ? { ...t, ...change } : t));
  it.each<[string, object, string]>([
    [
      'a target name that names no file',
      { targets: target(1, { name: 'GKE_eu' }) },
      `targets[1].name "GKE_eu" names the target's chart and manifest file: use a DNS-1123 label, e.g. 'eks-us'`,
    ],
    [
      'two targets of one name',
      { targets: target(1, { name: 'eks-us' }) },
      `targets[1] (eks-us) name "eks-us" is also targets[0]'s; rename one`,
    ],
    [
      'two records of one set identifier',
      { targets: target(2, { routing: { weight: 0, setIdentifier: 'gke-eu' } }) },
      `targets[2] (onprem) routing.setIdentifier "gke-eu" is also targets[1]'s; give each its own`,
    ],
    [
      'a cloud modelfab does not know',
      { targets: target(0, { cloud: 'ibm' }) },
      `targets[0] (eks-us) cloud "ibm" is not one of aws, gcp, azure, other ('other' for any cluster a kubeconfig reaches)`,
    ],
    [
      'a negative weight',
      { targets: target(0, { routing: { weight: -1 } }) },
      'targets[0].routing.weight must be an integer from 0 to 255, got -1; targets[0] (eks-us): Route53 weights run from 0 to 255',
    ],
    [
      'every weight 0',
      { targets: PROPS.targets.map((t) => ({ ...t, routing: { weight: 0 } })) },
      "every target's routing.weight is 0 (eks-us: 0, gke-eu: 0, onprem: 0), so no target is meant to take traffic; give at least one a positive weight",
    ],
    [
      'waves with a gap',
      { targets: PROPS.targets.map((t, k) => (k === 0 ? t : { ...t, wave: 3 })) },
      'skip wave 2: waves run from 1 without gaps',
    ],
    [
      'failover with two primaries',
      {
        routing: { hostname: 'iris.example.com', policy: 'failover' },
        targets: [
          { name: 'a', cloud: 'aws', routing: { failover: 'primary' } },
          { name: 'b', cloud: 'gcp', routing: { failover: 'primary' } },
        ],
      },
      'failover routing needs exactly one primary and one secondary target, got a: "primary", b: "primary"; set routing.failover on two targets',
    ],
    [
      'latency routing without a region',
      {
        routing: { hostname: 'iris.example.com', policy: 'latency' },
        targets: [
          { name: 'a', cloud: 'aws', region: 'us-east-1', routing: { expectedShare: 0.5 } },
          { name: 'b', cloud: 'other', routing: { expectedShare: 0.5 } },
        ],
      },
      "targets[1] (b) has no region, which latency routing answers by; set region, e.g. 'us-east-1'",
    ],
    [
      'declared shares that do not sum to 1',
      {
        routing: { hostname: 'iris.example.com', policy: 'latency' },
        targets: [
          { name: 'a', cloud: 'aws', region: 'us-east-1', routing: { expectedShare: 0.5 } },
          { name: 'b', cloud: 'gcp', region: 'europe-west4', routing: { expectedShare: 0.4 } },
        ],
      },
      "the targets' routing.expectedShare sum to 0.9 (a: 0.5, b: 0.4), not 1",
    ],
    [
      'a routing field the policy does not use',
      { targets: target(0, { routing: { weight: 60, failover: 'primary' } }) },
      'targets[0] (eks-us) routing.failover "primary" does not apply to weighted routing; remove it, or change routing.policy',
    ],
    [
      'a geolocation with a continent and a country',
      {
        routing: { hostname: 'iris.example.com', policy: 'geolocation' },
        targets: [
          {
            name: 'a',
            cloud: 'aws',
            routing: { expectedShare: 1, geolocation: { continent: 'EU', country: 'DE' } },
          },
        ],
      },
      'targets[0] (a) routing.geolocation {"continent":"EU","country":"DE"} needs a continent or a country (and optionally its subdivision), not both or neither',
    ],
    [
      'surviving the loss of every target',
      { slo: { targetRps: 1000, survive: 3 } },
      'slo.survive must be an integer from 0 to 2, got 3; at most 2: losing all 3 targets leaves none to serve',
    ],
    [
      "the service's own slo",
      { service: { ...PROPS.service, slo: { targetRps: 10 } } },
      'service.slo {"targetRps":10} would size every target for the whole load; set the global one as slo, which is split over the targets by the routing',
    ],
    [
      'a service without a gate',
      { service: { ...PROPS.service, gate: undefined } },
      'service.gate is required: each target is sized from the capacity its gate measures',
    ],
    [
      'ingress hosts on the service',
      { service: { ...PROPS.service, ingress: { hosts: ['x.example.com'] } } },
      `service.ingress.hosts ["x.example.com"] come from the routing: routing.hostname and each target's host; remove them`,
    ],
    [
      'a canary on the service',
      {
        service: {
          ...PROPS.service,
          canary: { image: 'ghcr.io/acme/iris:2.0.0', weight: 10, gateway: { name: 'public' } },
        },
      },
      'service.canary {"image":"ghcr.io/acme/iris:2.0.0","weight":10,"gateway":{"name":"public"}} cannot split a MultiCloudDeployment\'s requests: each target is reached through its Ingress, which the DNS routing points at and a Gateway API route would bypass; roll a candidate out by waves',
    ],
    [
      'an unknown routing policy',
      { routing: { hostname: 'iris.example.com', policy: 'random' } },
      'routing.policy "random" is not a routing policy; use weighted, latency, failover, geolocation',
    ],
    [
      'a health check interval Route53 does not have',
      { routing: { ...PROPS.routing, healthCheck: { intervalSeconds: 15 } } },
      "routing.healthCheck.intervalSeconds 15 must be 10 or 30 (Route53's two intervals)",
    ],
    [
      'both DNS writers',
      { routing: { ...PROPS.routing, dns: { route53: { zoneId: 'Z1' }, externalDns: true } } },
      'routing.dns {"route53":{"zoneId":"Z1"},"externalDns":true} names both Route53 and external-dns: the records are written by one of them; keep one',
    ],
    [
      'a typo in a target prop',
      { targets: target(0, { wieght: 60 }) },
      'targets[0].wieght is not a prop of MultiCloudDeployment',
    ],
    [
      'a hostname that is not one',
      { routing: { hostname: 'iris', policy: 'weighted' } },
      'routing.hostname "iris" is not a DNS name; use the name clients call, e.g. \'iris.example.com\'',
    ],
  ])('refuses %s', (_case, bad, message) => {
    expect(() => resolve({ ...PROPS, ...bad })).toThrow(`[app/iris] `);
    expect(() => resolve({ ...PROPS, ...bad })).toThrow(message);
  });

  it('refuses a target serving another model, naming both digests', () => {
    const other = chainedMatMulModel(fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-multicloud-')), 1, 4);
    expect(() =>
      planMultiCloud(
        {
          ...PROPS,
          targets: target(1, {
            image: {
              imageRef: 'ghcr.io/acme/other:1',
              modelPath: other,
              runtime: 'modelfab',
              modelName: 'other',
              modelVersion: '1',
            },
          }),
        },
        'app/iris',
        { fallbackId: 'iris', path: (t) => `${t}/iris` },
      ),
    ).toThrow(
      /^\[app\/iris\] targets serve different models: eks-us serves .*iris\.onnx \(sha256 [0-9a-f]{12}\), gke-eu .*matmul-1x4\.onnx \(sha256 [0-9a-f]{12}\); one model everywhere/,
    );
  });
});
