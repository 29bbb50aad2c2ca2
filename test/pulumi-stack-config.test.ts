/**
 * The stack program's config (stacks/stack-config.ts), without Pulumi: the keys as Pulumi hands
 * them to a program (top-level values as strings, objects as JSON), turned into the components'
 * args; and every config error, whose message names the full key and the command that fixes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  configKey,
  readStackConfig,
  STACK_CONFIG_KEYS,
  StackConfigError,
  type StackConfigSource,
} from '../stacks/stack-config';

const ROOT = path.resolve(__dirname, '..');
const PATHS = { projectRoot: ROOT, cwd: path.join(ROOT, 'stacks') };

/** A stack's config as the Pulumi runtime presents it: strings as they are, everything else as JSON. */
function source(config: Record<string, unknown>): StackConfigSource & { secretsRead: string[] } {
  const raw = Object.fromEntries(
    Object.entries(config).map(([key, value]) => [
      key,
      typeof value === 'string' ? value : JSON.stringify(value),
    ]),
  );
  const secretsRead: string[] = [];
  return {
    secretsRead,
    keys: () => Object.keys(raw),
    get: (key) => raw[key],
    requireSecret: (key) => {
      secretsRead.push(key);
      return raw[key];
    },
  };
}

/** stacks/Pulumi.dev.yaml's `modelfab:*` keys, without the prefix. */
function devStack(): Record<string, unknown> {
  const file = parse(fs.readFileSync(path.join(ROOT, 'stacks/Pulumi.dev.yaml'), 'utf8')) as {
    config: Record<string, unknown>;
  };
  return Object.fromEntries(
    Object.entries(file.config).map(([key, value]) => [key.replace(/^modelfab:/, ''), value]),
  );
}

const MINIMAL = { model: 'examples/iris/model/iris.onnx', ecr: 'true' };

/** The problems reading `config` reports (and that it reports them as a StackConfigError). */
function problems(config: Record<string, unknown>): readonly string[] {
  try {
    readStackConfig(source(config), PATHS);
  } catch (error) {
    expect(error).toBeInstanceOf(StackConfigError);
    return (error as StackConfigError).problems;
  }
  throw new Error('expected a StackConfigError');
}

/** The one problem reading `config` reports. */
function problem(config: Record<string, unknown>): string {
  const found = problems(config);
  expect(found).toHaveLength(1);
  return found[0];
}

describe('readStackConfig', () => {
  it("reads the dev stack into the components' args, paths from the project root", () => {
    const stack = readStackConfig(source(devStack()), PATHS);
    const eval_ = path.join(ROOT, 'examples/iris/model/eval.jsonl');
    expect(stack).toEqual({
      name: 'iris',
      image: {
        model: path.join(ROOT, 'examples/iris/model/iris.onnx'),
        repository: 'localhost:5000/iris',
        registry: { server: 'localhost:5000' },
        // Relative to the program's working directory (stacks/): the same build context path on every machine.
        outdir: '../modelfab.out',
      },
      service: {
        namespace: 'ml',
        resources: { cpu: '1', memory: '512Mi' },
        autoscaling: { minReplicas: 1, maxReplicas: 3, cpuUtilization: 70 },
        gate: {
          latencyP99Ms: 20,
          minThroughputRps: 300,
          accuracy: { dataset: eval_, metric: 'top1', min: 0.9 },
          parity: {
            dataset: path.join(ROOT, 'examples/iris/model/expected.jsonl'),
            atol: 0.00001,
            rtol: 0.0001,
          },
          maxColdStartMs: 2000,
          budgetSeconds: 10,
        },
        outdir: '../modelfab.out',
      },
    });
  });

  it('takes values as `pulumi config set` stores them: top-level strings, floats as strings under --path', () => {
    const stack = readStackConfig(
      source({
        ...MINIMAL,
        replicas: '3', // top-level values are always strings
        resources: { cpu: 2, memory: '1Gi' }, // --path stores an integer as a number
        gate: { latencyP99Ms: 25, accuracy: { dataset: 'examples/iris/model/eval.jsonl', min: '0.9' } },
        slo: { targetRps: '1500', targetUtilization: '0.6' },
        labels: { 'app.kubernetes.io/part-of': 'iris-demo', tier: 1 },
        ingress: { hosts: ['iris.example.com'], tls: { clusterIssuer: 'letsencrypt' } },
        policy: { waive: { 'topology-spread': 'single-node dev cluster' } },
        platform: 'linux/arm64',
        name: 'iris-prod',
        outdir: '/var/tmp/modelfab',
      }),
      PATHS,
    );
    expect(stack.name).toBe('iris-prod');
    expect(stack.image).toEqual({
      model: path.join(ROOT, 'examples/iris/model/iris.onnx'),
      ecr: true,
      platform: 'linux/arm64',
      outdir: path.relative(PATHS.cwd, '/var/tmp/modelfab'),
    });
    expect(stack.service).toMatchObject({
      replicas: 3,
      resources: { cpu: '2', memory: '1Gi' },
      gate: {
        latencyP99Ms: 25,
        accuracy: { dataset: path.join(ROOT, 'examples/iris/model/eval.jsonl'), min: 0.9 },
      },
      slo: { targetRps: 1500, targetUtilization: 0.6 },
      labels: { 'app.kubernetes.io/part-of': 'iris-demo', tier: '1' },
      ingress: { hosts: ['iris.example.com'], tls: { clusterIssuer: 'letsencrypt' } },
      policy: { waive: { 'topology-spread': 'single-node dev cluster' } },
    });
  });

  it("a canary: the candidate's image is the service's with its model, served under the service's model name", () => {
    const canary = {
      model: 'models/iris-v2.onnx',
      weight: '10',
      gateway: { name: 'public', namespace: 'gateway' },
      gate: { latencyP99Ms: 25, accuracy: { dataset: 'examples/iris/model/eval.jsonl', min: 0.9 } },
    };
    const onRegistry = readStackConfig(source({ ...devStack(), canary }), PATHS);
    expect(onRegistry.canary).toEqual({
      image: {
        ...onRegistry.image,
        model: path.join(ROOT, 'models/iris-v2.onnx'),
        name: 'iris', // what the service's clients call, not iris-v2
      },
      props: {
        weight: 10,
        gateway: { name: 'public', namespace: 'gateway' },
        gate: {
          latencyP99Ms: 25,
          accuracy: { dataset: path.join(ROOT, 'examples/iris/model/eval.jsonl'), min: 0.9 },
        },
      },
    });
    // The registry's repository takes both images; ECR's is created by its ModelImage, so the
    // candidate gets its own.
    expect(onRegistry.canary!.image.repository).toBe('localhost:5000/iris');
    const onEcr = readStackConfig(source({ ...MINIMAL, repository: 'acme/iris', canary }), PATHS);
    expect(onEcr.canary!.image).toMatchObject({ ecr: true, repository: 'acme/iris-canary' });
    expect(readStackConfig(source({ ...MINIMAL, canary }), PATHS).canary!.image.repository).toBe(
      'iris-canary',
    );
  });

  it('ECR: true or its options, and the repository name is optional', () => {
    expect(readStackConfig(source(MINIMAL), PATHS).image.ecr).toBe(true);
    const stack = readStackConfig(
      source({ ...MINIMAL, ecr: { keepImages: 10, forceDelete: true }, repository: 'acme/iris' }),
      PATHS,
    );
    expect(stack.image).toMatchObject({
      ecr: { keepImages: 10, forceDelete: true },
      repository: 'acme/iris',
    });
    expect(stack.image.registry).toBeUndefined();
  });

  it('a registry login: the user from modelfab:registry, the password only from the secret key', () => {
    const config = source({
      model: 'examples/iris/model/iris.onnx',
      repository: 'ghcr.io/acme/iris',
      registry: { server: 'ghcr.io', username: 'acme' },
      registryPassword: 'ghp_token',
    });
    const stack = readStackConfig(config, PATHS);
    expect(stack.image.registry).toEqual({ server: 'ghcr.io', username: 'acme', password: 'ghp_token' });
    expect(config.secretsRead).toEqual(['registryPassword']);
  });

  it('an explicit cluster from kubeconfig (from the project root) and context', () => {
    expect(readStackConfig(source(MINIMAL), PATHS).cluster).toBeUndefined();
    expect(
      readStackConfig(source({ ...MINIMAL, kubeconfig: 'clusters/dev.yaml', context: 'kind-kind' }), PATHS)
        .cluster,
    ).toEqual({
      kubeconfig: path.join(ROOT, 'clusters/dev.yaml'),
      context: 'kind-kind',
    });
    expect(readStackConfig(source({ ...MINIMAL, context: 'kind-kind' }), PATHS).cluster).toEqual({
      context: 'kind-kind',
    });
  });

  it('the name defaults to the model file name as a DNS label', () => {
    const stack = readStackConfig(source({ ...MINIMAL, model: 'models/Fraud_Detector.v2.onnx' }), PATHS);
    expect(stack.name).toBe('fraud-detector-v2');
  });
});

describe('config errors name the full key and the command that fixes it', () => {
  it('a missing model', () => {
    expect(problem({ ecr: 'true' })).toBe(
      'modelfab:model is required: the ONNX model file, relative to the project root; set it with: pulumi config set modelfab:model examples/iris/model/iris.onnx',
    );
  });

  it('neither a registry nor ECR', () => {
    expect(problem({ model: 'm.onnx' })).toBe(
      'modelfab:registry or modelfab:ecr is required: where the image is pushed; set one with: pulumi config set --path modelfab:registry.server localhost:5000 or pulumi config set modelfab:ecr true',
    );
    // ecr: false is no push target either
    expect(problem({ model: 'm.onnx', ecr: 'false' })).toMatch(
      /^modelfab:registry or modelfab:ecr is required/,
    );
  });

  it('both a registry and ECR', () => {
    expect(problem({ ...MINIMAL, registry: { server: 'ghcr.io' }, repository: 'ghcr.io/acme/iris' })).toBe(
      'modelfab:registry and modelfab:ecr are both set, but the image is pushed to one place; remove one with: pulumi config rm modelfab:registry or pulumi config rm modelfab:ecr',
    );
  });

  it('a registry without a repository', () => {
    expect(problem({ model: 'm.onnx', registry: { server: 'ghcr.io' } })).toBe(
      "modelfab:repository is required with modelfab:registry: the image's repository on ghcr.io; set it with: pulumi config set modelfab:repository ghcr.io/iris",
    );
  });

  it('a registry without a server, or not an object', () => {
    expect(
      problem({
        model: 'm.onnx',
        repository: 'ghcr.io/acme/iris',
        registry: { username: 'acme' },
        registryPassword: 'x',
      }),
    ).toBe(
      'modelfab:registry.server is required with modelfab:registry; set it with: pulumi config set --path modelfab:registry.server localhost:5000',
    );
    expect(problem({ model: 'm.onnx', repository: 'localhost:5000/iris', registry: 'localhost:5000' })).toBe(
      'modelfab:registry must be an object with server, username, got "localhost:5000"; set it with: pulumi config set --path modelfab:registry.server localhost:5000',
    );
  });

  it('a password without a user, a user without a password, a password with ECR, a password in the object', () => {
    const registry = { model: 'm.onnx', repository: 'ghcr.io/acme/iris' };
    expect(problem({ ...registry, registry: { server: 'ghcr.io' }, registryPassword: 'x' })).toBe(
      'modelfab:registryPassword is set but modelfab:registry.username is not; set the user with: pulumi config set --path modelfab:registry.username acme',
    );
    expect(problem({ ...registry, registry: { server: 'ghcr.io', username: 'acme' } })).toBe(
      'modelfab:registry.username is set but modelfab:registryPassword is not; set the password (or token) with: pulumi config set --secret modelfab:registryPassword',
    );
    expect(problem({ ...MINIMAL, registryPassword: 'x' })).toBe(
      'modelfab:registryPassword is only read with modelfab:registry (ECR logs in with a token for your AWS credentials); remove it with: pulumi config rm modelfab:registryPassword',
    );
    expect(problem({ ...registry, registry: { server: 'ghcr.io', password: 'x' } })).toBe(
      'modelfab:registry.password is not read: the password is read from the secret key modelfab:registryPassword; run: pulumi config rm --path modelfab:registry.password && pulumi config set --secret modelfab:registryPassword',
    );
  });

  it('values of the wrong type', () => {
    expect(problem({ ...MINIMAL, gate: { latencyP99Ms: 'fast' } })).toBe(
      'modelfab:gate.latencyP99Ms must be a number, got "fast"; set it with: pulumi config set --path modelfab:gate.latencyP99Ms 20',
    );
    expect(problem({ ...MINIMAL, replicas: 'two' })).toBe(
      'modelfab:replicas must be a number, got "two"; set it with: pulumi config set modelfab:replicas 2',
    );
    expect(problem({ ...MINIMAL, gate: 'latencyP99Ms=20' })).toBe(
      'modelfab:gate must be an object with latencyP50Ms, latencyP95Ms, latencyP99Ms, minThroughputRps, accuracy, parity, maxMemoryMb, maxColdStartMs, maxModelSizeMb, inputShapes, inputValues, inputDataset, requestEncoding, budgetSeconds, maxBatchSize, seed, got "latencyP99Ms=20"; set it with: pulumi config set --path modelfab:gate.latencyP50Ms 10',
    );
    expect(problem({ ...MINIMAL, gate: { accuracy: 0.9 } })).toBe(
      'modelfab:gate.accuracy must be an object with dataset, metric, k, output, min, max, got 0.9; set it with: pulumi config set --path modelfab:gate.accuracy.dataset examples/iris/model/eval.jsonl',
    );
    expect(problem({ ...MINIMAL, ingress: { hosts: 'iris.example.com' } })).toBe(
      'modelfab:ingress.hosts must be a list, got "iris.example.com"; set it with: pulumi config set --path \'modelfab:ingress.hosts[0]\' iris.example.com',
    );
    expect(problem({ ...MINIMAL, ingress: { hosts: ['a.example.com', { host: 'b' }] } })).toBe(
      'modelfab:ingress.hosts[1] must be a string, got {"host":"b"}; set it with: pulumi config set --path \'modelfab:ingress.hosts[1]\' iris.example.com',
    );
    expect(problem({ ...MINIMAL, labels: { 'app.kubernetes.io/part-of': ['iris'] } })).toBe(
      'modelfab:labels["app.kubernetes.io/part-of"] must be a string, got ["iris"]; set it with: pulumi config set --path \'modelfab:labels["app.kubernetes.io/part-of"]\' iris-demo',
    );
    expect(problem({ model: 'm.onnx', ecr: 'yes' })).toBe(
      'modelfab:ecr must be true, false or an object with keepImages, forceDelete, got "yes"; set it with: pulumi config set modelfab:ecr true',
    );
    expect(problem({ ...MINIMAL, ecr: { forceDelete: 'sometimes' } })).toBe(
      'modelfab:ecr.forceDelete must be a boolean, got "sometimes"; set it with: pulumi config set --path modelfab:ecr.forceDelete true',
    );
    expect(problem({ ...MINIMAL, model: { path: 'm.onnx' } })).toBe(
      'modelfab:model must be a string, got {"path":"m.onnx"}; set it with: pulumi config set modelfab:model examples/iris/model/iris.onnx',
    );
    expect(problem({ ...MINIMAL, gate: { inputShapes: { input: [1, 'four'] } } })).toBe(
      'modelfab:gate.inputShapes.input[1] must be a number, got "four"; set it with: pulumi config set --path \'modelfab:gate.inputShapes.input[1]\' 1',
    );
  });

  it('required fields of an object', () => {
    expect(problem({ ...MINIMAL, gate: { accuracy: { min: 0.9 } } })).toBe(
      'modelfab:gate.accuracy.dataset is required with modelfab:gate.accuracy; set it with: pulumi config set --path modelfab:gate.accuracy.dataset examples/iris/model/eval.jsonl',
    );
    expect(problem({ ...MINIMAL, slo: { targetUtilization: 0.7 } })).toBe(
      'modelfab:slo.targetRps is required with modelfab:slo; set it with: pulumi config set --path modelfab:slo.targetRps 2000',
    );
    expect(problem({ ...MINIMAL, apiKey: {} })).toBe(
      'modelfab:apiKey.secretName is required with modelfab:apiKey; set it with: pulumi config set --path modelfab:apiKey.secretName iris-api-key',
    );
  });

  it('a canary without its model, with an image, or beside targets', () => {
    const gateway = { name: 'public' };
    expect(problem({ ...MINIMAL, canary: { weight: 10, gateway } })).toBe(
      'modelfab:canary.model is required with modelfab:canary; set it with: pulumi config set --path modelfab:canary.model models/iris-v2.onnx',
    );
    expect(
      problem({ ...MINIMAL, canary: { model: 'm.onnx', image: 'ghcr.io/acme/iris:2', weight: 10, gateway } }),
    ).toBe(
      "modelfab:canary.image is not read: the program builds the candidate's image from modelfab:canary.model, pushed like the service's; run: pulumi config rm --path modelfab:canary.image",
    );
    const multiCloud = parse(fs.readFileSync(path.join(ROOT, 'stacks/Pulumi.multicloud.yaml'), 'utf8')) as {
      config: Record<string, unknown>;
    };
    const config = Object.fromEntries(
      Object.entries(multiCloud.config).map(([key, value]) => [key.replace(/^modelfab:/, ''), value]),
    );
    expect(problem({ ...config, canary: { model: 'm.onnx', weight: 10, gateway } })).toBe(
      "modelfab:canary splits one cluster's requests at a Gateway, but the stack has modelfab:targets, whose clusters take a new model wave by wave; change modelfab:model to roll it out, or remove it with: pulumi config rm modelfab:canary",
    );
  });

  it('keys that are not settings: a typo at the top level or in an object, naming the nearest key', () => {
    expect(problem({ ...MINIMAL, namepsace: 'ml' })).toBe(
      `modelfab:namepsace is not a modelfab setting; did you mean modelfab:namespace? (known: ${STACK_CONFIG_KEYS.join(', ')}); remove it with: pulumi config rm modelfab:namepsace`,
    );
    expect(problem({ ...MINIMAL, autoscalling: { maxReplicas: 4 } })).toMatch(
      /^modelfab:autoscalling is not a modelfab setting; did you mean modelfab:autoscaling\? /,
    );
    expect(problem({ ...MINIMAL, telemetry: true })).toMatch(
      /^modelfab:telemetry is not a modelfab setting \(known: /,
    );
    expect(problem({ ...MINIMAL, gate: { latencyP99: 20 } })).toBe(
      'modelfab:gate.latencyP99 is not a setting of modelfab:gate; did you mean modelfab:gate.latencyP99Ms? (known: latencyP50Ms, latencyP95Ms, latencyP99Ms, minThroughputRps, accuracy, parity, maxMemoryMb, maxColdStartMs, maxModelSizeMb, inputShapes, inputValues, inputDataset, requestEncoding, budgetSeconds, maxBatchSize, seed); remove it with: pulumi config rm --path modelfab:gate.latencyP99',
    );
  });

  it('every problem at once, one a line', () => {
    let error: unknown;
    try {
      readStackConfig(source({ gate: { latencyP99Ms: 'fast' }, replicas: 'x' }), PATHS);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StackConfigError);
    const { message, problems: found } = error as StackConfigError;
    expect(found).toHaveLength(4);
    expect(message.split('\n')).toEqual(['the stack config has 4 problems:', ...found.map((p) => `  ${p}`)]);
    expect(found.map((p) => p.split(' ')[0])).toEqual([
      'modelfab:replicas',
      'modelfab:gate.latencyP99Ms',
      'modelfab:model',
      'modelfab:registry',
    ]);
  });

  it("keys are written in Pulumi's path syntax", () => {
    expect(configKey(['gate', 'accuracy', 'min'])).toBe('modelfab:gate.accuracy.min');
    expect(configKey(['ingress', 'hosts', 0])).toBe('modelfab:ingress.hosts[0]');
    expect(configKey(['policy', 'waive', 'topology-spread'])).toBe(
      'modelfab:policy.waive["topology-spread"]',
    );
  });
});
