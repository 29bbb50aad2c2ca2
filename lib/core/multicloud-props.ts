/**
 * MultiCloudDeployment's props, the same in both engines (Pulumi adds how each target's cluster is
 * reached): one service, several target clusters, the global hostname's routing, the global SLO,
 * and the rollout. Its shape is described once, beside it.
 */
import {
  type AutoscalingProps,
  INFERENCE_SERVICE_PROPS_SHAPE,
  type InferenceServiceProps,
  type ResourcesProps,
} from './inference-service-props';
import { type Placement } from './placement';
import { listProp, numberProp, objectProp, stringProp } from './props-shape';
import { type Cloud, type GeolocationSpec, type RoutingPolicy } from './multicloud-spec';

/** A target's part in the global routing. */
export interface TargetRoutingProps {
  /** `weighted`: the target's weight, 0 to 255 (0: a standby that takes traffic only when the others are gone). @default 1 */
  readonly weight?: number;
  /** `failover`: which record this target is; exactly one primary and one secondary. @default - required with failover */
  readonly failover?: 'primary' | 'secondary';
  /** `geolocation`: where this target's clients are. @default - required with geolocation */
  readonly geolocation?: GeolocationSpec;
  /**
   * `latency` and `geolocation`: the share of the global traffic this target is expected to take,
   * 0 to 1, the shares of all targets summing to 1; it sizes the target.
   * @default - required with latency and geolocation
   */
  readonly expectedShare?: number;
  /** The record's set identifier, unique among the hostname's records. @default - the target's name */
  readonly setIdentifier?: string;
  /** An existing Route53 health check for the record (external-dns only). @default - none */
  readonly healthCheckId?: string;
}

/** One cluster the service runs on. */
export interface DeploymentTargetProps {
  /** The target's name (DNS-1123): its chart's and manifest file's, its record's set identifier. */
  readonly name: string;
  readonly cloud: Cloud;
  /** The cloud region (`us-east-1`, `europe-west4`); the latency record's region. @default - none (required with latency routing) */
  readonly region?: string;
  /** The rollout wave, from 1: wave 2 rolls out after wave 1 is ready. @default 1 */
  readonly wave?: number;
  /** The target's own host, which its health check calls. @default - `<name>.<routing.hostname>` */
  readonly host?: string;
  /** GPUs from a pool of this target's cluster. @default - the service's (CPU nodes) */
  readonly placement?: Placement;
  /** @default - the service's */
  readonly resources?: ResourcesProps;
  /** @default - the service's */
  readonly autoscaling?: AutoscalingProps;
  /** @default - the service's */
  readonly replicas?: number;
  /** Merged over the service's env. @default - the service's */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Another image of the same model (a GPU build for a GPU target, say): every target must serve
   * the same model file, byte for byte.
   * @default - the service's
   */
  readonly image?: InferenceServiceProps['image'];
  /** @default - the defaults of the routing policy (weight 1) */
  readonly routing?: TargetRoutingProps;
  /** The cluster as Argo CD knows it (its name), for the ApplicationSet. @default - the target's name */
  readonly argoCluster?: string;
}

/** The global hostname and how its answers spread clients over the targets. */
export interface MultiCloudRoutingProps {
  /** The hostname clients use (`iris.example.com`). */
  readonly hostname: string;
  readonly policy: RoutingPolicy;
  /** @default - the readiness path, every 30 s, unhealthy after 3 failures, Route53's checker regions */
  readonly healthCheck?: {
    /** @default '/v2/health/ready' */
    readonly path?: string;
    /** 10 or 30. @default 30 */
    readonly intervalSeconds?: number;
    /** @default 3 */
    readonly failureThreshold?: number;
    /** @default - Route53's default checker regions */
    readonly regions?: string[];
  };
  /**
   * Where the records are written: Route53 records and health checks in a hosted zone (Pulumi),
   * or annotations for the external-dns that runs in each cluster (`true`, or the annotation prefix
   * it reads: `external-dns.kubernetes.io/` from external-dns v0.22).
   * @default { externalDns: { annotationPrefix: 'external-dns.alpha.kubernetes.io/' } }
   */
  readonly dns?: {
    readonly route53?: { readonly zoneId: string };
    readonly externalDns?: boolean | { readonly annotationPrefix?: string };
  };
}

/** The load the hostname must carry, and how many targets it may lose while it does. */
export interface MultiCloudSloProps {
  /** Requests per second, over all targets. */
  readonly targetRps: number;
  /** @default 0.7 */
  readonly targetUtilization?: number;
  /** Targets that may be lost at once with the SLO still met. @default - 1 with two targets or more, else 0 */
  readonly survive?: number;
}

/** The ordered rollout through Argo CD. */
export interface MultiCloudRolloutProps {
  /**
   * An Argo CD ApplicationSet whose RollingSync strategy syncs the targets wave by wave, from the
   * per-target manifests at `repoURL`/`path` (one `<target>.k8s.yaml` each).
   * @default - none: apply the manifests wave by wave yourself
   */
  readonly applicationSet?: {
    readonly repoURL: string;
    readonly path: string;
    /** @default 'HEAD' */
    readonly targetRevision?: string;
    /** @default 'default' */
    readonly project?: string;
    /** @default 'argocd' */
    readonly namespace?: string;
  };
}

/** One gated model on several clusters. */
export interface MultiCloudDeploymentProps {
  /**
   * The service every target runs (InferenceService props; its `slo` comes from the global one,
   * and its ingress hosts from the routing).
   */
  readonly service: InferenceServiceProps;
  readonly targets: DeploymentTargetProps[];
  readonly routing: MultiCloudRoutingProps;
  readonly slo: MultiCloudSloProps;
  /** @default - no ApplicationSet */
  readonly rollout?: MultiCloudRolloutProps;
}

const SERVICE = INFERENCE_SERVICE_PROPS_SHAPE.fields;

/** The shape of {@link DeploymentTargetProps}. */
export const DEPLOYMENT_TARGET_PROPS_SHAPE = objectProp<DeploymentTargetProps>(
  {
    name: stringProp('eks-us'),
    cloud: stringProp('aws'),
    region: stringProp('us-east-1'),
    wave: numberProp('1'),
    host: stringProp('eks-us.iris.example.com'),
    placement: SERVICE.placement,
    resources: SERVICE.resources,
    autoscaling: SERVICE.autoscaling,
    replicas: SERVICE.replicas,
    env: SERVICE.env,
    image: SERVICE.image,
    routing: objectProp<TargetRoutingProps>({
      weight: numberProp('50'),
      failover: stringProp('primary'),
      geolocation: objectProp<GeolocationSpec>({
        continent: stringProp('EU'),
        country: stringProp('DE'),
        subdivision: stringProp('CA'),
      }),
      expectedShare: numberProp('0.5'),
      setIdentifier: stringProp('eks-us'),
      healthCheckId: stringProp('abcd1234-…'),
    }),
    argoCluster: stringProp('eks-us'),
  },
  ['name', 'cloud'],
);

/** The shape of {@link MultiCloudDeploymentProps}. */
export const MULTI_CLOUD_DEPLOYMENT_PROPS_SHAPE = objectProp<MultiCloudDeploymentProps>(
  {
    service: INFERENCE_SERVICE_PROPS_SHAPE,
    targets: listProp(DEPLOYMENT_TARGET_PROPS_SHAPE),
    routing: objectProp<MultiCloudRoutingProps>(
      {
        hostname: stringProp('iris.example.com'),
        policy: stringProp('weighted'),
        healthCheck: objectProp<NonNullable<MultiCloudRoutingProps['healthCheck']>>({
          path: stringProp('/v2/health/ready'),
          intervalSeconds: numberProp('30'),
          failureThreshold: numberProp('3'),
          regions: listProp(stringProp('us-east-1')),
        }),
        dns: objectProp<NonNullable<MultiCloudRoutingProps['dns']>>({
          route53: objectProp<{ zoneId: string }>({ zoneId: stringProp('Z0123456789ABC') }, ['zoneId']),
          externalDns: {
            kind: 'flag-or-object',
            object: objectProp<{ annotationPrefix?: string }>({
              annotationPrefix: stringProp('external-dns.kubernetes.io/'),
            }),
          },
        }),
      },
      ['hostname', 'policy'],
    ),
    slo: objectProp<MultiCloudSloProps>(
      { targetRps: numberProp('2000'), targetUtilization: numberProp('0.7'), survive: numberProp('1') },
      ['targetRps'],
    ),
    rollout: objectProp<MultiCloudRolloutProps>({
      applicationSet: objectProp<NonNullable<MultiCloudRolloutProps['applicationSet']>>(
        {
          repoURL: stringProp('https://github.com/acme/deploy.git'),
          path: stringProp('manifests/iris'),
          targetRevision: stringProp('main'),
          project: stringProp('default'),
          namespace: stringProp('argocd'),
        },
        ['repoURL', 'path'],
      ),
    }),
  },
  ['service', 'targets', 'routing', 'slo'],
);

/** The defaults of MultiCloudDeploymentProps, as their `@default` tags state them. */
export const MULTI_CLOUD_DEPLOYMENT_DEFAULTS = {
  wave: 1,
  weight: 1,
  healthCheckPath: '/v2/health/ready',
  healthCheckIntervalSeconds: 30,
  healthCheckFailureThreshold: 3,
  targetRevision: 'HEAD',
  project: 'default',
  argoNamespace: 'argocd',
  externalDnsAnnotationPrefix: 'external-dns.alpha.kubernetes.io/',
} as const;
