/**
 * The props of `InferenceService`, the same in every engine (cdk8s today, Pulumi later).
 */
import { type Placement, PLACEMENT_SHAPE } from './placement';
import { GATE_PROPS_SHAPE, type GateProps, SLO_PROPS_SHAPE, type SloProps } from './gate-props';
import {
  booleanProp,
  listProp,
  mapProp,
  numberProp,
  objectProp,
  opaqueProp,
  stringProp,
} from './props-shape';
import { type ModelImageSource } from './model-image-source';

/** CPU and memory for the inference container. */
export interface ResourcesProps {
  /**
   * CPU request, as a Kubernetes quantity (`500m`, `1`, `2.5`).
   * @default '1'
   */
  readonly cpu?: string;
  /**
   * Memory request, as a Kubernetes quantity (`512Mi`, `2Gi`).
   * @default '512Mi'
   */
  readonly memory?: string;
  /**
   * Limits, when they must differ from the requests. Requests equal to limits give the pod the
   * Guaranteed QoS class and steady latency, which is what the quality gate measures.
   * @default - the same as the requests
   */
  readonly limits?: {
    /** @default - resources.cpu */
    readonly cpu?: string;
    /** @default - resources.memory */
    readonly memory?: string;
  };
}

/** A canary release: a candidate beside the stable service, taking `weight` percent of the requests. */
export interface CanaryProps {
  /** The candidate's image: a ModelImage, or a reference (with `model`). @default - the service's image (with another `model`) */
  readonly image?: InferenceServiceProps['image'];
  /** The candidate's model file, with an image reference. @default - the image's model */
  readonly model?: string;
  /** Percent of the requests the candidate takes, 0 to 100; promoting it is changing the props. */
  readonly weight: number;
  /** The candidate's own gate; required when the stable service has one. @default - none (only without the service's gate) */
  readonly gate?: GateProps;
  /** The Gateway API Gateway whose listener splits the requests (an HTTPRoute attaches to it). */
  readonly gateway: {
    readonly name: string;
    /** @default - the service's namespace */
    readonly namespace?: string;
    /** A listener of the Gateway. @default - every listener */
    readonly sectionName?: string;
  };
  /** The hostnames the route answers. @default - any the Gateway's listener takes */
  readonly hostnames?: string[];
}

/**
 * Horizontal scaling: with an `autoscaling/v2` HorizontalPodAutoscaler on CPU and memory (`hpa`), or
 * with a KEDA ScaledObject on the request rate from Prometheus (`keda`), whose threshold is the
 * per-replica capacity the gate measured × the SLO's target utilization.
 */
export interface AutoscalingProps {
  /**
   * What scales the Deployment: an HPA on CPU and memory, or KEDA on the request rate (KEDA makes
   * and owns its own HPA: none is rendered beside it).
   * @default 'hpa'
   */
  readonly kind?: 'hpa' | 'keda';
  /**
   * `keda`: the Prometheus server KEDA queries, which scrapes the service's metrics port (e.g. through
   * the `monitoring` ServiceMonitor), e.g. `http://prometheus-operated.monitoring.svc:9090`.
   * @default - required with kind 'keda'
   */
  readonly prometheusAddress?: string;
  /**
   * `keda`: requests per second one replica takes before another is added.
   * @default - the gate's measured per-replica capacity × slo.targetUtilization (0.7 without an SLO)
   */
  readonly targetRpsPerReplica?: number;
  /**
   * `keda`: scale to zero replicas when no request comes; the first request after idle waits for a
   * replica to start (the gate's cold start, plus the image pull and scheduling).
   * @default false
   */
  readonly scaleToZero?: boolean;
  /**
   * `keda` with `scaleToZero`: the request rate that wakes the service from zero replicas.
   * @default 0 (any request)
   */
  readonly activationRps?: number;
  /**
   * `keda`: seconds between KEDA's queries of the request rate.
   * @default 15
   */
  readonly pollingIntervalSeconds?: number;
  /**
   * `keda` with `scaleToZero`: seconds without requests before the last replica goes.
   * @default 300
   */
  readonly cooldownSeconds?: number;
  /**
   * Fewest replicas. Two keeps the service up through a node drain.
   * @default 2
   */
  readonly minReplicas?: number;
  /**
   * Most replicas.
   * @default 10
   */
  readonly maxReplicas?: number;
  /**
   * Target average CPU utilization, percent of the CPU request.
   * @default 70 (when memoryUtilization is not set either)
   */
  readonly cpuUtilization?: number;
  /**
   * Target average memory utilization, percent of the memory request.
   * @default - no memory target
   */
  readonly memoryUtilization?: number;
  /**
   * Seconds the HPA waits before scaling down after load falls.
   * @default 300
   */
  readonly scaleDownStabilizationSeconds?: number;
}

/** A source admitted by the NetworkPolicy (a `networking.k8s.io/v1` NetworkPolicyPeer). */
export interface NetworkPeerProps {
  /**
   * Pods with these labels. With `namespaceLabels`, pods with these labels in those namespaces.
   * `{}` selects every pod.
   * @default - not restricted by pod labels
   */
  readonly podLabels?: Readonly<Record<string, string>>;
  /**
   * Namespaces with these labels (`{ 'kubernetes.io/metadata.name': 'gateway' }`). `{}` selects all.
   * @default - the service's own namespace
   */
  readonly namespaceLabels?: Readonly<Record<string, string>>;
  /**
   * An IP range in CIDR notation.
   * @default - no IP range
   */
  readonly cidr?: string;
  /**
   * Ranges inside `cidr` that are not admitted.
   * @default []
   */
  readonly except?: readonly string[];
}

/** Who may reach the pods. Only the serving port and the metrics port are opened at all. */
export interface NetworkPolicyProps {
  /**
   * Sources admitted to the serving port.
   * @default - pods of the same namespace (and the ingress controller's namespace when `ingress` is set)
   */
  readonly allowFrom?: readonly NetworkPeerProps[];
  /**
   * Sources admitted to the metrics port (your Prometheus).
   * @default - pods of the same namespace
   */
  readonly metricsFrom?: readonly NetworkPeerProps[];
}

/** TLS termination on the Ingress. */
export interface IngressTlsProps {
  /**
   * The Secret holding the certificate. cert-manager creates it when an issuer is given.
   * @default '<name>-tls'
   */
  readonly secretName?: string;
  /**
   * cert-manager ClusterIssuer that issues the certificate (annotation `cert-manager.io/cluster-issuer`).
   * @default - no cert-manager annotation; the Secret must exist
   */
  readonly clusterIssuer?: string;
  /**
   * cert-manager Issuer in the service's namespace (annotation `cert-manager.io/issuer`).
   * @default - no cert-manager annotation
   */
  readonly issuer?: string;
}

/** An Ingress in front of the Service. */
export interface IngressProps {
  /**
   * Host names routed to the service (`iris.example.com`, `*.example.com`). Required with TLS.
   * @default - every host (a rule without host)
   */
  readonly hosts?: readonly string[];
  /**
   * Path prefix routed to the service.
   * @default '/'
   */
  readonly path?: string;
  /**
   * The IngressClass (`spec.ingressClassName`).
   * @default - the cluster's default IngressClass
   */
  readonly className?: string;
  /**
   * Namespace of the ingress controller, admitted to the serving port by the NetworkPolicy.
   * @default 'ingress-nginx'
   */
  readonly controllerNamespace?: string;
  /**
   * TLS termination.
   * @default - no TLS
   */
  readonly tls?: IngressTlsProps;
  /**
   * Extra annotations for the controller (timeouts, body size, …).
   * @default {}
   */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Waivers of policy rules, each with the reason (kept in an annotation for reviewers). */
export interface PolicyProps {
  /**
   * Rule id → why it is waived (`{ 'topology-spread': 'single-node dev cluster' }`).
   * @default {}
   */
  readonly waive?: Readonly<Record<string, string>>;
}

/** How the pod stops: readiness fails, traffic drains, then the process exits. */
export interface ShutdownProps {
  /**
   * Seconds the preStop hook sleeps so endpoints and load balancers stop sending traffic first.
   * @default 5
   */
  readonly preStopSleepSeconds?: number;
  /**
   * Seconds the server may spend draining queued and in-flight requests after SIGTERM.
   * The grace period is preStop + drain + 5 s.
   * @default 20
   */
  readonly drainSeconds?: number;
}

/** Where the server finds the API key clients must send. */
export interface ApiKeyProps {
  /** The Secret (in the service's namespace) that holds the key. */
  readonly secretName: string;
  /**
   * The key in that Secret whose value is the API key.
   * @default 'api-key'
   */
  readonly key?: string;
}

/** The alert rules' own settings; the thresholds that come from the gate are not settings. */
export interface MonitoringAlertsProps {
  /**
   * How long a condition must hold before its alert fires, a Prometheus duration (`5m`, `90s`).
   * @default '5m'
   */
  readonly for?: string;
  /**
   * The fraction of inference requests answered with a 5xx status that fires the error alert
   * (0.01 = 1%), from 0 to 1, both exclusive.
   * @default 0.01
   */
  readonly errorRatio?: number;
}

/** The Grafana dashboard's ConfigMap, which the Grafana sidecar loads by its `grafana_dashboard` label. */
export interface MonitoringDashboardProps {
  /**
   * The Grafana folder, as the `grafana_folder` annotation (the sidecar's `folderAnnotation`, as
   * kube-prometheus-stack configures it).
   * @default - the sidecar's default folder
   */
  readonly folder?: string;
  /**
   * Extra labels on the ConfigMap, for a sidecar that selects on more than `grafana_dashboard`.
   * @default {}
   */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * A ServiceMonitor for the metrics port, a PrometheusRule whose thresholds come from the gate's
 * measurements, and a Grafana dashboard. Only with the modelfab runtime: the rules name its metrics.
 */
export interface MonitoringProps {
  /**
   * Labels the Prometheus operator selects ServiceMonitors and PrometheusRules by
   * (`serviceMonitorSelector`, `ruleSelector`), e.g. `{ release: 'kube-prometheus-stack' }`.
   * @default {}
   */
  readonly prometheusLabels?: Readonly<Record<string, string>>;
  /**
   * How often Prometheus scrapes the metrics port, a Prometheus duration (`30s`, `1m`).
   * @default '30s'
   */
  readonly scrapeInterval?: string;
  /**
   * The Grafana dashboard ConfigMap: `false` leaves it out.
   * @default true
   */
  readonly dashboard?: boolean | MonitoringDashboardProps;
  /**
   * Where the runbooks live (`https://runbooks.example.com/modelfab`): each alert gets a
   * `runbook_url` annotation, this URL and `/` and the alert's name.
   * @default - no runbook_url; each alert's `runbook` annotation holds its runbook text
   */
  readonly runbookBaseUrl?: string;
  /**
   * The alerts' own settings.
   * @default { for: '5m', errorRatio: 0.01 }
   */
  readonly alerts?: MonitoringAlertsProps;
}

/** The props of `InferenceService`, the same in cdk8s and Pulumi (where a few accept Pulumi Inputs). */
export interface InferenceServiceProps {
  /**
   * Path to the ONNX model file, inspected at construction (relative paths from the current directory).
   * Required with an image reference string; with a ModelImage, the image's model is used and this
   * may be left out (when set, it must be the same file).
   * @default - the ModelImage's model
   */
  readonly model?: string;
  /**
   * The image to run: a ModelImage (its tag is the hash of its build context, and it decides the
   * serving runtime, the ports and the model name), or an image reference of a modelfab server
   * image (`ghcr.io/acme/iris:1.4.0` or `…@sha256:…`).
   */
  readonly image: string | ModelImageSource;
  /**
   * Name of every object. A DNS-1035 label: lower-case letters, digits and '-', starting with a letter.
   * @default - the construct id
   */
  readonly name?: string;
  /**
   * Namespace of every object.
   * @default - the chart's namespace, else none (the kubectl context's)
   */
  readonly namespace?: string;
  /**
   * `app.kubernetes.io/version` label.
   * @default - the first 12 hex digits of the model's sha256
   */
  readonly version?: string;
  /**
   * The serving port (HTTP, Open Inference Protocol). Fixed at 8000 with the triton runtime.
   * @default 8080 (8000 with the triton runtime)
   */
  readonly port?: number;
  /**
   * The Prometheus metrics port, separate so the NetworkPolicy can admit only the scraper. Fixed
   * at 8002 with the triton runtime.
   * @default 9090 (8002 with the triton runtime)
   */
  readonly metricsPort?: number;
  /**
   * CPU and memory.
   * @default { cpu: '1', memory: '512Mi' } with limits = requests
   */
  readonly resources?: ResourcesProps;
  /**
   * A fixed replica count, instead of autoscaling. Not allowed together with `autoscaling`.
   * @default - autoscaling with its defaults
   */
  readonly replicas?: number;
  /**
   * Horizontal autoscaling. Not allowed together with `replicas`.
   * @default { minReplicas: 2, maxReplicas: 10, cpuUtilization: 70 } unless `replicas` is set
   */
  readonly autoscaling?: AutoscalingProps;
  /**
   * Sources admitted by the NetworkPolicy.
   * @default - pods of the same namespace
   */
  readonly networkPolicy?: NetworkPolicyProps;
  /**
   * An Ingress in front of the Service.
   * @default - no Ingress
   */
  readonly ingress?: IngressProps;
  /**
   * Extra environment variables for the server. Names starting with `MODELFAB_` are reserved.
   * @default {}
   */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Extra labels on every object and pod. The `app.kubernetes.io/*` labels modelfab sets cannot be overridden.
   * @default {}
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Policy rule waivers.
   * @default - every rule enforced
   */
  readonly policy?: PolicyProps;
  /**
   * Require an API key on inference and metadata requests (`Authorization: Bearer <key>` or
   * `X-API-Key`); health endpoints stay open. The key is mounted read-only from a Secret and
   * compared in constant time. Only the modelfab runtime supports it.
   * @default - no API key
   */
  readonly apiKey?: ApiKeyProps;
  /**
   * Mount a service-account token in the pod. The server needs no Kubernetes API access.
   * @default false
   */
  readonly serviceAccountToken?: boolean;
  /**
   * Graceful shutdown timings.
   * @default { preStopSleepSeconds: 5, drainSeconds: 20 }
   */
  readonly shutdown?: ShutdownProps;
  /**
   * Seconds the container may take to load and warm up the model before liveness applies.
   * @default 120
   */
  readonly startupTimeoutSeconds?: number;
  /**
   * Image pull policy.
   * @default 'IfNotPresent'
   */
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /**
   * The quality gate: benchmark the model with onnxruntime under this service's resources when the
   * construct is created, and fail synth when a threshold is missed. Its tuned batch setting
   * becomes the serving config. `MODELFAB_GATE=skip` skips it (with a warning and an annotation).
   * @default - no gate
   */
  readonly gate?: GateProps;
  /**
   * Load the service must carry; with a gate, the HPA's minReplicas comes from the measured
   * per-replica throughput (unless `autoscaling.minReplicas` is set).
   * @default - no capacity plan
   */
  readonly slo?: SloProps;
  /**
   * Run on a GPU pool: `pool.placement({ gpus })` of an AutoscaledGpuPool. The pods select the pool's
   * nodes, tolerate their taint and ask for `nvidia.com/gpu`; their requests must fit one of the
   * pool's instance types after the system reserve, and the model one GPU's memory. Only a Triton
   * image with `KIND_GPU` may be placed (the modelfab server runs on the CPU only), and such an image
   * needs a placement. With a gate, the gate refuses: it measures on the CPU only, and CPU figures
   * never pass a GPU service.
   * @default - CPU nodes, no GPU
   */
  readonly placement?: Placement;
  /**
   * The instance type a CPU service's pods run on, from modelfab's catalog (`c6i.xlarge`): the
   * pods' requests must fit it after the system reserve, and the cost figures (per hour at the
   * planned replicas, per million inferences at the measured capacity) are priced by it. A placed
   * service is priced by its pool's node types instead.
   * @default - no fit check and no cost figures for a CPU service
   */
  readonly nodeType?: string;
  /**
   * A canary release: a candidate (another image or model) in a Deployment of its own,
   * `<name>-canary`, gated on its own, and a Gateway API HTTPRoute that splits the requests between
   * the stable Service and the candidate's by weight. Promoting is changing the props.
   * @default - no canary
   */
  readonly canary?: CanaryProps;
  /**
   * Monitoring derived from the gate: a ServiceMonitor, a PrometheusRule (latency over the gated
   * bound, errors, refusals, load over the measured capacity, a model digest other than the gated
   * one, restarts) and a Grafana dashboard ConfigMap. Needs the Prometheus operator's CRDs.
   * @default - no monitoring objects
   */
  readonly monitoring?: MonitoringProps;
}

const NETWORK_PEER_SHAPE = objectProp<NetworkPeerProps>({
  podLabels: mapProp(stringProp('gateway'), 'app'),
  namespaceLabels: mapProp(stringProp('gateway'), 'kubernetes.io/metadata.name'),
  cidr: stringProp('10.0.0.0/8'),
  except: listProp(stringProp('10.1.0.0/16')),
});

/** The shape of {@link InferenceServiceProps}: every key, and an example of each value. */
export const INFERENCE_SERVICE_PROPS_SHAPE = objectProp<InferenceServiceProps>(
  {
    model: stringProp('examples/iris/model/iris.onnx'),
    image: opaqueProp,
    name: stringProp('iris'),
    namespace: stringProp('ml'),
    version: stringProp('1.4.0'),
    port: numberProp('8080'),
    metricsPort: numberProp('9090'),
    resources: objectProp<ResourcesProps>({
      cpu: stringProp('1'),
      memory: stringProp('512Mi'),
      limits: objectProp<NonNullable<ResourcesProps['limits']>>({
        cpu: stringProp('2'),
        memory: stringProp('1Gi'),
      }),
    }),
    replicas: numberProp('2'),
    autoscaling: objectProp<AutoscalingProps>({
      kind: stringProp('keda'),
      prometheusAddress: stringProp('http://prometheus-operated.monitoring.svc:9090'),
      targetRpsPerReplica: numberProp('400'),
      scaleToZero: booleanProp('true'),
      activationRps: numberProp('1'),
      pollingIntervalSeconds: numberProp('15'),
      cooldownSeconds: numberProp('300'),
      minReplicas: numberProp('2'),
      maxReplicas: numberProp('10'),
      cpuUtilization: numberProp('70'),
      memoryUtilization: numberProp('80'),
      scaleDownStabilizationSeconds: numberProp('300'),
    }),
    networkPolicy: objectProp<NetworkPolicyProps>({
      allowFrom: listProp(NETWORK_PEER_SHAPE),
      metricsFrom: listProp(NETWORK_PEER_SHAPE),
    }),
    ingress: objectProp<IngressProps>({
      hosts: listProp(stringProp('iris.example.com')),
      path: stringProp('/'),
      className: stringProp('nginx'),
      controllerNamespace: stringProp('ingress-nginx'),
      tls: objectProp<IngressTlsProps>({
        secretName: stringProp('iris-tls'),
        clusterIssuer: stringProp('letsencrypt'),
        issuer: stringProp('ca'),
      }),
      annotations: mapProp(stringProp('60'), 'nginx.ingress.kubernetes.io/proxy-read-timeout'),
    }),
    env: mapProp(stringProp('info'), 'LOG_LEVEL'),
    labels: mapProp(stringProp('iris-demo'), 'app.kubernetes.io/part-of'),
    policy: objectProp<PolicyProps>({
      waive: mapProp(stringProp('single-node dev cluster'), 'topology-spread'),
    }),
    apiKey: objectProp<ApiKeyProps>({ secretName: stringProp('iris-api-key'), key: stringProp('api-key') }, [
      'secretName',
    ]),
    serviceAccountToken: booleanProp('false'),
    shutdown: objectProp<ShutdownProps>({
      preStopSleepSeconds: numberProp('5'),
      drainSeconds: numberProp('20'),
    }),
    startupTimeoutSeconds: numberProp('120'),
    imagePullPolicy: stringProp('IfNotPresent'),
    gate: GATE_PROPS_SHAPE,
    slo: SLO_PROPS_SHAPE,
    placement: PLACEMENT_SHAPE,
    nodeType: stringProp('c6i.xlarge'),
    canary: objectProp<CanaryProps>(
      {
        image: opaqueProp,
        model: stringProp('model/iris-v2.onnx'),
        weight: numberProp('10'),
        gate: GATE_PROPS_SHAPE,
        gateway: objectProp<CanaryProps['gateway']>(
          { name: stringProp('public'), namespace: stringProp('gateway'), sectionName: stringProp('https') },
          ['name'],
        ),
        hostnames: listProp(stringProp('iris.example.com')),
      },
      ['weight', 'gateway'],
    ),
    monitoring: objectProp<MonitoringProps>({
      prometheusLabels: mapProp(stringProp('kube-prometheus-stack'), 'release'),
      scrapeInterval: stringProp('30s'),
      dashboard: {
        kind: 'flag-or-object',
        object: objectProp<MonitoringDashboardProps>({
          folder: stringProp('inference'),
          labels: mapProp(stringProp('inference'), 'team'),
        }),
      },
      runbookBaseUrl: stringProp('https://runbooks.example.com/modelfab'),
      alerts: objectProp<MonitoringAlertsProps>({
        for: stringProp('5m'),
        errorRatio: numberProp('0.01'),
      }),
    }),
  },
  ['image'],
);

/** The defaults of InferenceServiceProps, as their `@default` tags state them. */
export const INFERENCE_SERVICE_DEFAULTS = {
  cpu: '1',
  memory: '512Mi',
  minReplicas: 2,
  maxReplicas: 10,
  cpuUtilization: 70,
  scaleDownStabilizationSeconds: 300,
  kedaActivationRps: 0,
  kedaPollingIntervalSeconds: 15,
  kedaCooldownSeconds: 300,
  ingressControllerNamespace: 'ingress-nginx',
  preStopSleepSeconds: 5,
  drainSeconds: 20,
  startupTimeoutSeconds: 120,
  imagePullPolicy: 'IfNotPresent',
  scrapeInterval: '30s',
  alertFor: '5m',
  errorRatio: 0.01,
  dashboard: true,
} as const;
