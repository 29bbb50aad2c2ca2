/**
 * The resolved, validated form of InferenceServiceProps: every default applied, every quantity
 * parsed. Plain data; the renderers take this and nothing else from the user.
 */
import { type Placement, type PlacementNodeType } from './placement';
import { type CanarySpec } from './resolve-canary';
import { type GateSpec, type SloSpec } from './gate-spec';
import { type ImageReference } from './image-reference';
import { type ServingRuntime } from './model-image-source';

export interface ResourceAmounts {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
}

export interface FixedScaling {
  readonly kind: 'fixed';
  readonly replicas: number;
}

/** KEDA scaling on the request rate from Prometheus (autoscaling.kind 'keda'). */
export interface KedaScaling {
  readonly prometheusAddress: string;
  /** Requests per second a replica takes: set, or absent to use the gate's measured capacity × target utilization. */
  readonly targetRpsPerReplica?: number;
  readonly scaleToZero: boolean;
  readonly activationRps: number;
  readonly pollingIntervalSeconds: number;
  readonly cooldownSeconds: number;
}

export interface HorizontalScaling {
  readonly kind: 'horizontal';
  /** KEDA scales instead of an HPA on CPU and memory. */
  readonly keda?: KedaScaling;
  readonly minReplicas: number;
  /** Whether the user set minReplicas (a capacity plan then does not override it). */
  readonly minReplicasExplicit: boolean;
  readonly maxReplicas: number;
  readonly cpuUtilization?: number;
  readonly memoryUtilization?: number;
  readonly scaleDownStabilizationSeconds: number;
}

export interface NetworkPeer {
  readonly podLabels?: Readonly<Record<string, string>>;
  readonly namespaceLabels?: Readonly<Record<string, string>>;
  readonly cidr?: string;
  readonly except?: readonly string[];
}

export interface IngressSpec {
  readonly hosts: readonly string[];
  readonly path: string;
  readonly className?: string;
  readonly tls?: {
    readonly secretName: string;
    readonly clusterIssuer?: string;
    readonly issuer?: string;
  };
  readonly annotations: Readonly<Record<string, string>>;
}

/** The resolved `monitoring` prop. */
export interface MonitoringSpec {
  readonly prometheusLabels: Readonly<Record<string, string>>;
  readonly scrapeInterval: string;
  /** @default - no dashboard */
  readonly dashboard?: {
    readonly folder?: string;
    readonly labels: Readonly<Record<string, string>>;
  };
  readonly runbookBaseUrl?: string;
  readonly alerts: { readonly for: string; readonly errorRatio: number };
}

export interface InferenceServiceSpec {
  /** Construct path (cdk8s) or resource name (Pulumi), for messages. */
  readonly constructPath: string;
  readonly name: string;
  readonly namespace?: string;
  /** @default - render uses the model digest */
  readonly version?: string;
  /** Absolute path of the ONNX file. */
  readonly modelPath: string;
  /** The model's name in OIP URLs and the `app.kubernetes.io/name` label. */
  readonly modelName: string;
  /** The model's version in OIP URLs. */
  readonly modelVersion: string;
  readonly image: ImageReference;
  /** The server in the image; decides the ports, the user and the server's environment. */
  readonly runtime: ServingRuntime;
  /** The Secret key the server reads its API key from. @default - no API key */
  readonly apiKey?: { readonly secretName: string; readonly key: string };
  readonly port: number;
  readonly metricsPort: number;
  readonly resources: { readonly requests: ResourceAmounts; readonly limits: ResourceAmounts };
  readonly scaling: FixedScaling | HorizontalScaling;
  readonly networkPolicy: {
    readonly servingFrom: readonly NetworkPeer[];
    readonly metricsFrom: readonly NetworkPeer[];
  };
  readonly ingress?: IngressSpec;
  readonly env: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly labels: Readonly<Record<string, string>>;
  /** Rule id → reason. Ids are checked against the rule catalog by lib/render. */
  readonly policyWaivers: Readonly<Record<string, string>>;
  readonly serviceAccountToken: boolean;
  readonly shutdown: { readonly preStopSleepSeconds: number; readonly drainSeconds: number };
  readonly startupTimeoutSeconds: number;
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  readonly gate?: GateSpec;
  readonly slo?: SloSpec;
  /** The GPU pool the pods run on. @default - CPU nodes */
  readonly placement?: Placement;
  /** A candidate beside this service, and the weight of the requests it takes. */
  readonly canary?: CanarySpec;
  /** The CPU instance type the pods run on (`nodeType`), from the catalog, priced. */
  readonly nodeType?: PlacementNodeType;
  /** The monitoring objects. @default - none */
  readonly monitoring?: MonitoringSpec;
}
