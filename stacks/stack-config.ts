/**
 * The stack program's configuration: the `modelfab:*` keys of a stack (`stacks/Pulumi.<stack>.yaml`,
 * written by `pulumi config set`), checked for shape and type and turned into the ModelImage and
 * InferenceService args. Pure: it reads the keys through a {@link StackConfigSource}, so it is
 * tested without Pulumi. Values (quantities, ranges, names) are checked by the components, whose
 * messages name the prop.
 */
import * as path from 'node:path';
import type * as pulumi from '@pulumi/pulumi';
import {
  AUTOSCALED_GPU_POOL_PROPS_SHAPE,
  DEPLOYMENT_TARGET_PROPS_SHAPE,
  listProp,
  MULTI_CLOUD_DEPLOYMENT_PROPS_SHAPE,
  defaultModelName,
  INFERENCE_SERVICE_PROPS_SHAPE,
  nearestName,
  numberProp,
  objectProp,
  type ObjectShape,
  show,
  stringProp,
} from '../lib/core';
import type {
  ApiKeyProps,
  AutoscaledGpuPoolProps,
  CanaryProps,
  DeploymentTargetProps,
  MultiCloudRoutingProps,
  MultiCloudSloProps,
  AutoscalingProps,
  GateProps,
  IngressProps,
  NetworkPolicyProps,
  PolicyProps,
  ResourcesProps,
} from '../lib/core';
import type { InferenceServiceArgs } from '../lib/pulumi';
import {
  CONFIG_NAMESPACE,
  configKey,
  describe,
  removeCommand,
  type Segment,
  setCommand,
  setSomething,
  type Shape,
  word,
} from './config-syntax';
import {
  type EcrArgs,
  MODEL_IMAGE_ARGS_SHAPE,
  type ModelImageArgs,
  REGISTRY_ARGS_SHAPE,
  type RegistryArgs,
} from '../lib/pulumi/model-image-args';

export { CONFIG_NAMESPACE, configKey } from './config-syntax';

/** A target as the stack config gives it: its props, and its cluster's kubeconfig (relative to the project root) and context. */
export type MultiCloudTargetKeys = DeploymentTargetProps & {
  readonly kubeconfig?: string;
  readonly context?: string;
};

/**
 * A canary as the stack config gives it: the candidate's model file (the program builds its image,
 * as it builds the service's), its share of the requests, its gate and the Gateway.
 */
export type StackCanaryKeys = Omit<CanaryProps, 'image' | 'model'> & { readonly model: string };

/** The stack's configuration as Pulumi hands it to the program. */
export interface StackConfigSource {
  /** Every key set in the `modelfab` namespace, without the `modelfab:` prefix. */
  keys(): readonly string[];
  /**
   * The value of a key as Pulumi stores it (`config.get`): top-level values are strings, objects
   * and lists are JSON; undefined when the key is not set.
   */
  get(key: string): string | undefined;
  /** The value of a secret key, kept secret (`config.requireSecret`); only called for a key that is set. */
  requireSecret(key: string): pulumi.Input<string>;
}

/** Where relative paths in the config are resolved. */
export interface StackConfigPaths {
  /** The project root (the folder of `Pulumi.yaml`): `model`, datasets, `outdir` and `kubeconfig` are relative to it. */
  readonly projectRoot: string;
  /**
   * The program's working directory: `outdir` is passed relative to it, so the docker build
   * context is the same path on every machine.
   */
  readonly cwd: string;
}

/** What the program creates, from the config. */
export interface StackConfig {
  /** The name of both resources, and of the Kubernetes objects. */
  readonly name: string;
  readonly image: ModelImageArgs;
  /** The service's args, but for `image` (the ModelImage the program creates) and `placement`. */
  readonly service: Omit<InferenceServiceArgs, 'image'>;
  /**
   * The GPU pool the service is placed on, and the GPUs a pod asks of it, when `gpuPool` is set.
   * @default - a CPU service
   */
  readonly gpu?: { readonly pool: AutoscaledGpuPoolProps; readonly gpusPerPod: number };
  /**
   * The clusters the service runs on behind one hostname, when `targets` is set: a
   * MultiCloudDeployment, with the global SLO.
   * @default - one service on one cluster
   */
  readonly multiCloud?: {
    readonly targets: MultiCloudTargetKeys[];
    readonly routing: MultiCloudRoutingProps;
    readonly slo: MultiCloudSloProps;
  };
  /**
   * A candidate beside the service, when `canary` is set: the args of its image, `<name>-canary`
   * (the service's, with the candidate's model; pushed to the same repository, or with ECR to
   * `<repository>-canary`, since the ModelImage creates its ECR repository), and the rest of its
   * canary props.
   * @default - no canary
   */
  readonly canary?: { readonly image: ModelImageArgs; readonly props: Omit<CanaryProps, 'image' | 'model'> };
  /**
   * An explicit Kubernetes provider's settings, when `kubeconfig` or `context` is set.
   * @default - Pulumi's default Kubernetes provider (`kubernetes:*` config, $KUBECONFIG)
   */
  readonly cluster?: { readonly kubeconfig?: string; readonly context?: string };
}

/** A config key with a value of the wrong shape or type, or missing, or not known. */
export class StackConfigError extends Error {
  override readonly name = 'StackConfigError';

  constructor(
    /** Every problem, one a line, each naming its full key (`modelfab:registry.server`) and the fix. */
    readonly problems: readonly string[],
  ) {
    super(
      problems.length === 1
        ? problems[0]
        : `the stack config has ${problems.length} problems:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// The shape of every key: the components' own shapes (lib/core, lib/pulumi), plus the two keys
// only a stack has (the registry password as a secret key, the cluster to deploy to).

const SERVICE = INFERENCE_SERVICE_PROPS_SHAPE.fields;
const IMAGE = MODEL_IMAGE_ARGS_SHAPE.fields;

/** The service's canary, but its image: the program builds the candidate's from `model`, which is required. */
const CANARY_FIELDS = (SERVICE.canary as ObjectShape).fields;
const CANARY = objectProp<StackCanaryKeys>(
  {
    model: stringProp('models/iris-v2.onnx'),
    weight: CANARY_FIELDS.weight,
    gate: CANARY_FIELDS.gate,
    gateway: CANARY_FIELDS.gateway,
    hostnames: CANARY_FIELDS.hostnames,
  },
  ['model', 'weight', 'gateway'],
);

/** The registry, but its password: that is a secret key of its own. */
const REGISTRY = objectProp<Omit<RegistryArgs, 'password'>>(
  { server: REGISTRY_ARGS_SHAPE.fields.server, username: REGISTRY_ARGS_SHAPE.fields.username },
  ['server'],
);
/** Fields the stack does not read where Pulumi's args have them, and what to set instead. */
const MISPLACED: Readonly<Record<string, string>> = {
  'registry.password':
    'the password is read from the secret key modelfab:registryPassword; run: pulumi config rm --path modelfab:registry.password && pulumi config set --secret modelfab:registryPassword',
  'canary.image':
    "the program builds the candidate's image from modelfab:canary.model, pushed like the service's; run: pulumi config rm --path modelfab:canary.image",
};

/** Every key of the namespace, in the order they are documented. */
const KEYS: Readonly<Record<string, Shape>> = {
  model: IMAGE.model,
  name: IMAGE.name,
  repository: IMAGE.repository,
  registry: REGISTRY,
  registryPassword: { kind: 'secret' },
  ecr: IMAGE.ecr,
  platform: IMAGE.platform,
  runtime: IMAGE.runtime,
  triton: IMAGE.triton,
  namespace: SERVICE.namespace,
  resources: SERVICE.resources,
  replicas: SERVICE.replicas,
  autoscaling: SERVICE.autoscaling,
  gate: SERVICE.gate,
  // The service's SLO; with targets, the global one (and survive), split over the targets.
  slo: MULTI_CLOUD_DEPLOYMENT_PROPS_SHAPE.fields.slo,
  ingress: SERVICE.ingress,
  networkPolicy: SERVICE.networkPolicy,
  policy: SERVICE.policy,
  apiKey: SERVICE.apiKey,
  labels: SERVICE.labels,
  env: SERVICE.env,
  nodeType: SERVICE.nodeType,
  monitoring: SERVICE.monitoring,
  canary: CANARY,
  gpuPool: AUTOSCALED_GPU_POOL_PROPS_SHAPE,
  targets: listProp(
    objectProp<MultiCloudTargetKeys>(
      {
        ...DEPLOYMENT_TARGET_PROPS_SHAPE.fields,
        kubeconfig: stringProp('~/.kube/eks-us'),
        context: stringProp('arn:aws:eks:us-east-1:123456789012:cluster/prod'),
      },
      DEPLOYMENT_TARGET_PROPS_SHAPE.required as readonly Extract<keyof MultiCloudTargetKeys, string>[],
    ),
  ),
  routing: MULTI_CLOUD_DEPLOYMENT_PROPS_SHAPE.fields.routing,
  gpusPerPod: numberProp('1'),
  outdir: IMAGE.outdir,
  kubeconfig: stringProp('~/.kube/config'),
  context: stringProp('kind-kind'),
};

/** The keys, for messages and docs. */
export const STACK_CONFIG_KEYS: readonly string[] = Object.keys(KEYS);

// ---------------------------------------------------------------------------------------------
// Checking values against their shape.

const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * The value at `segments`, checked against `shape`; undefined (and a problem recorded) when it does
 * not fit. `pulumi config set --path` stores integers and true/false typed and everything else as
 * a string, so a number field takes a numeric string and a string field takes a number.
 */
function check(value: unknown, shape: Shape, segments: readonly Segment[], problems: string[]): unknown {
  const key = configKey(segments);
  const wrong = (): undefined => {
    problems.push(
      `${key} must be ${describe(shape)}, got ${show(value)}; set it with: ${setSomething(segments, shape)}`,
    );
    return undefined;
  };
  switch (shape.kind) {
    case 'string':
      if (typeof value === 'string') return value;
      if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean')
        return String(value);
      return wrong();
    case 'number':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      if (typeof value === 'string' && NUMBER.test(value.trim())) return Number(value);
      return wrong();
    case 'boolean':
    case 'flag-or-object':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      return shape.kind === 'flag-or-object' && isObject(value)
        ? check(value, shape.object, segments, problems)
        : wrong();
    case 'list':
      if (!Array.isArray(value)) return wrong();
      return value.map((item, i) => check(item, shape.items, [...segments, i], problems));
    case 'map':
      if (!isObject(value)) return wrong();
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, check(v, shape.values, [...segments, k], problems)]),
      );
    case 'object': {
      if (!isObject(value)) return wrong();
      const result: Record<string, unknown> = {};
      for (const [field, v] of Object.entries(value)) {
        const fieldShape = shape.fields[field];
        const misplaced = MISPLACED[[...segments, field].join('.')];
        if (misplaced !== undefined) {
          problems.push(`${configKey([...segments, field])} is not read: ${misplaced}`);
        } else if (fieldShape === undefined) {
          problems.push(
            `${configKey([...segments, field])} is not a setting of ${key}${didYouMean(field, Object.keys(shape.fields), segments)} (known: ${Object.keys(shape.fields).join(', ')}); remove it with: ${removeCommand([...segments, field])}`,
          );
        } else if (v !== null && v !== undefined) {
          result[field] = check(v, fieldShape, [...segments, field], problems);
        }
      }
      for (const field of shape.required ?? []) {
        if (value[field] === undefined || value[field] === null) {
          problems.push(
            `${configKey([...segments, field])} is required with ${key}; set it with: ${setSomething([...segments, field], shape.fields[field])}`,
          );
        }
      }
      return result;
    }
    case 'secret':
      return wrong(); // secrets are read through requireSecret, never checked as values
    case 'opaque':
      return value;
  }
}

/** `; did you mean modelfab:gate.latencyP99Ms?` when a known key is near `key`, else nothing. */
function didYouMean(key: string, known: readonly string[], parent: readonly Segment[]): string {
  const near = nearestName(key, known);
  return near === undefined ? '' : `; did you mean ${configKey([...parent, near])}?`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A top-level value as Pulumi stores it: strings as they are, everything else as JSON. */
function parseTopLevel(raw: string, shape: Shape): unknown {
  if (shape.kind === 'string') {
    // An object or list given where a string belongs is still the wrong shape.
    const parsed = tryJson(raw);
    return Array.isArray(parsed) || isObject(parsed) ? parsed : raw;
  }
  if (shape.kind === 'number' || shape.kind === 'boolean') return raw;
  if (shape.kind === 'flag-or-object' && (raw === 'true' || raw === 'false')) return raw;
  const parsed = tryJson(raw);
  return parsed === undefined ? raw : parsed;
}

function tryJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The config, read.

/** The keys' values once checked: each has the type its shape describes. */
interface CheckedValues {
  model?: string;
  name?: string;
  repository?: string;
  registry?: { server?: string; username?: string };
  ecr?: boolean | EcrArgs;
  platform?: ModelImageArgs['platform'];
  runtime?: ModelImageArgs['runtime'];
  triton?: ModelImageArgs['triton'];
  namespace?: string;
  resources?: ResourcesProps;
  replicas?: number;
  autoscaling?: AutoscalingProps;
  gate?: GateProps;
  slo?: MultiCloudSloProps;
  targets?: MultiCloudTargetKeys[];
  routing?: MultiCloudRoutingProps;
  ingress?: IngressProps;
  networkPolicy?: NetworkPolicyProps;
  policy?: PolicyProps;
  apiKey?: ApiKeyProps;
  labels?: Record<string, string>;
  env?: Record<string, string>;
  nodeType?: string;
  monitoring?: InferenceServiceArgs['monitoring'];
  canary?: StackCanaryKeys;
  gpuPool?: AutoscaledGpuPoolProps;
  gpusPerPod?: number;
  outdir?: string;
  kubeconfig?: string;
  context?: string;
}

/**
 * Reads the stack's `modelfab:*` keys into the program's args. Throws a {@link StackConfigError}
 * listing every key of the wrong shape or type, every required key that is missing and every key
 * that is not known, each with the `pulumi config` command that fixes it.
 */
export function readStackConfig(source: StackConfigSource, paths: StackConfigPaths): StackConfig {
  const problems: string[] = [];
  const set = new Set(source.keys());
  for (const key of set) {
    if (!Object.hasOwn(KEYS, key)) {
      problems.push(
        `${CONFIG_NAMESPACE}:${key} is not a modelfab setting${didYouMean(key, STACK_CONFIG_KEYS, [])} (known: ${STACK_CONFIG_KEYS.join(', ')}); remove it with: pulumi config rm ${word(`${CONFIG_NAMESPACE}:${key}`)}`,
      );
    }
  }
  const checked: Record<string, unknown> = {};
  for (const [key, shape] of Object.entries(KEYS)) {
    const raw = shape.kind === 'secret' ? undefined : source.get(key);
    if (raw !== undefined) checked[key] = check(parseTopLevel(raw, shape), shape, [key], problems);
  }
  const values = checked as CheckedValues;
  const isSet = (key: string) => source.get(key) !== undefined;

  if (!isSet('model')) {
    problems.push(
      `${configKey(['model'])} is required: the ONNX model file, relative to the project root; set it with: ${setCommand(['model'], 'examples/iris/model/iris.onnx')}`,
    );
  }
  const hasEcr = values.ecr !== undefined && values.ecr !== false;
  const hasPassword = set.has('registryPassword');
  if (hasEcr && isSet('registry')) {
    problems.push(
      `${configKey(['registry'])} and ${configKey(['ecr'])} are both set, but the image is pushed to one place; remove one with: ${removeCommand(['registry'])} or ${removeCommand(['ecr'])}`,
    );
  } else if (!hasEcr && !isSet('registry') && (values.ecr === false || !isSet('ecr'))) {
    problems.push(
      `${configKey(['registry'])} or ${configKey(['ecr'])} is required: where the image is pushed; set one with: ${setCommand(['registry', 'server'], 'localhost:5000')} or ${setCommand(['ecr'], 'true')}`,
    );
  } else if (values.registry) {
    const { server, username } = values.registry;
    if (!isSet('repository')) {
      problems.push(
        `${configKey(['repository'])} is required with ${configKey(['registry'])}: the image's repository on ${server ?? 'the registry'}; set it with: ${setCommand(['repository'], `${server ?? 'localhost:5000'}/${values.name ?? 'iris'}`)}`,
      );
    }
    if (username !== undefined && !hasPassword) {
      problems.push(
        `${configKey(['registry', 'username'])} is set but ${configKey(['registryPassword'])} is not; set the password (or token) with: ${setSomething(['registryPassword'], KEYS.registryPassword)}`,
      );
    }
    if (username === undefined && hasPassword) {
      problems.push(
        `${configKey(['registryPassword'])} is set but ${configKey(['registry', 'username'])} is not; set the user with: ${setCommand(['registry', 'username'], 'acme')}`,
      );
    }
  }
  if (isSet('targets') !== isSet('routing')) {
    problems.push(
      `${configKey(['targets'])} and ${configKey(['routing'])} go together: several clusters behind one hostname (README.md, "MultiCloudDeployment"); set ${isSet('targets') ? configKey(['routing']) : configKey(['targets'])} or remove ${isSet('targets') ? removeCommand(['targets']) : removeCommand(['routing'])}`,
    );
  }
  if (values.slo?.survive !== undefined && !isSet('targets')) {
    problems.push(
      `${configKey(['slo', 'survive'])} is the number of targets the service may lose, but the stack has no ${configKey(['targets'])}; remove it with: ${removeCommand(['slo', 'survive'])}`,
    );
  }
  if (isSet('canary') && isSet('targets')) {
    problems.push(
      `${configKey(['canary'])} splits one cluster's requests at a Gateway, but the stack has ${configKey(['targets'])}, whose clusters take a new model wave by wave; change ${configKey(['model'])} to roll it out, or remove it with: ${removeCommand(['canary'])}`,
    );
  }
  if (isSet('gpusPerPod') && !isSet('gpuPool')) {
    problems.push(
      `${configKey(['gpusPerPod'])} is set but ${configKey(['gpuPool'])} is not: GPUs come from a pool; set one (README.md, "GPU nodes") or remove it with: ${removeCommand(['gpusPerPod'])}`,
    );
  }
  if (hasEcr && hasPassword) {
    problems.push(
      `${configKey(['registryPassword'])} is only read with ${configKey(['registry'])} (ECR logs in with a token for your AWS credentials); remove it with: ${removeCommand(['registryPassword'])}`,
    );
  }
  if (problems.length > 0) throw new StackConfigError(problems);

  return build(values, hasPassword ? source.requireSecret('registryPassword') : undefined, paths);
}

/** The args from checked values. */
function build(
  values: CheckedValues,
  password: pulumi.Input<string> | undefined,
  paths: StackConfigPaths,
): StackConfig {
  const fromRoot = (file: string) => path.resolve(paths.projectRoot, file);
  const model = fromRoot(values.model as string);
  const name = values.name ?? defaultModelName(model);
  const outdir = path.relative(paths.cwd, fromRoot(values.outdir ?? 'modelfab.out')) || '.';

  const image: ModelImageArgs = {
    model,
    ...(values.repository !== undefined ? { repository: values.repository } : {}),
    ...(values.registry
      ? {
          registry: {
            server: values.registry.server as string,
            ...(values.registry.username !== undefined
              ? { username: values.registry.username, password }
              : {}),
          },
        }
      : { ecr: values.ecr }),
    ...(values.platform !== undefined ? { platform: values.platform } : {}),
    ...(values.runtime !== undefined ? { runtime: values.runtime } : {}),
    ...(values.triton !== undefined ? { triton: values.triton } : {}),
    outdir,
  };

  /** A gate with its datasets' paths from the project root. */
  const gateFromRoot = (gate: GateProps): GateProps => ({
    ...gate,
    ...(gate.accuracy ? { accuracy: { ...gate.accuracy, dataset: fromRoot(gate.accuracy.dataset) } } : {}),
    ...(gate.parity ? { parity: { ...gate.parity, dataset: fromRoot(gate.parity.dataset) } } : {}),
    ...(gate.inputDataset !== undefined ? { inputDataset: fromRoot(gate.inputDataset) } : {}),
  });
  const { gate } = values;
  const service: Omit<InferenceServiceArgs, 'image'> = {
    ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
    ...(values.resources ? { resources: values.resources } : {}),
    ...(values.replicas !== undefined ? { replicas: values.replicas } : {}),
    ...(values.autoscaling ? { autoscaling: values.autoscaling } : {}),
    ...(gate ? { gate: gateFromRoot(gate) } : {}),
    ...(values.slo && !values.targets ? { slo: values.slo } : {}),
    ...(values.ingress ? { ingress: values.ingress } : {}),
    ...(values.networkPolicy ? { networkPolicy: values.networkPolicy } : {}),
    ...(values.policy ? { policy: values.policy } : {}),
    ...(values.apiKey ? { apiKey: values.apiKey } : {}),
    ...(values.labels ? { labels: values.labels } : {}),
    ...(values.env ? { env: values.env } : {}),
    ...(values.nodeType !== undefined ? { nodeType: values.nodeType } : {}),
    ...(values.monitoring !== undefined ? { monitoring: values.monitoring } : {}),
    outdir,
  };

  const cluster =
    values.kubeconfig !== undefined || values.context !== undefined
      ? {
          ...(values.kubeconfig !== undefined ? { kubeconfig: fromRoot(values.kubeconfig) } : {}),
          ...(values.context !== undefined ? { context: values.context } : {}),
        }
      : undefined;
  const canary = values.canary
    ? (({ model: candidate, gate: candidateGate, ...props }) => ({
        image: {
          ...image,
          model: fromRoot(candidate),
          // Served under the service's model name, which its clients call (Triton bakes it in).
          name: defaultModelName(model),
          ...(values.registry ? {} : { repository: `${values.repository ?? name}-canary` }),
        },
        props: { ...props, ...(candidateGate ? { gate: gateFromRoot(candidateGate) } : {}) },
      }))(values.canary)
    : undefined;
  const gpu = values.gpuPool ? { pool: values.gpuPool, gpusPerPod: values.gpusPerPod ?? 1 } : undefined;
  const multiCloud =
    values.targets && values.routing && values.slo
      ? {
          targets: values.targets.map((target) => ({
            ...target,
            ...(target.kubeconfig !== undefined ? { kubeconfig: fromRoot(target.kubeconfig) } : {}),
          })),
          routing: values.routing,
          slo: values.slo,
        }
      : undefined;
  return {
    name,
    image,
    service,
    ...(cluster ? { cluster } : {}),
    ...(canary ? { canary } : {}),
    ...(gpu ? { gpu } : {}),
    ...(multiCloud ? { multiCloud } : {}),
  };
}
