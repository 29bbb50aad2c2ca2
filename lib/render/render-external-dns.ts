/**
 * MultiCloudDeployment's global routing through an external-dns that already runs in each cluster
 * (its AWS provider, writing to Route53): the annotations a target's Ingress carries so that
 * external-dns writes the target's record for the global hostname, with the target's set
 * identifier, its part in the routing policy and, when given, an existing health check. Pure.
 *
 * The keys are external-dns's own (`source/annotations`, `provider/aws` and docs/tutorials/aws.md,
 * "Routing policies"); external-dns hands every `aws-<x>` annotation to its AWS provider as the
 * provider-specific property `aws/<x>`.
 */
import type { MultiCloudRoutingSpec, TargetRoutingSpec } from '../core/multicloud-spec';
import { GLOBAL_RECORD_TTL_SECONDS } from './render-route53';

/**
 * The annotation prefixes external-dns reads by default: `alpha` up to v0.21 (and the Helm chart
 * that ships it), `ga` from v0.22, which made `external-dns.kubernetes.io/` the default. Either
 * can be changed with external-dns's `--annotation-prefix` flag.
 */
export const EXTERNAL_DNS_ANNOTATION_PREFIXES = {
  alpha: 'external-dns.alpha.kubernetes.io/',
  ga: 'external-dns.kubernetes.io/',
} as const;

/** How the annotations are written. */
export interface ExternalDnsAnnotationOptions {
  /**
   * The prefix the cluster's external-dns reads (its `--annotation-prefix`), ending in `/`.
   * @default EXTERNAL_DNS_ANNOTATION_PREFIXES.alpha (external-dns up to v0.21)
   */
  readonly prefix?: string;
}

/**
 * The annotations that make the cluster's external-dns write `target`'s record for
 * `routing.hostname`. They also tell external-dns to take its hostnames from the annotations only
 * (`ingress-hostname-source: annotation-only`): the routing annotations apply to every hostname
 * external-dns finds on the Ingress, and a rule's host (the target's own, say) must not become a
 * weighted, failover or geolocation record. The TTL is Route53 plan's, 60 seconds. Throws when the
 * target lacks the value its policy needs (a resolved spec always has it).
 */
export function externalDnsAnnotations(
  routing: MultiCloudRoutingSpec,
  target: TargetRoutingSpec,
  options: ExternalDnsAnnotationOptions = {},
): Record<string, string> {
  const prefix = options.prefix ?? EXTERNAL_DNS_ANNOTATION_PREFIXES.alpha;
  const key = (name: string): string => `${prefix}${name}`;
  const missing = (field: string): Error =>
    new Error(
      `set identifier '${target.setIdentifier}' has no routing.${field}, which the ${routing.policy} policy needs`,
    );
  const annotations: Record<string, string> = {
    [key('hostname')]: routing.hostname,
    [key('ingress-hostname-source')]: 'annotation-only',
    [key('ttl')]: String(GLOBAL_RECORD_TTL_SECONDS),
    [key('set-identifier')]: target.setIdentifier,
  };
  switch (routing.policy) {
    case 'weighted':
      if (target.weight === undefined) throw missing('weight');
      annotations[key('aws-weight')] = String(target.weight);
      break;
    case 'latency':
      if (target.latencyRegion === undefined) throw missing('latencyRegion');
      annotations[key('aws-region')] = target.latencyRegion;
      break;
    case 'failover':
      if (target.failover === undefined) throw missing('failover');
      // Passed to Route53 as the record set's Failover, which takes these two values.
      annotations[key('aws-failover')] = target.failover === 'primary' ? 'PRIMARY' : 'SECONDARY';
      break;
    case 'geolocation': {
      const where = target.geolocation ?? {};
      if (where.continent === undefined && where.country === undefined) throw missing('geolocation');
      // external-dns ignores the country and subdivision when a continent is given, as Route53 would refuse both.
      if (where.continent !== undefined) annotations[key('aws-geolocation-continent-code')] = where.continent;
      if (where.country !== undefined) annotations[key('aws-geolocation-country-code')] = where.country;
      if (where.subdivision !== undefined) {
        annotations[key('aws-geolocation-subdivision-code')] = where.subdivision;
      }
      break;
    }
  }
  if (target.healthCheckId !== undefined) annotations[key('aws-health-check-id')] = target.healthCheckId;
  return annotations;
}
