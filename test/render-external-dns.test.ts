/**
 * The annotations that have an external-dns (AWS provider) write a target's record for the global
 * hostname, per routing policy, with external-dns's own keys.
 */
import { describe, expect, it } from 'vitest';
import type { MultiCloudRoutingSpec, RoutingPolicy, TargetRoutingSpec } from '../lib/core/multicloud-spec';
import { EXTERNAL_DNS_ANNOTATION_PREFIXES, externalDnsAnnotations } from '../lib/render/render-external-dns';

const routing = (policy: RoutingPolicy): MultiCloudRoutingSpec => ({
  hostname: 'iris.example.com',
  policy,
  healthCheck: { path: '/v2/health/ready', intervalSeconds: 10, failureThreshold: 3, regions: [] },
  dns: { kind: 'external-dns', annotationPrefix: 'external-dns.alpha.kubernetes.io/' },
});

const COMMON = {
  'external-dns.alpha.kubernetes.io/hostname': 'iris.example.com',
  'external-dns.alpha.kubernetes.io/ingress-hostname-source': 'annotation-only',
  'external-dns.alpha.kubernetes.io/ttl': '60',
};

describe('externalDnsAnnotations', () => {
  it('weighted: the weight', () => {
    expect(externalDnsAnnotations(routing('weighted'), { setIdentifier: 'eu', weight: 30 })).toEqual({
      ...COMMON,
      'external-dns.alpha.kubernetes.io/set-identifier': 'eu',
      'external-dns.alpha.kubernetes.io/aws-weight': '30',
    });
  });

  it('weighted: a weight of 0 is written, not dropped', () => {
    const annotations = externalDnsAnnotations(routing('weighted'), { setIdentifier: 'eu', weight: 0 });
    expect(annotations['external-dns.alpha.kubernetes.io/aws-weight']).toBe('0');
  });

  it('latency: the region', () => {
    expect(
      externalDnsAnnotations(routing('latency'), { setIdentifier: 'us', latencyRegion: 'us-east-1' }),
    ).toEqual({
      ...COMMON,
      'external-dns.alpha.kubernetes.io/set-identifier': 'us',
      'external-dns.alpha.kubernetes.io/aws-region': 'us-east-1',
    });
  });

  it('failover: PRIMARY and SECONDARY, with the health check when given', () => {
    const primary: TargetRoutingSpec = { setIdentifier: 'a', failover: 'primary', healthCheckId: 'hc-123' };
    expect(externalDnsAnnotations(routing('failover'), primary)).toEqual({
      ...COMMON,
      'external-dns.alpha.kubernetes.io/set-identifier': 'a',
      'external-dns.alpha.kubernetes.io/aws-failover': 'PRIMARY',
      'external-dns.alpha.kubernetes.io/aws-health-check-id': 'hc-123',
    });
    expect(
      externalDnsAnnotations(routing('failover'), { setIdentifier: 'b', failover: 'secondary' }),
    ).toEqual({
      ...COMMON,
      'external-dns.alpha.kubernetes.io/set-identifier': 'b',
      'external-dns.alpha.kubernetes.io/aws-failover': 'SECONDARY',
    });
  });

  it('geolocation: the continent, or the country and subdivision', () => {
    expect(
      externalDnsAnnotations(routing('geolocation'), {
        setIdentifier: 'eu',
        geolocation: { continent: 'EU' },
      }),
    ).toEqual({
      ...COMMON,
      'external-dns.alpha.kubernetes.io/set-identifier': 'eu',
      'external-dns.alpha.kubernetes.io/aws-geolocation-continent-code': 'EU',
    });
    expect(
      externalDnsAnnotations(routing('geolocation'), {
        setIdentifier: 'us-ca',
        geolocation: { country: 'US', subdivision: 'CA' },
      }),
    ).toEqual({
      ...COMMON,
      'external-dns.alpha.kubernetes.io/set-identifier': 'us-ca',
      'external-dns.alpha.kubernetes.io/aws-geolocation-country-code': 'US',
      'external-dns.alpha.kubernetes.io/aws-geolocation-subdivision-code': 'CA',
    });
    expect(
      externalDnsAnnotations(routing('geolocation'), {
        setIdentifier: 'rest',
        geolocation: { country: '*' },
      }),
    ).toEqual({
      ...COMMON,
      'external-dns.alpha.kubernetes.io/set-identifier': 'rest',
      'external-dns.alpha.kubernetes.io/aws-geolocation-country-code': '*',
    });
  });

  it('writes no other policy than the routing one', () => {
    // A target resolved with more than its policy's value still gets only its policy's annotation.
    const target: TargetRoutingSpec = { setIdentifier: 'eu', weight: 10, latencyRegion: 'eu-west-1' };
    const keys = Object.keys(externalDnsAnnotations(routing('latency'), target));
    expect(keys.filter((key) => key.includes('/aws-'))).toEqual([
      'external-dns.alpha.kubernetes.io/aws-region',
    ]);
  });

  it('writes the prefix external-dns v0.22 reads by default when asked', () => {
    const annotations = externalDnsAnnotations(
      routing('weighted'),
      { setIdentifier: 'eu', weight: 1 },
      { prefix: EXTERNAL_DNS_ANNOTATION_PREFIXES.ga },
    );
    expect(Object.keys(annotations).sort()).toEqual([
      'external-dns.kubernetes.io/aws-weight',
      'external-dns.kubernetes.io/hostname',
      'external-dns.kubernetes.io/ingress-hostname-source',
      'external-dns.kubernetes.io/set-identifier',
      'external-dns.kubernetes.io/ttl',
    ]);
  });

  it("refuses a target without its policy's value", () => {
    expect(() => externalDnsAnnotations(routing('weighted'), { setIdentifier: 'eu' })).toThrow(
      "set identifier 'eu' has no routing.weight, which the weighted policy needs",
    );
    expect(() =>
      externalDnsAnnotations(routing('geolocation'), { setIdentifier: 'eu', geolocation: {} }),
    ).toThrow(/routing\.geolocation/);
  });
});
