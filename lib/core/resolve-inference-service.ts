/**
 * InferenceServiceProps → InferenceServiceSpec: defaults applied, quantities parsed, every value
 * checked. Pure: no files are read here (lib/model inspects the model file).
 */
import * as path from 'node:path';
import { show } from './errors';
import { type ImageReference, parseImageReference } from './image-reference';
import { isModelImageSource, RUNTIME_CONTRACTS, type ServingRuntime } from './model-image-source';
import {
  type ApiKeyProps,
  type AutoscalingProps,
  type IngressProps,
  type InferenceServiceProps,
  type NetworkPeerProps,
  type ResourcesProps,
} from './inference-service-props';
import {
  type HorizontalScaling,
  type FixedScaling,
  type IngressSpec,
  type InferenceServiceSpec,
  type NetworkPeer,
  type ResourceAmounts,
} from './inference-service-spec';
import {
  isDns1035Label,
  isDns1123Label,
  isDns1123Subdomain,
  isEnvVarName,
  isIngressHost,
  isLabelValue,
  isQualifiedName,
  defaultModelName,
} from './names';
import { formatCpu, formatMemory, parseCpuMillis, parseMemoryBytes, QuantityError } from './quantity';
import { PropsChecker } from './props-checker';
import { resolveGate, resolveSlo } from './resolve-gate';

/** Labels modelfab sets on every object; users cannot override them. */
export const RESERVED_LABELS: readonly string[] = [
  'app.kubernetes.io/name',
  'app.kubernetes.io/instance',
  'app.kubernetes.io/version',
  'app.kubernetes.io/component',
  'app.kubernetes.io/managed-by',
];

/** Where the props come from: the construct, and what its engine provides. */
export interface ResolveContext {
  /** Construct path or resource name, used in every message. */
  readonly constructPath: string;
  /** Construct id, the default object name. */
  readonly id: string;
  /** The chart's namespace, if any. */
  readonly defaultNamespace?: string;
  /** Directory relative model paths resolve from. @default process.cwd() */
  readonly cwd?: string;
}

export const INFERENCE_SERVICE_DEFAULTS = {
  cpu: '1',
  memory: '512Mi',
  minReplicas: 2,
  maxReplicas: 10,
  cpuUtilization: 70,
  scaleDownStabilizationSeconds: 300,
  ingressControllerNamespace: 'ingress-nginx',
  preStopSleepSeconds: 5,
  drainSeconds: 20,
  startupTimeoutSeconds: 120,
  imagePullPolicy: 'IfNotPresent',
} as const;

/** Resolves and validates InferenceService props. Throws ModelfabValidationError on the first bad value. */
export function resolveInferenceService(
  props: InferenceServiceProps,
  context: ResolveContext,
): InferenceServiceSpec {
  const check: PropsChecker = new PropsChecker(context.constructPath);
  if (props === null || typeof props !== 'object') {
    check.fail('props', `props must be an object, got ${show(props)}`);
  }
  const d = INFERENCE_SERVICE_DEFAULTS;

  const cwd = context.cwd ?? process.cwd();
  const source = resolveImageSource(check, props, cwd);
  const image = source.image;
  const name = props.name ?? context.id;
  if (typeof name !== 'string' || !isDns1035Label(name)) {
    check.fail(
      'name',
      `name ${show(name)} is not a valid object name (dns-1035 label: at most 63 lower-case letters, digits and '-', starting with a letter); ${props.name === undefined ? 'the construct id is the default name, so set name explicitly' : 'choose another name'}`,
    );
  }

  const namespace = props.namespace ?? context.defaultNamespace;
  if (namespace !== undefined && (typeof namespace !== 'string' || !isDns1123Label(namespace))) {
    check.fail(
      'namespace',
      `namespace ${show(namespace)} is not a valid namespace (dns-1123 label: at most 63 lower-case alphanumerics and '-')`,
    );
  }

  if (
    props.version !== undefined &&
    (typeof props.version !== 'string' || props.version === '' || !isLabelValue(props.version))
  ) {
    check.fail(
      'version',
      `version ${show(props.version)} is not a valid label value; use at most 63 alphanumerics, '-', '_' or '.', e.g. '1.4.0'`,
    );
  }

  const contract = RUNTIME_CONTRACTS[source.runtime];
  const port = check.integer(
    'port',
    props.port ?? contract.httpPort,
    1,
    65535,
    'use a tcp port such as 8080',
  );
  const metricsPort = check.integer(
    'metricsPort',
    props.metricsPort ?? contract.metricsPort,
    1,
    65535,
    'use a tcp port such as 9090',
  );
  if (source.runtime === 'triton') {
    for (const [prop, value, fixed] of [
      ['port', port, contract.httpPort],
      ['metricsPort', metricsPort, contract.metricsPort],
    ] as const) {
      if (value !== fixed) {
        check.fail(
          prop,
          `${prop} ${show(value)} cannot be changed with the triton runtime, which listens on ${fixed}; remove ${prop}`,
        );
      }
    }
  }
  if (port === metricsPort) {
    check.fail(
      'metricsPort',
      `metricsPort ${metricsPort} equals port ${port}; the metrics need their own port so the network policy can admit only the scraper`,
    );
  }

  const resources = resolveResources(check, props.resources ?? {});
  const scaling = resolveScaling(check, props, resources);
  const ingress = props.ingress === undefined ? undefined : resolveIngress(check, props.ingress, name);
  const networkPolicy = resolveNetworkPolicy(check, props, props.ingress);
  const env = resolveEnv(check, props.env ?? {});

  const labels = check.labels('labels', props.labels ?? {});
  for (const key of Object.keys(labels)) {
    if (RESERVED_LABELS.includes(key)) {
      check.fail(
        'labels',
        `labels sets ${show(key)}, which modelfab manages; remove it (use the name or version prop instead)`,
      );
    }
  }

  const waivers: Record<string, string> = {};
  for (const [rule, reason] of Object.entries(check.record('policy.waive', props.policy?.waive ?? {}))) {
    if (typeof reason !== 'string' || reason.trim() === '') {
      check.fail(
        'policy.waive',
        `policy.waive[${show(rule)}] needs a reason, got ${show(reason)}; say why the rule does not apply`,
      );
    }
    waivers[rule] = reason;
  }

  if (props.serviceAccountToken !== undefined && typeof props.serviceAccountToken !== 'boolean') {
    check.fail(
      'serviceAccountToken',
      `serviceAccountToken must be true or false, got ${show(props.serviceAccountToken)}`,
    );
  }
  const apiKey = props.apiKey === undefined ? undefined : resolveApiKey(check, props.apiKey, source.runtime);
  const shutdown = props.shutdown ?? {};
  const pullPolicy = props.imagePullPolicy ?? d.imagePullPolicy;
  if (!['Always', 'IfNotPresent', 'Never'].includes(pullPolicy)) {
    check.fail(
      'imagePullPolicy',
      `imagePullPolicy ${show(pullPolicy)} is not one of 'Always', 'IfNotPresent', 'Never'`,
    );
  }

  return {
    constructPath: context.constructPath,
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(props.version !== undefined ? { version: props.version } : {}),
    modelPath: source.modelPath,
    modelName: source.modelName,
    modelVersion: source.modelVersion,
    image,
    runtime: source.runtime,
    ...(apiKey ? { apiKey } : {}),
    port,
    metricsPort,
    resources,
    scaling,
    networkPolicy,
    ...(ingress ? { ingress } : {}),
    env,
    labels,
    policyWaivers: waivers,
    serviceAccountToken: props.serviceAccountToken ?? false,
    shutdown: {
      preStopSleepSeconds: check.integer(
        'shutdown.preStopSleepSeconds',
        shutdown.preStopSleepSeconds ?? d.preStopSleepSeconds,
        0,
        300,
        'a few seconds lets endpoints update',
      ),
      drainSeconds: check.integer(
        'shutdown.drainSeconds',
        shutdown.drainSeconds ?? d.drainSeconds,
        1,
        3600,
        'allow the longest request to finish',
      ),
    },
    startupTimeoutSeconds: check.integer(
      'startupTimeoutSeconds',
      props.startupTimeoutSeconds ?? d.startupTimeoutSeconds,
      10,
      3600,
      'allow for model load and warm-up',
    ),
    imagePullPolicy: pullPolicy,
    ...(props.gate !== undefined ? { gate: resolveGate(check, props.gate, cwd) } : {}),
    ...(props.slo !== undefined ? { slo: resolveSlo(check, props) } : {}),
  };
}

function resolveQuantity(
  check: PropsChecker,
  prop: string,
  value: unknown,
  parse: (s: string) => number,
  example: string,
): number {
  if (typeof value !== 'string') {
    check.fail(prop, `${prop} must be a kubernetes quantity string, got ${show(value)}; e.g. ${example}`);
  }
  try {
    return parse(value);
  } catch (error) {
    if (error instanceof QuantityError) {
      check.fail(
        prop,
        `${prop} ${show(value)} is not valid: ${error.message}; use a quantity such as ${example}`,
      );
    }
    throw error;
  }
}

function resolveResources(
  check: PropsChecker,
  props: ResourcesProps,
): { requests: ResourceAmounts; limits: ResourceAmounts } {
  check.record('resources', props);
  const d = INFERENCE_SERVICE_DEFAULTS;
  const requests = {
    cpuMillis: resolveQuantity(check, 'resources.cpu', props.cpu ?? d.cpu, parseCpuMillis, "'500m' or '2'"),
    memoryBytes: resolveQuantity(
      check,
      'resources.memory',
      props.memory ?? d.memory,
      parseMemoryBytes,
      "'512Mi' or '2Gi'",
    ),
  };
  const limits = {
    cpuMillis:
      props.limits?.cpu === undefined
        ? requests.cpuMillis
        : resolveQuantity(check, 'resources.limits.cpu', props.limits.cpu, parseCpuMillis, "'500m' or '2'"),
    memoryBytes:
      props.limits?.memory === undefined
        ? requests.memoryBytes
        : resolveQuantity(
            check,
            'resources.limits.memory',
            props.limits.memory,
            parseMemoryBytes,
            "'512Mi' or '2Gi'",
          ),
  };
  if (limits.cpuMillis < requests.cpuMillis) {
    check.fail(
      'resources.limits.cpu',
      `resources.limits.cpu ${formatCpu(limits.cpuMillis)} is below the request ${formatCpu(requests.cpuMillis)}; raise the limit or lower resources.cpu`,
    );
  }
  if (limits.memoryBytes < requests.memoryBytes) {
    check.fail(
      'resources.limits.memory',
      `resources.limits.memory ${formatMemory(limits.memoryBytes)} is below the request ${formatMemory(requests.memoryBytes)}; raise the limit or lower resources.memory`,
    );
  }
  return { requests, limits };
}

function resolveScaling(
  check: PropsChecker,
  props: InferenceServiceProps,
  resources: { requests: ResourceAmounts; limits: ResourceAmounts },
): FixedScaling | HorizontalScaling {
  if (props.replicas !== undefined && props.autoscaling !== undefined) {
    check.fail(
      'replicas',
      `replicas ${show(props.replicas)} and autoscaling are both set; the autoscaler owns the replica count, so set one of them`,
    );
  }
  if (props.replicas !== undefined) {
    return {
      kind: 'fixed',
      replicas: check.integer(
        'replicas',
        props.replicas,
        1,
        10_000,
        'use at least 1 (2 or more to survive a node drain)',
      ),
    };
  }
  const d = INFERENCE_SERVICE_DEFAULTS;
  const a: AutoscalingProps = props.autoscaling ?? {};
  check.record('autoscaling', a);
  const minReplicas = check.integer(
    'autoscaling.minReplicas',
    a.minReplicas ?? d.minReplicas,
    1,
    10_000,
    'use at least 1',
  );
  const maxReplicas = check.integer(
    'autoscaling.maxReplicas',
    a.maxReplicas ?? Math.max(d.maxReplicas, minReplicas),
    1,
    10_000,
    'use at least 1',
  );
  if (minReplicas > maxReplicas) {
    check.fail(
      'autoscaling.minReplicas',
      `autoscaling.minReplicas ${minReplicas} is greater than autoscaling.maxReplicas ${maxReplicas}; raise maxReplicas or lower minReplicas`,
    );
  }
  const cpuTarget = a.cpuUtilization ?? (a.memoryUtilization === undefined ? d.cpuUtilization : undefined);
  // A target above limit/request can never be reached: the container is throttled first.
  const cpuCeiling = Math.floor((100 * resources.limits.cpuMillis) / resources.requests.cpuMillis);
  const memoryCeiling = Math.floor((100 * resources.limits.memoryBytes) / resources.requests.memoryBytes);
  const cpuUtilization =
    cpuTarget === undefined
      ? undefined
      : check.integer(
          'autoscaling.cpuUtilization',
          cpuTarget,
          1,
          cpuCeiling,
          `a percentage of the cpu request the pods can reach (limit/request = ${cpuCeiling}%)`,
        );
  const memoryUtilization =
    a.memoryUtilization === undefined
      ? undefined
      : check.integer(
          'autoscaling.memoryUtilization',
          a.memoryUtilization,
          1,
          memoryCeiling,
          `a percentage of the memory request the pods can reach (limit/request = ${memoryCeiling}%)`,
        );
  return {
    kind: 'horizontal',
    minReplicas,
    minReplicasExplicit: a.minReplicas !== undefined,
    maxReplicas,
    ...(cpuUtilization !== undefined ? { cpuUtilization } : {}),
    ...(memoryUtilization !== undefined ? { memoryUtilization } : {}),
    scaleDownStabilizationSeconds: check.integer(
      'autoscaling.scaleDownStabilizationSeconds',
      a.scaleDownStabilizationSeconds ?? d.scaleDownStabilizationSeconds,
      0,
      3600,
      'kubernetes allows 0 to 3600',
    ),
  };
}

const CIDR =
  /^(?:(?:\d{1,3}\.){3}\d{1,3}\/(?:3[0-2]|[12]?\d)|[0-9a-fA-F:]*:[0-9a-fA-F:.]*\/(?:12[0-8]|1[01]\d|[1-9]?\d))$/;

function isCidr(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    CIDR.test(value) &&
    (!value.includes('.') ||
      value
        .split('/')[0]
        .split('.')
        .every((o) => Number(o) <= 255))
  );
}

function resolvePeer(check: PropsChecker, prop: string, peer: NetworkPeerProps): NetworkPeer {
  check.record(prop, peer);
  const hasLabels = peer.podLabels !== undefined || peer.namespaceLabels !== undefined;
  if (peer.cidr !== undefined) {
    if (hasLabels) {
      check.fail(
        prop,
        `${prop} sets cidr ${show(peer.cidr)} together with labels; a peer is either an ip range or a label selection, so split it into two peers`,
      );
    }
    if (!isCidr(peer.cidr))
      check.fail(`${prop}.cidr`, `${prop}.cidr ${show(peer.cidr)} is not a cidr; use e.g. '10.0.0.0/8'`);
    for (const e of peer.except ?? []) {
      if (!isCidr(e))
        check.fail(`${prop}.except`, `${prop}.except entry ${show(e)} is not a cidr; use e.g. '10.0.5.0/24'`);
    }
    return { cidr: peer.cidr, except: [...(peer.except ?? [])] };
  }
  if (!hasLabels) {
    check.fail(prop, `${prop} ${show(peer)} selects nothing; set podLabels, namespaceLabels or cidr`);
  }
  if (peer.except !== undefined) check.fail(`${prop}.except`, `${prop}.except is only allowed with cidr`);
  return {
    ...(peer.podLabels !== undefined ? { podLabels: check.labels(`${prop}.podLabels`, peer.podLabels) } : {}),
    ...(peer.namespaceLabels !== undefined
      ? { namespaceLabels: check.labels(`${prop}.namespaceLabels`, peer.namespaceLabels) }
      : {}),
  };
}

function resolvePeers(check: PropsChecker, prop: string, peers: unknown): NetworkPeer[] {
  if (!Array.isArray(peers) || peers.length === 0) {
    check.fail(
      prop,
      `${prop} must be a non-empty list of peers, got ${show(peers)}; omit it to admit pods of the same namespace`,
    );
  }
  return peers.map((p, i) => resolvePeer(check, `${prop}[${i}]`, p as NetworkPeerProps));
}

function resolveNetworkPolicy(
  check: PropsChecker,
  props: InferenceServiceProps,
  ingress: IngressProps | undefined,
) {
  const np = props.networkPolicy ?? {};
  check.record('networkPolicy', np);
  const sameNamespace: NetworkPeer = { podLabels: {} };
  const servingDefault: NetworkPeer[] = [sameNamespace];
  if (ingress !== undefined) {
    const controllerNamespace =
      ingress.controllerNamespace ?? INFERENCE_SERVICE_DEFAULTS.ingressControllerNamespace;
    if (typeof controllerNamespace !== 'string' || !isDns1123Label(controllerNamespace)) {
      check.fail(
        'ingress.controllerNamespace',
        `ingress.controllerNamespace ${show(controllerNamespace)} is not a valid namespace name`,
      );
    }
    servingDefault.push({ namespaceLabels: { 'kubernetes.io/metadata.name': controllerNamespace } });
  }
  return {
    servingFrom:
      np.allowFrom === undefined
        ? servingDefault
        : resolvePeers(check, 'networkPolicy.allowFrom', np.allowFrom),
    metricsFrom:
      np.metricsFrom === undefined
        ? [sameNamespace]
        : resolvePeers(check, 'networkPolicy.metricsFrom', np.metricsFrom),
  };
}

function resolveIngress(check: PropsChecker, ingress: IngressProps, name: string): IngressSpec {
  check.record('ingress', ingress);
  const rawHosts: unknown = ingress.hosts ?? [];
  if (!Array.isArray(rawHosts)) {
    check.fail('ingress.hosts', `ingress.hosts must be a list of host names, got ${show(rawHosts)}`);
  }
  const hosts = (rawHosts as readonly unknown[]).map((host) => {
    if (typeof host !== 'string' || !isIngressHost(host)) {
      check.fail(
        'ingress.hosts',
        `ingress.hosts entry ${show(host)} is not a dns name; use e.g. 'iris.example.com' or '*.example.com'`,
      );
    }
    return host;
  });
  const routePath = ingress.path ?? '/';
  if (typeof routePath !== 'string' || !routePath.startsWith('/')) {
    check.fail('ingress.path', `ingress.path ${show(routePath)} must start with '/'`);
  }
  if (
    ingress.className !== undefined &&
    (typeof ingress.className !== 'string' || !isDns1123Subdomain(ingress.className))
  ) {
    check.fail(
      'ingress.className',
      `ingress.className ${show(ingress.className)} is not a valid ingress class name`,
    );
  }
  const annotations = check.record('ingress.annotations', ingress.annotations ?? {});
  for (const [key, value] of Object.entries(annotations)) {
    if (!isQualifiedName(key) || typeof value !== 'string') {
      check.fail(
        'ingress.annotations',
        `ingress.annotations[${show(key)}] = ${show(value)} is not a valid annotation; keys are qualified names, values strings`,
      );
    }
  }
  let tls: IngressSpec['tls'];
  if (ingress.tls !== undefined) {
    check.record('ingress.tls', ingress.tls);
    if (hosts.length === 0) {
      check.fail(
        'ingress.tls',
        `ingress.tls is set but ingress.hosts is ${show(ingress.hosts ?? [])}; a certificate names its hosts, so add hosts such as ['iris.example.com']`,
      );
    }
    const { secretName = `${name}-tls`, clusterIssuer, issuer } = ingress.tls;
    if (typeof secretName !== 'string' || !isDns1123Subdomain(secretName)) {
      check.fail(
        'ingress.tls.secretName',
        `ingress.tls.secretName ${show(secretName)} is not a valid secret name (dns-1123 subdomain)`,
      );
    }
    if (clusterIssuer !== undefined && issuer !== undefined) {
      check.fail(
        'ingress.tls',
        `ingress.tls sets both clusterIssuer ${show(clusterIssuer)} and issuer ${show(issuer)}; cert-manager takes one, keep one`,
      );
    }
    for (const [prop, value] of [
      ['clusterIssuer', clusterIssuer],
      ['issuer', issuer],
    ] as const) {
      if (value !== undefined && (typeof value !== 'string' || !isDns1123Subdomain(value))) {
        check.fail(`ingress.tls.${prop}`, `ingress.tls.${prop} ${show(value)} is not a valid issuer name`);
      }
    }
    tls = { secretName, ...(clusterIssuer ? { clusterIssuer } : {}), ...(issuer ? { issuer } : {}) };
  }
  return {
    hosts,
    path: routePath,
    ...(ingress.className !== undefined ? { className: ingress.className } : {}),
    ...(tls ? { tls } : {}),
    annotations: annotations as Record<string, string>,
  };
}

function resolveEnv(check: PropsChecker, env: Readonly<Record<string, string>>) {
  return Object.entries(check.record('env', env)).map(([name, value]) => {
    if (!isEnvVarName(name)) {
      check.fail(
        'env',
        `env name ${show(name)} is not a valid environment variable name; use letters, digits, '_', '-' or '.', not starting with a digit`,
      );
    }
    if (name.startsWith('MODELFAB_')) {
      check.fail(
        'env',
        `env name ${show(name)} is reserved for modelfab's own settings; choose a name without the MODELFAB_ prefix`,
      );
    }
    if (typeof value !== 'string')
      check.fail('env', `env[${show(name)}] must be a string, got ${show(value)}`);
    return { name, value };
  });
}

interface ImageSourceSpec {
  readonly image: ImageReference;
  readonly modelPath: string;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly runtime: ServingRuntime;
}

/** The image and the model it serves: from a ModelImage, or from an image reference and `model`. */
function resolveImageSource(check: PropsChecker, props: InferenceServiceProps, cwd: string): ImageSourceSpec {
  const given = props.image as unknown;
  if (isModelImageSource(given)) {
    const image = parseImageReference(given.imageRef);
    if (!image) {
      check.fail(
        'image',
        `image.imageRef ${show(given.imageRef)} is not a valid image reference; check the ModelImage's repository`,
      );
    }
    const modelPath = path.resolve(cwd, given.modelPath);
    if (props.model !== undefined) {
      const own = typeof props.model === 'string' ? path.resolve(cwd, props.model) : props.model;
      if (own !== modelPath) {
        check.fail(
          'model',
          `model ${show(props.model)} is not the ModelImage's model ${show(modelPath)}; remove model (the image's model is used)`,
        );
      }
    }
    return {
      image,
      modelPath,
      modelName: given.modelName,
      modelVersion: given.modelVersion,
      runtime: given.runtime,
    };
  }
  if (typeof given !== 'string') {
    check.fail(
      'image',
      `image must be a ModelImage or an image reference string, got ${show(given)}; e.g. new ModelImage(chart, 'image', { model, repository }) or 'ghcr.io/acme/iris:1.0.0'`,
    );
  }
  const image = parseImageReference(given);
  if (!image) {
    check.fail(
      'image',
      `image ${show(given)} is not a valid image reference; use [registry/]repository[:tag][@sha256:digest] in lower case, e.g. 'ghcr.io/acme/iris:1.0.0'`,
    );
  }
  const model = check.string(
    'model',
    props.model,
    "set model to the path of the .onnx file, e.g. 'model/iris.onnx', or pass a ModelImage as image",
  );
  const modelPath = path.resolve(cwd, model);
  return { image, modelPath, modelName: defaultModelName(modelPath), modelVersion: '1', runtime: 'modelfab' };
}

function resolveApiKey(
  check: PropsChecker,
  props: ApiKeyProps,
  runtime: ServingRuntime,
): { secretName: string; key: string } {
  check.record('apiKey', props);
  if (runtime !== 'modelfab') {
    check.fail(
      'apiKey',
      `apiKey is not supported with the ${show(runtime)} runtime, which cannot read a key file; remove apiKey and authenticate at the ingress`,
    );
  }
  if (typeof props.secretName !== 'string' || !isDns1123Subdomain(props.secretName)) {
    check.fail(
      'apiKey.secretName',
      `apiKey.secretName ${show(props.secretName)} is not a valid secret name; use a dns-1123 subdomain such as 'iris-api-key'`,
    );
  }
  const key = props.key ?? 'api-key';
  if (typeof key !== 'string' || !/^[-._a-zA-Z0-9]+$/.test(key) || key.length > 253) {
    check.fail(
      'apiKey.key',
      `apiKey.key ${show(key)} is not a valid secret key; use alphanumerics, '-', '_' or '.'`,
    );
  }
  return { secretName: props.secretName, key };
}
