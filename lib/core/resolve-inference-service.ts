/**
 * InferenceServiceProps → InferenceServiceSpec: defaults applied, quantities parsed, every value
 * checked. Pure: no files are read here (lib/model inspects the model file).
 */
import { type Placement, type PlacementNodeType, resolvePlacement } from './placement';
import { INSTANCE_TYPES } from './instance-catalog';
import { resolveCanary, TRACK_LABEL } from './resolve-canary';
import { show } from './errors';
import { RUNTIME_CONTRACTS, type ServingRuntime } from './model-image-source';
import {
  type ApiKeyProps,
  INFERENCE_SERVICE_PROPS_SHAPE,
  type InferenceServiceProps,
  INFERENCE_SERVICE_DEFAULTS,
} from './inference-service-props';
import { type InferenceServiceSpec } from './inference-service-spec';
import { isDns1035Label, isDns1123Label, isDns1123Subdomain, isEnvVarName, isLabelValue } from './names';
import { PropsChecker } from './props-checker';
import { resolveGate, resolveSlo } from './resolve-gate';
import { type ImageSourceSpec, resolveImageSource } from './resolve-image-source';
import { resolveMonitoring } from './resolve-monitoring';
import { resolveIngress, resolveNetworkPolicy } from './resolve-network';
import { resolveResources, resolveScaling } from './resolve-scaling';

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

/** Resolves and validates InferenceService props. Throws ModelfabValidationError on the first bad value. */
export function resolveInferenceService(
  props: InferenceServiceProps,
  context: ResolveContext,
): InferenceServiceSpec {
  const check: PropsChecker = new PropsChecker(context.constructPath);
  if (props === null || typeof props !== 'object') {
    check.fail('props', `props must be an object, got ${show(props)}`);
  }
  check.knownProps(props, INFERENCE_SERVICE_PROPS_SHAPE, 'InferenceService');
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

  const placement = props.placement === undefined ? undefined : resolvePlacement(check, props.placement);
  checkAccelerator(check, source, placement);
  const nodeType =
    props.nodeType === undefined ? undefined : resolveNodeType(check, props.nodeType, placement);
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

  const canary = props.canary === undefined ? undefined : resolveCanary(check, props, name);
  // Both tracks carry their name, so each side keeps its own labels (and dashboards and alerts).
  if (canary !== undefined) labels[TRACK_LABEL] = 'stable';

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
  const monitoring =
    props.monitoring === undefined ? undefined : resolveMonitoring(check, props.monitoring, source.runtime);
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
    ...(placement !== undefined ? { placement } : {}),
    ...(nodeType !== undefined ? { nodeType } : {}),
    ...(canary !== undefined ? { canary } : {}),
    ...(monitoring !== undefined ? { monitoring } : {}),
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

/**
 * A GPU placement only for a server that uses the GPU (Triton with `KIND_GPU`), and a Triton image
 * that runs on the GPU only with one: otherwise the pods hold GPUs they never use, or land where
 * Triton cannot load the model.
 */
function checkAccelerator(
  check: PropsChecker,
  source: ImageSourceSpec,
  placement: Placement | undefined,
): void {
  const gpuServer = source.runtime === 'triton' && source.tritonKind !== 'cpu';
  if (placement !== undefined && !gpuServer) {
    const why =
      source.runtime === 'modelfab'
        ? "the modelfab server runs onnxruntime's CPU provider only"
        : "the ModelImage's Triton config runs the model on the CPU (KIND_CPU)";
    check.fail(
      'placement',
      `placement on pool ${show(placement.pool)} asks for GPUs, but ${why}, so the pods would hold GPUs they never use; serve from a ModelImage with runtime: 'triton' and triton: { kind: 'gpu' }, or remove placement`,
    );
  }
  if (placement === undefined && source.tritonKind === 'gpu') {
    check.fail(
      'image',
      "image runs the model on the GPU (Triton KIND_GPU), but the service has no placement, so its pods land on nodes without a GPU and Triton cannot load the model; pass placement: pool.placement({ gpus }) of an AutoscaledGpuPool, or build the image with triton: { kind: 'cpu' }",
    );
  }
}

/** `nodeType`: a CPU instance type of the catalog, and not beside a placement (whose pool decides the node). */
function resolveNodeType(
  check: PropsChecker,
  value: unknown,
  placement: Placement | undefined,
): PlacementNodeType {
  const cpuTypes = Object.entries(INSTANCE_TYPES)
    .filter(([, type]) => type.gpus === 0)
    .map(([name]) => name);
  if (placement !== undefined) {
    check.fail(
      'nodeType',
      `nodeType ${show(value)} beside placement on pool ${show(placement.pool)}: the pool's instance types are where the pods run; remove nodeType`,
    );
  }
  const type = typeof value === 'string' ? INSTANCE_TYPES[value] : undefined;
  if (type === undefined || type.gpus > 0) {
    check.fail(
      'nodeType',
      `nodeType ${show(value)} is not a CPU instance type of the catalog; use one of ${cpuTypes.join(', ')}${type ? ', or place a GPU service with placement' : ''}`,
    );
  }
  return {
    instanceType: value as string,
    vcpu: type.vcpu,
    memoryMiB: type.memoryMiB,
    gpus: 0,
    gpuMemoryMiB: 0,
    maxPods: type.maxPods,
    pricePerHour: type.pricePerHour,
  };
}
