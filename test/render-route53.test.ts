/**
 * The Route53 plan of MultiCloudDeployment's global routing: a health check and two records per
 * target, with each policy's routing block, as `@pulumi/aws` v7's args.
 */
import { describe, expect, it } from 'vitest';
import type { MultiCloudRoutingSpec, RoutingPolicy } from '../lib/core/multicloud-spec';
import { recordTypeFor, type Route53Target, renderRoute53 } from '../lib/render/render-route53';

const routing = (policy: RoutingPolicy, regions: string[] = []): MultiCloudRoutingSpec => ({
  hostname: 'iris.example.com',
  policy,
  healthCheck: { path: '/v2/health/ready', intervalSeconds: 30, failureThreshold: 3, regions },
  dns: { kind: 'route53', zoneId: 'Z123' },
});

const target = (
  name: string,
  routingSpec: Omit<Route53Target['routing'], 'setIdentifier'>,
): Route53Target => ({
  name,
  host: `${name}.iris.example.com`,
  routing: { setIdentifier: name, ...routingSpec },
});

/** The global hostname record of each target. */
const globalRecords = (plan: ReturnType<typeof renderRoute53>) =>
  plan.dnsRecords.filter(
    (record) => record.role.endsWith('-record') && !record.role.endsWith('-host-record'),
  );

describe('renderRoute53', () => {
  const weighted = renderRoute53('iris', routing('weighted'), [
    target('eu', { weight: 70 }),
    target('us', { weight: 30 }),
  ]);

  it('checks each target over HTTPS on its own host', () => {
    expect(weighted.healthChecks).toEqual([
      {
        role: 'eu-health-check',
        target: 'eu',
        args: {
          type: 'HTTPS',
          fqdn: 'eu.iris.example.com',
          port: 443,
          resourcePath: '/v2/health/ready',
          enableSni: true,
          failureThreshold: 3,
          requestInterval: 30,
          tags: { Name: 'iris-eu' },
        },
      },
      {
        role: 'us-health-check',
        target: 'us',
        args: {
          type: 'HTTPS',
          fqdn: 'us.iris.example.com',
          port: 443,
          resourcePath: '/v2/health/ready',
          enableSni: true,
          failureThreshold: 3,
          requestInterval: 30,
          tags: { Name: 'iris-us' },
        },
      },
    ]);
  });

  it('gives the checkers the regions when named', () => {
    const plan = renderRoute53('iris', routing('weighted', ['us-east-1', 'eu-west-1', 'ap-southeast-1']), [
      target('eu', { weight: 1 }),
    ]);
    expect(plan.healthChecks[0]?.args.regions).toEqual(['us-east-1', 'eu-west-1', 'ap-southeast-1']);
  });

  it('writes per target a weighted global record linked to its check, and a simple host record', () => {
    expect(weighted.dnsRecords).toEqual([
      {
        role: 'eu-record',
        target: 'eu',
        healthCheckRole: 'eu-health-check',
        args: {
          zoneId: 'Z123',
          name: 'iris.example.com',
          type: 'CNAME',
          ttl: 60,
          setIdentifier: 'eu',
          weightedRoutingPolicies: [{ weight: 70 }],
        },
      },
      {
        role: 'eu-host-record',
        target: 'eu',
        args: { zoneId: 'Z123', name: 'eu.iris.example.com', type: 'CNAME', ttl: 60 },
      },
      {
        role: 'us-record',
        target: 'us',
        healthCheckRole: 'us-health-check',
        args: {
          zoneId: 'Z123',
          name: 'iris.example.com',
          type: 'CNAME',
          ttl: 60,
          setIdentifier: 'us',
          weightedRoutingPolicies: [{ weight: 30 }],
        },
      },
      {
        role: 'us-host-record',
        target: 'us',
        args: { zoneId: 'Z123', name: 'us.iris.example.com', type: 'CNAME', ttl: 60 },
      },
    ]);
  });

  it('leaves the records (the load balancers) to the adapter', () => {
    for (const record of weighted.dnsRecords) expect(record.args).not.toHaveProperty('records');
  });

  it('latency: the region, and no other policy', () => {
    const plan = renderRoute53('iris', routing('latency'), [
      target('eu', { latencyRegion: 'eu-west-1', weight: 5 }),
      target('us', { latencyRegion: 'us-east-1' }),
    ]);
    expect(globalRecords(plan).map((record) => record.args)).toEqual([
      {
        zoneId: 'Z123',
        name: 'iris.example.com',
        type: 'CNAME',
        ttl: 60,
        setIdentifier: 'eu',
        latencyRoutingPolicies: [{ region: 'eu-west-1' }],
      },
      {
        zoneId: 'Z123',
        name: 'iris.example.com',
        type: 'CNAME',
        ttl: 60,
        setIdentifier: 'us',
        latencyRoutingPolicies: [{ region: 'us-east-1' }],
      },
    ]);
  });

  it('failover: PRIMARY and SECONDARY', () => {
    const plan = renderRoute53('iris', routing('failover'), [
      target('a', { failover: 'primary' }),
      target('b', { failover: 'secondary' }),
    ]);
    expect(globalRecords(plan).map((record) => record.args.failoverRoutingPolicies)).toEqual([
      [{ type: 'PRIMARY' }],
      [{ type: 'SECONDARY' }],
    ]);
    expect(globalRecords(plan).map((record) => record.healthCheckRole)).toEqual([
      'a-health-check',
      'b-health-check',
    ]);
  });

  it('geolocation: the continent, or the country and subdivision', () => {
    const plan = renderRoute53('iris', routing('geolocation'), [
      target('eu', { geolocation: { continent: 'EU' } }),
      target('ca', { geolocation: { country: 'US', subdivision: 'CA' } }),
      target('rest', { geolocation: { country: '*' } }),
    ]);
    expect(globalRecords(plan).map((record) => record.args.geolocationRoutingPolicies)).toEqual([
      [{ continent: 'EU' }],
      [{ country: 'US', subdivision: 'CA' }],
      [{ country: '*' }],
    ]);
  });

  it('sets exactly one routing policy per global record, and none on the host records', () => {
    const policies = [
      'weightedRoutingPolicies',
      'latencyRoutingPolicies',
      'failoverRoutingPolicies',
      'geolocationRoutingPolicies',
    ];
    for (const record of weighted.dnsRecords) {
      const present = policies.filter((policy) => policy in record.args);
      expect(present).toEqual(record.role.endsWith('-host-record') ? [] : ['weightedRoutingPolicies']);
    }
  });

  it('refuses routing whose DNS is not Route53, and a target without its policy value', () => {
    expect(() =>
      renderRoute53(
        'iris',
        {
          ...routing('weighted'),
          dns: { kind: 'external-dns', annotationPrefix: 'external-dns.alpha.kubernetes.io/' },
        },
        [target('eu', { weight: 1 })],
      ),
    ).toThrow("route53 records need dns.kind 'route53', received 'external-dns'");
    expect(() => renderRoute53('iris', routing('failover'), [target('eu', {})])).toThrow(
      "target 'eu' has no routing.failover, which the failover policy needs",
    );
  });
});

describe('recordTypeFor', () => {
  it.each([
    ['a1b2c3-123456789.us-east-1.elb.amazonaws.com', 'CNAME'],
    ['203.0.113.10', 'A'],
    ['2001:db8::10', 'AAAA'],
  ] as const)('answers %s with a %s record', (address, type) => {
    expect(recordTypeFor(address)).toBe(type);
  });
});
