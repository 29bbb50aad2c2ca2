/**
 * MultiCloudDeployment's props resolved: every default applied, every target and its routing
 * checked against the routing policy, the global SLO split over the targets (the traffic plan),
 * each failure naming the construct path, the target, the value and the fix. What each target's
 * InferenceService is built from comes next, in lib/pipeline.
 */
import { show } from './errors';
import { isDns1123Label, isDns1123Subdomain } from './names';
import { type PropsChecker } from './props-checker';
import { GATE_DEFAULTS } from './resolve-gate';
import {
  type DeploymentTargetProps,
  MULTI_CLOUD_DEPLOYMENT_DEFAULTS as D,
  MULTI_CLOUD_DEPLOYMENT_PROPS_SHAPE,
  type MultiCloudDeploymentProps,
  type TargetRoutingProps,
} from './multicloud-props';
import {
  type Cloud,
  CLOUDS,
  type DnsSpec,
  type HealthCheckSpec,
  type MultiCloudRoutingSpec,
  type MultiCloudSloSpec,
  type RoutingPolicy,
  ROUTING_POLICIES,
  type TargetRoutingSpec,
  type TrafficPlan,
} from './multicloud-spec';
import { planTraffic } from './multicloud-capacity';

/** Route53 weights run from 0 to 255. */
const MAX_WEIGHT = 255;
/** Declared shares must sum to 1, within this. */
const SHARE_TOLERANCE = 1e-6;
const GEO = {
  continent: /^(AF|AN|AS|EU|OC|NA|SA)$/,
  country: /^([A-Z]{2}|\*)$/,
  subdivision: /^[A-Z0-9]{1,3}$/,
};

/** One target, resolved. */
export interface MultiCloudTargetSpec {
  readonly name: string;
  readonly cloud: Cloud;
  readonly region?: string;
  readonly wave: number;
  /** The target's own host: its health check calls it. */
  readonly host: string;
  /** The cluster as Argo CD knows it. */
  readonly argoCluster: string;
  readonly routing: TargetRoutingSpec;
  /** The target's props as given (its overrides of the service's). */
  readonly props: DeploymentTargetProps;
}

/** A resolved MultiCloudDeployment. */
export interface MultiCloudDeploymentSpec {
  readonly routing: MultiCloudRoutingSpec;
  readonly slo: MultiCloudSloSpec;
  readonly targets: readonly MultiCloudTargetSpec[];
  /** The global SLO split over the targets: what each must carry, and the loss that sets it. */
  readonly plan: TrafficPlan;
  /** Waves, 1 to `waves`, each with at least one target. */
  readonly waves: number;
  readonly applicationSet?: {
    readonly repoURL: string;
    readonly path: string;
    readonly targetRevision: string;
    readonly project: string;
    readonly namespace: string;
  };
}

export function resolveMultiCloud(
  check: PropsChecker,
  props: MultiCloudDeploymentProps,
): MultiCloudDeploymentSpec {
  check.knownProps(props, MULTI_CLOUD_DEPLOYMENT_PROPS_SHAPE, 'MultiCloudDeployment');
  const service = check.record('service', props.service);
  if (service.slo !== undefined) {
    check.fail(
      'service.slo',
      `service.slo ${show(service.slo)} would size every target for the whole load; set the global one as slo, which is split over the targets by the routing`,
    );
  }
  if (service.gate === undefined) {
    check.fail(
      'service.gate',
      'service.gate is required: each target is sized from the capacity its gate measures; add gate: {} (or gate thresholds)',
    );
  }
  if (service.canary !== undefined) {
    check.fail(
      'service.canary',
      `service.canary ${show(service.canary)} cannot split a MultiCloudDeployment's requests: each target is reached through its Ingress, which the DNS routing points at and a Gateway API route would bypass; roll a candidate out by waves (change the service's image or model, and targets take it wave by wave), or run the canary with an InferenceService on one cluster`,
    );
  }
  const ingressHosts = (service.ingress as { hosts?: unknown } | undefined)?.hosts;
  if (ingressHosts !== undefined) {
    check.fail(
      'service.ingress.hosts',
      `service.ingress.hosts ${show(ingressHosts)} come from the routing: routing.hostname and each target's host; remove them`,
    );
  }
  const routing = resolveRouting(check, props.routing);
  if (!Array.isArray(props.targets) || props.targets.length === 0) {
    check.fail(
      'targets',
      `targets ${show(props.targets)} must list at least one cluster, e.g. [{ name: 'eks-us', cloud: 'aws' }]`,
    );
  }
  const targets = props.targets.map((target, i) => resolveTarget(check, i, target, routing));
  checkUnique(check, targets, (t) => t.name, 'name', 'rename one');
  checkUnique(check, targets, (t) => t.routing.setIdentifier, 'routing.setIdentifier', 'give each its own');
  checkUnique(check, targets, (t) => t.host, 'host', 'give each target its own host');
  checkPolicy(check, routing.policy, targets);
  const waves = Math.max(...targets.map((t) => t.wave));
  for (let wave = 1; wave <= waves; wave++) {
    if (!targets.some((t) => t.wave === wave)) {
      check.fail(
        'targets',
        `targets' waves ${show(targets.map((t) => t.wave))} skip wave ${wave}: waves run from 1 without gaps; renumber them ${show([...new Set(targets.map((t) => t.wave))].sort((a, b) => a - b).map((_, k) => k + 1))}`,
      );
    }
  }
  const slo = resolveSlo(check, props, targets.length, routing.policy);
  let plan: TrafficPlan;
  try {
    plan = planTraffic(slo, routing.policy, targets);
  } catch (error) {
    check.fail('slo', (error as Error).message);
  }
  const rollout = props.rollout === undefined ? undefined : check.record('rollout', props.rollout);
  const set =
    rollout?.applicationSet === undefined
      ? undefined
      : check.record('rollout.applicationSet', rollout.applicationSet);
  return {
    routing,
    slo,
    targets,
    plan,
    waves,
    ...(set
      ? {
          applicationSet: {
            repoURL: check.string(
              'rollout.applicationSet.repoURL',
              set.repoURL,
              'the Git repository Argo CD reads the manifests from',
            ),
            path: check.string(
              'rollout.applicationSet.path',
              set.path,
              "the folder of the targets' manifests in it",
            ),
            targetRevision:
              optionalString(check, 'rollout.applicationSet.targetRevision', set.targetRevision) ??
              D.targetRevision,
            project: optionalString(check, 'rollout.applicationSet.project', set.project) ?? D.project,
            namespace:
              optionalString(check, 'rollout.applicationSet.namespace', set.namespace) ?? D.argoNamespace,
          },
        }
      : {}),
  };
}

function optionalString(check: PropsChecker, prop: string, value: unknown): string | undefined {
  return value === undefined ? undefined : check.string(prop, value, 'a non-empty string');
}

function resolveRouting(check: PropsChecker, value: unknown): MultiCloudRoutingSpec {
  const routing = check.record('routing', value);
  const hostname = routing.hostname;
  if (typeof hostname !== 'string' || !isDns1123Subdomain(hostname) || !hostname.includes('.')) {
    check.fail(
      'routing.hostname',
      `routing.hostname ${show(hostname)} is not a DNS name; use the name clients call, e.g. 'iris.example.com'`,
    );
  }
  const policy = routing.policy as RoutingPolicy;
  if (!ROUTING_POLICIES.includes(policy)) {
    check.fail(
      'routing.policy',
      `routing.policy ${show(policy)} is not a routing policy; use ${ROUTING_POLICIES.join(', ')}`,
    );
  }
  const h = check.record('routing.healthCheck', routing.healthCheck ?? {});
  const path = h.path ?? D.healthCheckPath;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    check.fail(
      'routing.healthCheck.path',
      `routing.healthCheck.path ${show(path)} must be a path starting with '/', e.g. ${show(D.healthCheckPath)}`,
    );
  }
  const interval = h.intervalSeconds ?? D.healthCheckIntervalSeconds;
  if (interval !== 10 && interval !== 30) {
    check.fail(
      'routing.healthCheck.intervalSeconds',
      `routing.healthCheck.intervalSeconds ${show(interval)} must be 10 or 30 (Route53's two intervals)`,
    );
  }
  const regions = h.regions ?? [];
  if (!Array.isArray(regions) || regions.some((r) => typeof r !== 'string' || r === '')) {
    check.fail(
      'routing.healthCheck.regions',
      `routing.healthCheck.regions ${show(regions)} must list Route53 checker regions, e.g. ['us-east-1', 'eu-west-1', 'ap-southeast-1']`,
    );
  }
  const healthCheck: HealthCheckSpec = {
    path,
    intervalSeconds: interval,
    failureThreshold: check.integer(
      'routing.healthCheck.failureThreshold',
      h.failureThreshold ?? D.healthCheckFailureThreshold,
      1,
      10,
      "Route53's range",
    ),
    regions: regions as string[],
  };
  const dnsProps = check.record('routing.dns', routing.dns ?? { externalDns: true });
  const externalDns = dnsProps.externalDns;
  const usesExternalDns = externalDns === true || (typeof externalDns === 'object' && externalDns !== null);
  let dns: DnsSpec;
  if (dnsProps.route53 !== undefined && usesExternalDns) {
    check.fail(
      'routing.dns',
      `routing.dns ${show(dnsProps)} names both Route53 and external-dns: the records are written by one of them; keep one`,
    );
  }
  if (dnsProps.route53 !== undefined) {
    const zone = check.record('routing.dns.route53', dnsProps.route53);
    dns = {
      kind: 'route53',
      zoneId: check.string(
        'routing.dns.route53.zoneId',
        zone.zoneId,
        'the hosted zone ID, e.g. Z0123456789ABC',
      ),
    };
  } else if (usesExternalDns) {
    const prefix =
      externalDns === true
        ? D.externalDnsAnnotationPrefix
        : (check.record('routing.dns.externalDns', externalDns).annotationPrefix ??
          D.externalDnsAnnotationPrefix);
    if (typeof prefix !== 'string' || !prefix.endsWith('/') || !isDns1123Subdomain(prefix.slice(0, -1))) {
      check.fail(
        'routing.dns.externalDns.annotationPrefix',
        `routing.dns.externalDns.annotationPrefix ${show(prefix)} must be the prefix the clusters' external-dns reads, ending in '/': 'external-dns.alpha.kubernetes.io/' (up to v0.21) or 'external-dns.kubernetes.io/' (v0.22 on)`,
      );
    }
    dns = { kind: 'external-dns', annotationPrefix: prefix };
  } else {
    check.fail(
      'routing.dns',
      `routing.dns ${show(dnsProps)} names no DNS writer; use { route53: { zoneId } } (Pulumi) or { externalDns: true }`,
    );
  }
  return { hostname, policy, healthCheck, dns };
}

function resolveTarget(
  check: PropsChecker,
  i: number,
  value: unknown,
  routing: MultiCloudRoutingSpec,
): MultiCloudTargetSpec {
  const at = `targets[${i}]`;
  const target = check.record(at, value) as unknown as DeploymentTargetProps;
  const name = target.name;
  if (typeof name !== 'string' || !isDns1123Label(name)) {
    check.fail(
      `${at}.name`,
      `${at}.name ${show(name)} names the target's chart and manifest file: use a DNS-1123 label, e.g. 'eks-us'`,
    );
  }
  const of = `${at} (${name})`;
  if (!(CLOUDS as readonly unknown[]).includes(target.cloud)) {
    check.fail(
      `${at}.cloud`,
      `${of} cloud ${show(target.cloud)} is not one of ${CLOUDS.join(', ')} ('other' for any cluster a kubeconfig reaches)`,
    );
  }
  if (target.region !== undefined && (typeof target.region !== 'string' || target.region === '')) {
    check.fail(
      `${at}.region`,
      `${of} region ${show(target.region)} must be the cloud region's name, e.g. 'us-east-1'`,
    );
  }
  const wave = check.integer(`${at}.wave`, target.wave ?? D.wave, 1, 100, `${of}: waves run from 1`);
  const host = target.host ?? `${name}.${routing.hostname}`;
  if (typeof host !== 'string' || !isDns1123Subdomain(host) || host === routing.hostname) {
    check.fail(
      `${at}.host`,
      `${of} host ${show(host)} must be a DNS name of its own (not routing.hostname), which its health check calls, e.g. ${show(`${name}.${routing.hostname}`)}`,
    );
  }
  const r = check.record(`${at}.routing`, target.routing ?? {}) as TargetRoutingProps;
  const setIdentifier = r.setIdentifier ?? name;
  if (typeof setIdentifier !== 'string' || setIdentifier === '' || setIdentifier.length > 128) {
    check.fail(
      `${at}.routing.setIdentifier`,
      `${of} routing.setIdentifier ${show(setIdentifier)} must be 1 to 128 characters`,
    );
  }
  if (r.healthCheckId !== undefined && routing.dns.kind !== 'external-dns') {
    check.fail(
      `${at}.routing.healthCheckId`,
      `${of} routing.healthCheckId ${show(r.healthCheckId)}: with Route53, the deployment creates each target's health check; remove it, or write DNS with external-dns`,
    );
  }
  const spec: TargetRoutingSpec = {
    setIdentifier,
    ...(r.healthCheckId !== undefined
      ? {
          healthCheckId: check.string(
            `${at}.routing.healthCheckId`,
            r.healthCheckId,
            'the Route53 health check ID',
          ),
        }
      : {}),
    ...policyFields(check, at, of, r, target, routing.policy),
  };
  return {
    name,
    cloud: target.cloud,
    ...(target.region !== undefined ? { region: target.region } : {}),
    wave,
    host,
    argoCluster: optionalString(check, `${at}.argoCluster`, target.argoCluster) ?? name,
    routing: spec,
    props: target,
  };
}

/** The routing fields the policy uses; the others are refused, naming the policy. */
function policyFields(
  check: PropsChecker,
  at: string,
  of: string,
  r: TargetRoutingProps,
  target: DeploymentTargetProps,
  policy: RoutingPolicy,
): Partial<TargetRoutingSpec> {
  const uses: Readonly<Record<RoutingPolicy, readonly (keyof TargetRoutingProps)[]>> = {
    weighted: ['weight'],
    failover: ['failover'],
    latency: ['expectedShare'],
    geolocation: ['geolocation', 'expectedShare'],
  };
  for (const field of ['weight', 'failover', 'geolocation', 'expectedShare'] as const) {
    if (r[field] !== undefined && !uses[policy].includes(field)) {
      check.fail(
        `${at}.routing.${field}`,
        `${of} routing.${field} ${show(r[field])} does not apply to ${policy} routing; remove it, or change routing.policy`,
      );
    }
  }
  const share = () =>
    check.between(
      `${at}.routing.expectedShare`,
      r.expectedShare,
      0,
      1,
      `${of}: the share of the global traffic this target takes with ${policy} routing, the targets' shares summing to 1`,
    );
  switch (policy) {
    case 'weighted':
      return {
        weight: check.integer(
          `${at}.routing.weight`,
          r.weight ?? D.weight,
          0,
          MAX_WEIGHT,
          `${of}: Route53 weights run from 0 to ${MAX_WEIGHT}`,
        ),
      };
    case 'failover':
      if (r.failover !== 'primary' && r.failover !== 'secondary') {
        check.fail(
          `${at}.routing.failover`,
          `${of} routing.failover ${show(r.failover)} must be 'primary' or 'secondary' with failover routing`,
        );
      }
      return { failover: r.failover };
    case 'latency':
      if (target.region === undefined) {
        check.fail(
          `${at}.region`,
          `${of} has no region, which latency routing answers by; set region, e.g. 'us-east-1'`,
        );
      }
      return { latencyRegion: target.region, expectedShare: share() };
    case 'geolocation': {
      const geo = check.record(
        `${at}.routing.geolocation`,
        r.geolocation,
      ) as TargetRoutingSpec['geolocation'] & object;
      const { continent, country, subdivision } = geo;
      if ((continent === undefined) === (country === undefined)) {
        check.fail(
          `${at}.routing.geolocation`,
          `${of} routing.geolocation ${show(geo)} needs a continent or a country (and optionally its subdivision), not both or neither`,
        );
      }
      for (const [field, value] of Object.entries({ continent, country, subdivision })) {
        if (value !== undefined && !GEO[field as keyof typeof GEO].test(String(value))) {
          check.fail(
            `${at}.routing.geolocation.${field}`,
            `${of} routing.geolocation.${field} ${show(value)} is not a Route53 ${field} code, e.g. ${{ continent: "'EU'", country: "'DE' or '*'", subdivision: "'CA'" }[field]}`,
          );
        }
      }
      if (subdivision !== undefined && country === undefined) {
        check.fail(
          `${at}.routing.geolocation.subdivision`,
          `${of} routing.geolocation.subdivision ${show(subdivision)} needs its country`,
        );
      }
      return { geolocation: { ...geo }, expectedShare: share() };
    }
  }
}

/** Whole-policy checks: weights not all 0, one primary and one secondary, shares summing to 1. */
function checkPolicy(
  check: PropsChecker,
  policy: RoutingPolicy,
  targets: readonly MultiCloudTargetSpec[],
): void {
  const list = (pick: (t: MultiCloudTargetSpec) => unknown) =>
    targets.map((t) => `${t.name}: ${show(pick(t))}`).join(', ');
  if (policy === 'weighted' && targets.every((t) => t.routing.weight === 0)) {
    check.fail(
      'targets',
      `every target's routing.weight is 0 (${list((t) => t.routing.weight)}), so no target is meant to take traffic; give at least one a positive weight`,
    );
  }
  if (policy === 'failover') {
    const roles = targets.map((t) => t.routing.failover);
    if (targets.length !== 2 || roles.filter((r) => r === 'primary').length !== 1) {
      check.fail(
        'targets',
        `failover routing needs exactly one primary and one secondary target, got ${list((t) => t.routing.failover)}; set routing.failover on two targets`,
      );
    }
  }
  if (policy === 'latency' || policy === 'geolocation') {
    const sum = targets.reduce((s, t) => s + (t.routing.expectedShare ?? 0), 0);
    if (Math.abs(sum - 1) > SHARE_TOLERANCE) {
      check.fail(
        'targets',
        `the targets' routing.expectedShare sum to ${Number(sum.toFixed(6))} (${list((t) => t.routing.expectedShare)}), not 1; make them the shares of the traffic each takes`,
      );
    }
  }
}

function checkUnique(
  check: PropsChecker,
  targets: readonly MultiCloudTargetSpec[],
  key: (t: MultiCloudTargetSpec) => string,
  prop: string,
  fix: string,
): void {
  const seen = new Map<string, number>();
  targets.forEach((t, i) => {
    const first = seen.get(key(t));
    if (first !== undefined) {
      check.fail(
        `targets[${i}].${prop}`,
        `targets[${i}] (${t.name}) ${prop} ${show(key(t))} is also targets[${first}]'s; ${fix}`,
      );
    }
    seen.set(key(t), i);
  });
}

function resolveSlo(
  check: PropsChecker,
  props: MultiCloudDeploymentProps,
  targets: number,
  policy: RoutingPolicy,
): MultiCloudSloSpec {
  const slo = check.record('slo', props.slo);
  const survive = policy === 'failover' ? 1 : (slo.survive ?? (targets >= 2 ? 1 : 0));
  if (policy === 'failover' && slo.survive !== undefined && slo.survive !== 1) {
    check.fail(
      'slo.survive',
      `slo.survive ${show(slo.survive)} with failover routing: the secondary carries everything when the primary is lost, which is survive 1; remove it`,
    );
  }
  return {
    targetRps: check.positive(
      'slo.targetRps',
      slo.targetRps,
      'requests per second over all targets, e.g. 2000',
    ),
    targetUtilization: check.positive(
      'slo.targetUtilization',
      slo.targetUtilization ?? GATE_DEFAULTS.targetUtilization,
      'a fraction of measured capacity, e.g. 0.7',
      1,
    ),
    survive: check.integer(
      'slo.survive',
      survive,
      0,
      Math.max(0, targets - 1),
      `at most ${targets - 1}: losing all ${targets} targets leaves none to serve`,
    ),
  };
}
