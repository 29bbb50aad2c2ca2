/**
 * MultiCloudDeployment's global routing on Route53, as the AWS resources that make it (the Pulumi
 * component creates them with `@pulumi/aws`; they are no Kubernetes objects): per target an HTTPS
 * health check on the target's own host, a record for the global hostname that carries the
 * target's part in the routing policy and that health check, and a simple record for the target's
 * own host. Pure: the resolved routing and the targets in, plain `aws.route53.HealthCheck` and
 * `aws.route53.Record` args out.
 *
 * Each record points at its target's load balancer, which the adapter learns only once the
 * target's Ingress has one: the plan leaves `records` out, and the adapter supplies it.
 */
import type { MultiCloudRoutingSpec, RoutingPolicy, TargetRoutingSpec } from '../core/multicloud-spec';

/**
 * The TTL, in seconds, of the global hostname's records (and the targets' own): short, so that
 * clients follow a failover or a weight change within a minute.
 */
export const GLOBAL_RECORD_TTL_SECONDS = 60;

/** One target as Route53 routes to it. */
export interface Route53Target {
  /** The target's name: its records' and health check's roles start with it. */
  readonly name: string;
  /** The target's own hostname (in the hosted zone), which its health check probes. */
  readonly host: string;
  readonly routing: TargetRoutingSpec;
}

/** `aws.route53.HealthCheck`'s args for one target. */
export interface Route53HealthCheckArgs {
  readonly type: 'HTTPS';
  readonly fqdn: string;
  readonly port: 443;
  readonly resourcePath: string;
  /** Route53 sends the hostname in TLS (the target's load balancer may serve several certificates). */
  readonly enableSni: true;
  readonly failureThreshold: number;
  readonly requestInterval: 10 | 30;
  /** Present only when the routing names checker regions; Route53's default set otherwise. */
  readonly regions?: string[];
  readonly tags: { readonly Name: string };
}

/** A health check to create: child name `<name>-<role>`. */
export interface Route53HealthCheckPlan {
  /** `<target>-health-check`. */
  readonly role: string;
  /** The target it checks. */
  readonly target: string;
  readonly args: Route53HealthCheckArgs;
}

/** `aws.route53.Record`'s args, less `records` (the target's load balancer, which the adapter supplies). */
export interface Route53RecordArgs {
  readonly zoneId: string;
  readonly name: string;
  readonly type: 'CNAME';
  readonly ttl: number;
  /** The global hostname's records only; the target's own host has a simple record. */
  readonly setIdentifier?: string;
  /** Exactly one of the four routing policies is present on a global hostname's record. */
  readonly weightedRoutingPolicies?: Array<{ readonly weight: number }>;
  readonly latencyRoutingPolicies?: Array<{ readonly region: string }>;
  readonly failoverRoutingPolicies?: Array<{ readonly type: 'PRIMARY' | 'SECONDARY' }>;
  readonly geolocationRoutingPolicies?: Array<{
    readonly continent?: string;
    readonly country?: string;
    readonly subdivision?: string;
  }>;
}

/** A record to create: child name `<name>-<role>`. */
export interface Route53RecordPlan {
  /** `<target>-record` (the global hostname's) or `<target>-host-record` (the target's own host). */
  readonly role: string;
  /** The target whose load balancer the record points at. */
  readonly target: string;
  /**
   * The role of the health check whose id becomes the record's `healthCheckId` (the adapter links
   * them); absent on the target's own host record.
   */
  readonly healthCheckRole?: string;
  readonly args: Route53RecordArgs;
}

/** What the global routing on Route53 is made of, in the targets' order. */
export interface Route53Plan {
  readonly healthChecks: readonly Route53HealthCheckPlan[];
  /** Per target its global hostname record, then its own host's record. */
  readonly dnsRecords: readonly Route53RecordPlan[];
}

/**
 * The Route53 plan for `routing` over `targets`. `name` (the component's) prefixes the health
 * checks' Name tags. Throws when `routing.dns` is not Route53, or when a target lacks the value its
 * policy needs (a resolved spec always has it).
 */
export function renderRoute53(
  name: string,
  routing: MultiCloudRoutingSpec,
  targets: readonly Route53Target[],
): Route53Plan {
  if (routing.dns.kind !== 'route53') {
    throw new Error(`route53 records need dns.kind 'route53', received '${routing.dns.kind}'`);
  }
  const zoneId = routing.dns.zoneId;
  const check = routing.healthCheck;
  const healthChecks = targets.map((target): Route53HealthCheckPlan => ({
    role: `${target.name}-health-check`,
    target: target.name,
    args: {
      type: 'HTTPS',
      fqdn: target.host,
      port: 443,
      resourcePath: check.path,
      enableSni: true,
      failureThreshold: check.failureThreshold,
      requestInterval: check.intervalSeconds,
      ...(check.regions.length > 0 ? { regions: [...check.regions] } : {}),
      tags: { Name: `${name}-${target.name}` },
    },
  }));
  const dnsRecords = targets.flatMap((target): Route53RecordPlan[] => [
    {
      role: `${target.name}-record`,
      target: target.name,
      healthCheckRole: `${target.name}-health-check`,
      args: {
        zoneId,
        name: routing.hostname,
        type: 'CNAME',
        ttl: GLOBAL_RECORD_TTL_SECONDS,
        setIdentifier: target.routing.setIdentifier,
        ...routingPolicy(routing.policy, target),
      },
    },
    {
      role: `${target.name}-host-record`,
      target: target.name,
      args: { zoneId, name: target.host, type: 'CNAME', ttl: GLOBAL_RECORD_TTL_SECONDS },
    },
  ]);
  return { healthChecks, dnsRecords };
}

/** The one routing policy block of a target's global hostname record. */
function routingPolicy(
  policy: RoutingPolicy,
  target: Route53Target,
): Pick<
  Route53RecordArgs,
  | 'weightedRoutingPolicies'
  | 'latencyRoutingPolicies'
  | 'failoverRoutingPolicies'
  | 'geolocationRoutingPolicies'
> {
  const routing = target.routing;
  const missing = (field: string): Error =>
    new Error(`target '${target.name}' has no routing.${field}, which the ${policy} policy needs`);
  switch (policy) {
    case 'weighted':
      if (routing.weight === undefined) throw missing('weight');
      return { weightedRoutingPolicies: [{ weight: routing.weight }] };
    case 'latency':
      if (routing.latencyRegion === undefined) throw missing('latencyRegion');
      return { latencyRoutingPolicies: [{ region: routing.latencyRegion }] };
    case 'failover':
      if (routing.failover === undefined) throw missing('failover');
      return {
        failoverRoutingPolicies: [{ type: routing.failover === 'primary' ? 'PRIMARY' : 'SECONDARY' }],
      };
    case 'geolocation': {
      const where = routing.geolocation ?? {};
      if (where.continent === undefined && where.country === undefined) throw missing('geolocation');
      return {
        geolocationRoutingPolicies: [
          {
            ...(where.continent !== undefined ? { continent: where.continent } : {}),
            ...(where.country !== undefined ? { country: where.country } : {}),
            ...(where.subdivision !== undefined ? { subdivision: where.subdivision } : {}),
          },
        ],
      };
    }
  }
}

/**
 * The record type for a load balancer's address as an Ingress reports it: `A` for an IP (GKE's and
 * most on-premises load balancers), `CNAME` for a hostname (AWS's).
 */
export function recordTypeFor(address: string): 'A' | 'AAAA' | 'CNAME' {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) return 'A';
  if (address.includes(':')) return 'AAAA';
  return 'CNAME';
}
