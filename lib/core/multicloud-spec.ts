/**
 * MultiCloudDeployment's resolved values, as the capacity planner and the renders take them: the
 * routing policy and each target's part in it, the health check, where DNS is written, and the
 * rollout waves. Plain data.
 */

/** The clouds a target runs on (`other`: any cluster a kubeconfig reaches, on premises included). */
export const CLOUDS = ['aws', 'gcp', 'azure', 'other'] as const;
export type Cloud = (typeof CLOUDS)[number];

/** How the global hostname's DNS answers spread clients over the targets. */
export const ROUTING_POLICIES = ['weighted', 'latency', 'failover', 'geolocation'] as const;
export type RoutingPolicy = (typeof ROUTING_POLICIES)[number];

/** Where a geolocation record applies (Route53's codes: a continent, or a country and a subdivision). */
export interface GeolocationSpec {
  /** `AF`, `AN`, `AS`, `EU`, `OC`, `NA`, `SA`. */
  readonly continent?: string;
  /** ISO 3166-1 alpha-2, or `*` for the default record. */
  readonly country?: string;
  /** A US state or a Ukrainian subdivision, with `country`. */
  readonly subdivision?: string;
}

/** One target's part in the routing. */
export interface TargetRoutingSpec {
  /** The DNS record's set identifier (unique among the hostname's records): the target's name by default. */
  readonly setIdentifier: string;
  /** `weighted`: the target's weight (0 to 255), its share being weight ÷ the sum. */
  readonly weight?: number;
  /** `failover`: the primary takes all traffic while healthy; the secondary when it is not. */
  readonly failover?: 'primary' | 'secondary';
  /** `latency`: the AWS region whose latency decides (the target's region). */
  readonly latencyRegion?: string;
  /** `geolocation`: where the target's clients are. */
  readonly geolocation?: GeolocationSpec;
  /**
   * `latency` and `geolocation`: the share of the global traffic the target is expected to take
   * (0 to 1), declared, since DNS decides it from where clients are.
   */
  readonly expectedShare?: number;
  /** An existing Route53 health check the record uses (external-dns only). */
  readonly healthCheckId?: string;
}

/** The health check every target's record carries. */
export interface HealthCheckSpec {
  /** The path checked on each target's own host (the readiness path by default: `/v2/health/ready`). */
  readonly path: string;
  /** Seconds between checks: 10 or 30 (Route53's two intervals). */
  readonly intervalSeconds: 10 | 30;
  /** Consecutive failures before a target is unhealthy (1 to 10). */
  readonly failureThreshold: number;
  /** Route53 checker regions; empty: Route53's default set. */
  readonly regions: readonly string[];
}

/** Where the records are written. */
export type DnsSpec =
  /** Route53 records and health checks the Pulumi component creates, in this hosted zone. */
  | { readonly kind: 'route53'; readonly zoneId: string }
  /**
   * Annotations for an external-dns that already runs in each cluster (its AWS provider), under
   * the prefix it reads (`external-dns.alpha.kubernetes.io/` up to v0.21, `external-dns.kubernetes.io/`
   * from v0.22).
   */
  | { readonly kind: 'external-dns'; readonly annotationPrefix: string };

/** The global routing, resolved. */
export interface MultiCloudRoutingSpec {
  /** The one hostname clients use. */
  readonly hostname: string;
  readonly policy: RoutingPolicy;
  readonly healthCheck: HealthCheckSpec;
  readonly dns: DnsSpec;
}

/** What the capacity planner needs of one target. */
export interface TargetTrafficInput {
  readonly name: string;
  readonly routing: TargetRoutingSpec;
}

/** The global SLO, resolved. */
export interface MultiCloudSloSpec {
  /** Requests per second the hostname must carry. */
  readonly targetRps: number;
  /** The share of each replica's measured capacity the plan runs at (0 to 1]. */
  readonly targetUtilization: number;
  /** How many targets may be lost at once while the SLO still holds. */
  readonly survive: number;
}

/** One target's part of the global load, in the worst case the plan covers. */
export interface TargetLoad {
  readonly name: string;
  /** The target's share of the global traffic with every target up (0 to 1). */
  readonly share: number;
  /** Requests per second the target must carry: its largest share over every covered loss × targetRps. */
  readonly requiredRps: number;
  /** The lost targets that give it that load (empty: with all up). */
  readonly bindingLoss: readonly string[];
}

/** The global SLO split over the targets. */
export interface TrafficPlan {
  readonly policy: RoutingPolicy;
  readonly targetRps: number;
  readonly survive: number;
  readonly targets: readonly TargetLoad[];
}
