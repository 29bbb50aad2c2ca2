/**
 * One renderer, two engines: the same props through the cdk8s construct (real synth) and through
 * the Pulumi component (under mocks) give the same Kubernetes objects, field for field, once the
 * engines' own metadata is removed. Each row is a prop set users deploy.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as cdk8s from '../lib/cdk8s';
import { type AutoscaledGpuPoolProps, type InferenceServiceProps, type ModelImageProps } from '../lib/core';
import { type KubeObject } from '../lib/render';
import { GKE_POOL, GPU_POOL, GPU_SERVICE, NODE_GROUP_POOL } from './support/gpu-fixtures';
import { validateAgainstSchema } from './support/kube-schema';
import { SHARED_IRIS_GATE, sharedGateCache } from './support/shared-gate';
import { installPulumiMocks, mockDigest, runProgram } from './support/pulumi-mocks';
import * as pulumiEngine from '../lib/pulumi';
import * as pulumi from '@pulumi/pulumi';

const mocks = installPulumiMocks();
const IRIS_DIR = path.resolve(__dirname, '../examples/iris/model');
const IRIS = path.join(IRIS_DIR, 'iris.onnx');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-parity-'));
beforeAll(() => {
  // Both engines read the gate's result from one cache (the run's shared one): the same numbers,
  // and so the same tuned settings, on both sides.
  vi.stubEnv('MODELFAB_CACHE_DIR', sharedGateCache());
});
afterAll(() => {
  vi.unstubAllEnvs();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const BASE = {
  model: IRIS,
  image: 'ghcr.io/acme/iris:1.0.0',
  namespace: 'ml',
} satisfies InferenceServiceProps;
/** The run's shared Iris gate: measured once, read by both engines and by the other Pulumi files. */
const GATE = SHARED_IRIS_GATE;

/** The objects cdk8s synthesizes for one service named `name`, in a chart without a namespace. */
function synthCdk8s(name: string, props: InferenceServiceProps): KubeObject[] {
  const app = new App({ outdir: fs.mkdtempSync(path.join(scratch, 'cdk8s-')) });
  const chart = new Chart(app, 'parity');
  new cdk8s.InferenceService(chart, name, props);
  app.synth();
  return chart.toJson() as KubeObject[];
}

const KUBERNETES = /^kubernetes:/;

/** The inputs of every Kubernetes resource the Pulumi component registers, in registration order. */
async function deployPulumi(name: string, props: pulumiEngine.InferenceServiceArgs): Promise<KubeObject[]> {
  mocks.reset();
  const run = await runProgram(() => {
    new pulumiEngine.InferenceService(name, { ...props, outdir: path.join(scratch, 'pulumi') });
  });
  expect(run.errors).toEqual([]);
  return mocks.resources.filter((r) => KUBERNETES.test(r.type)).map((r) => r.inputs as KubeObject);
}

/** Engine-only metadata: nothing today (both engines keep the rendered metadata as is); kept explicit. */
function normalize(objects: readonly KubeObject[]): KubeObject[] {
  return [...objects]
    .map((o) => JSON.parse(JSON.stringify(o)) as KubeObject)
    .sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
}

const ROWS: Array<{ readonly row: string; readonly props: InferenceServiceProps; readonly kinds: number }> = [
  { row: 'defaults (HPA from the default autoscaling)', props: BASE, kinds: 6 },
  {
    row: 'autoscaling with memory target and slow scale-down',
    props: {
      ...BASE,
      autoscaling: {
        minReplicas: 3,
        maxReplicas: 12,
        cpuUtilization: 60,
        memoryUtilization: 80,
        scaleDownStabilizationSeconds: 600,
      },
    },
    kinds: 6,
  },
  { row: 'fixed replicas (no HPA)', props: { ...BASE, replicas: 2 }, kinds: 5 },
  {
    row: 'a canary: the candidate gated on its own, the split at a Gateway',
    props: {
      ...BASE,
      gate: GATE,
      slo: { targetRps: 2000 },
      canary: { image: 'ghcr.io/acme/iris:1.1.0', weight: 10, gate: GATE, gateway: { name: 'public' } },
    },
    kinds: 13,
  },
  {
    row: 'KEDA on the request rate, to zero when idle (the gate sets the threshold)',
    props: {
      ...BASE,
      gate: GATE,
      slo: { targetRps: 2000 },
      autoscaling: {
        kind: 'keda',
        prometheusAddress: 'http://prometheus-operated.monitoring.svc:9090',
        scaleToZero: true,
        maxReplicas: 20,
      },
    },
    kinds: 6,
  },
  {
    row: 'ingress with TLS from cert-manager, network peers, labels and env',
    props: {
      ...BASE,
      ingress: { hosts: ['iris.example.com'], className: 'nginx', tls: { clusterIssuer: 'letsencrypt' } },
      networkPolicy: {
        allowFrom: [{ namespaceLabels: { 'kubernetes.io/metadata.name': 'gateway' } }],
        metricsFrom: [{ namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }],
      },
      labels: { 'app.kubernetes.io/part-of': 'iris-demo' },
      env: { LOG_LEVEL: 'info' },
    },
    kinds: 7,
  },
  {
    row: 'policy waiver (untagged image on a dev cluster)',
    props: {
      ...BASE,
      image: 'ghcr.io/acme/iris',
      policy: { waive: { 'image-tag': 'dev cluster follows latest' } },
    },
    kinds: 6,
  },
  {
    row: 'API key from a Secret',
    props: { ...BASE, apiKey: { secretName: 'iris-api-key', key: 'token' } },
    kinds: 6,
  },
  {
    row: 'gate on, with SLO-sized replicas',
    props: { ...BASE, gate: GATE, slo: { targetRps: 2000 }, autoscaling: { maxReplicas: 20 } },
    kinds: 6,
  },
  {
    row: 'monitoring from the gate: ServiceMonitor, PrometheusRule and dashboard ConfigMap',
    props: {
      ...BASE,
      gate: GATE,
      slo: { targetRps: 2000 },
      autoscaling: { maxReplicas: 20 },
      monitoring: {
        prometheusLabels: { release: 'kube-prometheus-stack' },
        dashboard: { folder: 'inference' },
        runbookBaseUrl: 'https://runbooks.example.com/modelfab',
      },
    },
    kinds: 9,
  },
];

describe('cdk8s and Pulumi render the same objects', () => {
  it.each(ROWS)(
    '$row',
    async ({ props, kinds }) => {
      const fromCdk8s = synthCdk8s('iris', props);
      const fromPulumi = await deployPulumi('iris', props);
      expect(fromPulumi).toHaveLength(kinds);
      expect(normalize(fromPulumi)).toEqual(normalize(fromCdk8s));
      if (props.gate) {
        // The gate ran and its outcome is in both: the verdict annotation and the tuned batching.
        const deployment = fromPulumi.find((o) => o.kind === 'Deployment') as any;
        expect(deployment.metadata.annotations['modelfab.dev/gate']).toBe('passed');
        const env = deployment.spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
        expect(env).toContain('MODELFAB_MAX_BATCH_SIZE');
      }
      if (props.monitoring) {
        // Both engines emit the custom resources; their thresholds come from the same gate report.
        const kinds = fromPulumi.map((o) => o.kind);
        expect(kinds).toEqual(expect.arrayContaining(['ServiceMonitor', 'PrometheusRule', 'ConfigMap']));
        for (const object of fromPulumi) await validateAgainstSchema(object);
      }
    },
    120_000,
  );

  it('without a namespace, neither engine sets one (the provider or kubectl context decides)', async () => {
    const props = { model: IRIS, image: 'ghcr.io/acme/iris:1.0.0' };
    const fromPulumi = await deployPulumi('iris', props);
    expect(fromPulumi.every((o) => o.metadata.namespace === undefined)).toBe(true);
    expect(normalize(fromPulumi)).toEqual(normalize(synthCdk8s('iris', props)));
  });

  it('a ModelImage: the same objects, except that Pulumi runs the pushed digest instead of the tag', async () => {
    const imageProps: ModelImageProps = { model: IRIS, repository: 'ghcr.io/acme/iris' };
    const app = new App({ outdir: fs.mkdtempSync(path.join(scratch, 'cdk8s-image-')) });
    const chart = new Chart(app, 'parity');
    const cdk8sImage = new cdk8s.ModelImage(chart, 'image', imageProps);
    new cdk8s.InferenceService(chart, 'iris', { image: cdk8sImage, namespace: 'ml' });
    app.synth();
    const fromCdk8s = chart.toJson() as KubeObject[];

    mocks.reset();
    const outdir = path.join(scratch, 'pulumi-image');
    const run = await runProgram(() => {
      const image = new pulumiEngine.ModelImage('image', {
        ...imageProps,
        registry: { server: 'ghcr.io', username: 'acme', password: 'token' },
        outdir,
      });
      new pulumiEngine.InferenceService('iris', { image, namespace: 'ml', outdir });
    });
    expect(run.errors).toEqual([]);
    const fromPulumi = mocks.resources
      .filter((r) => KUBERNETES.test(r.type))
      .map((r) => r.inputs as KubeObject);

    const digest = mockDigest(`ghcr.io/acme/iris:${cdk8sImage.tag}`);
    const container = (objects: readonly KubeObject[]) =>
      (objects.find((o) => o.kind === 'Deployment') as any).spec.template.spec.containers[0];
    expect(container(fromCdk8s).image).toBe(`ghcr.io/acme/iris:${cdk8sImage.tag}`);
    expect(container(fromPulumi).image).toBe(digest);
    container(fromPulumi).image = container(fromCdk8s).image;
    expect(normalize(fromPulumi)).toEqual(normalize(fromCdk8s));
  });
});

describe('the same attributes in both engines', () => {
  /** What a user reads from an InferenceService in either engine (plain in cdk8s, Outputs in Pulumi). */
  const SERVICE_ATTRIBUTES = [
    'spec',
    'model',
    'name',
    'namespace',
    'url',
    'gateStatus',
    'gateReport',
    'cost',
    'objects',
  ];
  /** What a user reads from a ModelImage; Pulumi adds what only it knows after the push. */
  const IMAGE_ATTRIBUTES = [
    'spec',
    'model',
    'context',
    'batching',
    'imageRef',
    'tag',
    'contextDir',
    'modelPath',
    'runtime',
    'modelName',
    'modelVersion',
  ];

  it('InferenceService and ModelImage expose the same attribute names in cdk8s and Pulumi', async () => {
    const app = new App({ outdir: fs.mkdtempSync(path.join(scratch, 'cdk8s-')) });
    const chart = new Chart(app, 'parity');
    const cdk8sImage = new cdk8s.ModelImage(chart, 'image', { model: IRIS, repository: 'ghcr.io/acme/iris' });
    const cdk8sService = new cdk8s.InferenceService(chart, 'iris', { ...BASE, image: cdk8sImage });
    const { result } = await runProgram(() => {
      const image = new pulumiEngine.ModelImage('iris', {
        model: IRIS,
        registry: { server: 'ghcr.io' },
        repository: 'ghcr.io/acme/iris',
        outdir: path.join(scratch, 'pulumi'),
      });
      const service = new pulumiEngine.InferenceService('iris', {
        ...BASE,
        image,
        outdir: path.join(scratch, 'pulumi'),
      });
      return { image, service };
    });
    const present = (object: object, names: string[]) => names.filter((n) => n in object);
    expect(present(cdk8sService, SERVICE_ATTRIBUTES)).toEqual(SERVICE_ATTRIBUTES);
    expect(present(result!.service, SERVICE_ATTRIBUTES)).toEqual(SERVICE_ATTRIBUTES);
    expect(present(cdk8sImage, IMAGE_ATTRIBUTES)).toEqual(IMAGE_ATTRIBUTES);
    expect(present(result!.image, IMAGE_ATTRIBUTES)).toEqual(IMAGE_ATTRIBUTES);
  });
});

const POOL = GPU_POOL;
const SERVICE = GPU_SERVICE;

/** What cdk8s synthesizes for a pool `gpu` (and a service `detector` on it) in chart `prod` (namespace ml). */
function synthPool(
  pool: AutoscaledGpuPoolProps,
  service?: (p: cdk8s.AutoscaledGpuPool) => InferenceServiceProps,
): KubeObject[] {
  const app = new App({ outdir: fs.mkdtempSync(path.join(scratch, 'cdk8s-')) });
  const chart = new Chart(app, 'prod', { namespace: 'ml' });
  const gpu = new cdk8s.AutoscaledGpuPool(chart, 'gpu', pool);
  if (service) new cdk8s.InferenceService(chart, 'detector', service(gpu));
  app.synth();
  return chart.toJson() as KubeObject[];
}

describe('AutoscaledGpuPool and placement: the same objects from both engines', () => {
  const KUBERNETES = /^kubernetes:/;
  // The mocks see registrations as they settle; compared in the renderer's apply order.
  const ORDER = [
    'node-class',
    'spot-node-pool',
    'on-demand-node-pool',
    'device-plugin-config',
    'device-plugin',
    'device-plugin-network-policy',
  ].map((role) => `gpu-${role}`);

  it.each<[string, AutoscaledGpuPoolProps, Array<[string, string]>]>([
    [
      'Karpenter, spot first, time-sliced',
      { ...POOL, capacityTypes: ['spot', 'on-demand'], sharing: { timeSlicing: 2 } },
      [
        ['gpu-node-class', 'kubernetes:karpenter.k8s.aws/v1:EC2NodeClass'],
        ['gpu-spot-node-pool', 'kubernetes:karpenter.sh/v1:NodePool'],
        ['gpu-on-demand-node-pool', 'kubernetes:karpenter.sh/v1:NodePool'],
        ['gpu-device-plugin-config', 'kubernetes:core/v1:ConfigMap'],
        ['gpu-device-plugin', 'kubernetes:apps/v1:DaemonSet'],
        ['gpu-device-plugin-network-policy', 'kubernetes:networking.k8s.io/v1:NetworkPolicy'],
      ],
    ],
    ['GKE, spot first', GKE_POOL, [['gpu-compute-class', 'kubernetes:cloud.google.com/v1:ComputeClass']]],
  ])(
    '%s: registers the same objects as cdk8s, as children named <name>-<role>',
    async (_row, props, expected) => {
      mocks.reset();
      const run = await runProgram(() => new pulumiEngine.AutoscaledGpuPool('gpu', props));
      expect(run.errors).toEqual([]);
      const registered = mocks.resources
        .filter((r) => KUBERNETES.test(r.type))
        .sort((a, b) => ORDER.indexOf(a.name) - ORDER.indexOf(b.name));
      expect(registered.map((r) => [r.name, r.type])).toEqual(expected);
      const component = mocks.resources.find((r) => r.type === 'modelfab:index:AutoscaledGpuPool');
      expect(component).toBeDefined();
      // Parity: field for field, what cdk8s synthesizes.
      const objects = synthPool(props);
      expect(registered.map((r) => JSON.parse(JSON.stringify(r.inputs)))).toEqual(objects);
    },
  );

  it('refuses bad props in the constructor, before anything is registered', async () => {
    mocks.reset();
    const run = await runProgram(
      () => new pulumiEngine.AutoscaledGpuPool('gpu', { ...POOL, gpu: 'v100' as never }),
    );
    expect(run.errors.map((e) => e.message)).toEqual([
      '[gpu] gpu "v100" is not a GPU the pool knows; use one of t4, a10g, l4, l40s, a100, h100',
    ]);
    expect(mocks.resources).toEqual([]);
  });

  it.each([
    ['Karpenter', POOL, POOL],
    ['GKE', GKE_POOL, GKE_POOL],
    // cdk8s has no node group: its pods are placed as a Karpenter pool's (the same label and taint).
    ['EKS node group', NODE_GROUP_POOL, POOL],
  ])('places a Pulumi InferenceService on the %s pool as cdk8s does', async (_row, pulumiPool, cdk8sPool) => {
    mocks.reset();
    const run = await runProgram(() => {
      const pool = new pulumiEngine.AutoscaledGpuPool('gpu', pulumiPool);
      new pulumiEngine.InferenceService('detector', {
        ...SERVICE,
        namespace: 'ml',
        placement: pool.placement(),
        outdir: path.join(scratch, 'pulumi'),
      });
    });
    expect(run.errors).toEqual([]);
    const deployment = mocks.resources.find((r) => r.type === 'kubernetes:apps/v1:Deployment')!.inputs;
    const cdk8sDeployment = synthPool(cdk8sPool, (p) => ({ ...SERVICE, placement: p.placement() })).find(
      (o) => o.kind === 'Deployment',
    ) as any;
    expect(JSON.parse(JSON.stringify(deployment)).spec.template.spec).toEqual(
      cdk8sDeployment.spec.template.spec,
    );
  });
});

describe('AutoscaledGpuPool as an EKS managed node group (Pulumi only, under mocks)', () => {
  /** Each child's type, name and resource options as the component created it, in an AWS partition. */
  function deployNodeGroup(props: pulumiEngine.AutoscaledGpuPoolArgs, partition = 'aws') {
    mocks.reset();
    mocks.setAwsPartition(partition);
    const options = new Map<string, pulumi.ResourceOptions>();
    const names = new Map<pulumi.Resource, string>();
    const transformation: pulumi.ResourceTransformation = ({ name, opts, resource }) => {
      options.set(name, opts);
      names.set(resource, name);
      return undefined;
    };
    return runProgram(
      () => new pulumiEngine.AutoscaledGpuPool('gpu', props, { transformations: [transformation] }),
    ).then((run) => ({ run, options, nameOf: (r: unknown) => names.get(r as pulumi.Resource) }));
  }

  it('creates the node role, its three policies, the node group after them, the autoscaler tags and the device plugin', async () => {
    const { run, options, nameOf } = await deployNodeGroup({
      ...NODE_GROUP_POOL,
      eksNodeGroup: {
        ...NODE_GROUP_POOL.eksNodeGroup!,
        // From other resources, as in a real program: Outputs.
        clusterName: pulumi.output(Promise.resolve('prod')),
      },
    });
    expect(run.errors).toEqual([]);
    const role = mocks.ofType('aws:iam/role:Role');
    expect(role.map((r) => r.name)).toEqual(['gpu-node-role']);
    expect(JSON.parse(role[0].inputs.assumeRolePolicy).Statement[0].Principal).toEqual({
      Service: 'ec2.amazonaws.com',
    });
    const attachments = mocks.ofType('aws:iam/rolePolicyAttachment:RolePolicyAttachment');
    expect(attachments.map((a) => [a.name, a.inputs.role, a.inputs.policyArn])).toEqual([
      ['gpu-node-role-worker', 'gpu-node-role-1a2b3c', 'arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy'],
      ['gpu-node-role-cni', 'gpu-node-role-1a2b3c', 'arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy'],
      [
        'gpu-node-role-ecr',
        'gpu-node-role-1a2b3c',
        'arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
      ],
    ]);
    const [nodeGroup] = mocks.ofType('aws:eks/nodeGroup:NodeGroup');
    expect(nodeGroup.name).toBe('gpu-node-group');
    expect(nodeGroup.inputs).toMatchObject({
      clusterName: 'prod',
      nodeGroupName: 'gpu',
      nodeRoleArn: `arn:aws:iam::${'123456789012'}:role/gpu-node-role-1a2b3c`,
      subnetIds: ['subnet-0a', 'subnet-0b'],
      amiType: 'AL2023_x86_64_NVIDIA',
      capacityType: 'ON_DEMAND',
      instanceTypes: ['g5.xlarge', 'g5.2xlarge', 'g5.4xlarge', 'g5.8xlarge', 'g5.16xlarge'],
      scalingConfig: { minSize: 0, maxSize: 8, desiredSize: 0 },
      labels: { team: 'vision', 'modelfab.dev/pool': 'gpu' },
      taints: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NO_SCHEDULE' }],
      launchTemplate: { id: 'gpu-launch-template-id', version: '1' },
    });
    expect(nodeGroup.inputs.diskSize).toBeUndefined();
    const [launchTemplate] = mocks.ofType('aws:ec2/launchTemplate:LaunchTemplate');
    expect(launchTemplate).toMatchObject({
      name: 'gpu-launch-template',
      inputs: {
        blockDeviceMappings: [
          {
            deviceName: '/dev/xvda',
            ebs: { volumeSize: 200, volumeType: 'gp3', encrypted: 'true', deleteOnTermination: 'true' },
          },
        ],
        metadataOptions: { httpTokens: 'required', httpPutResponseHopLimit: 1 },
      },
    });
    // The node group waits for the role's policies, and leaves its size to the cluster autoscaler.
    const groupOptions = options.get('gpu-node-group')!;
    expect((groupOptions.dependsOn as pulumi.Resource[]).map(nameOf)).toEqual([
      'gpu-node-role-worker',
      'gpu-node-role-cni',
      'gpu-node-role-ecr',
    ]);
    expect(groupOptions.ignoreChanges).toEqual(['scalingConfig.desiredSize']);
    // The scale-from-zero tags, on the Auto Scaling group EKS made (node group tags do not reach it).
    const tags = mocks.ofType('aws:autoscaling/tag:Tag');
    expect(tags.map((t) => [t.name, t.inputs.autoscalingGroupName, t.inputs.tag])).toEqual([
      [
        'gpu-asg-gpu-tag',
        'eks-gpu-0a1b2c3d',
        {
          key: 'k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu',
          value: '1',
          propagateAtLaunch: false,
        },
      ],
      [
        'gpu-asg-label-tag-0',
        'eks-gpu-0a1b2c3d',
        {
          key: 'k8s.io/cluster-autoscaler/node-template/label/team',
          value: 'vision',
          propagateAtLaunch: false,
        },
      ],
      [
        'gpu-asg-label-tag-1',
        'eks-gpu-0a1b2c3d',
        {
          key: 'k8s.io/cluster-autoscaler/node-template/label/modelfab.dev/pool',
          value: 'gpu',
          propagateAtLaunch: false,
        },
      ],
      [
        'gpu-asg-taint-tag',
        'eks-gpu-0a1b2c3d',
        {
          key: 'k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu',
          value: 'true:NoSchedule',
          propagateAtLaunch: false,
        },
      ],
    ]);
    // Every child under the component.
    for (const name of [
      'gpu-node-role',
      'gpu-launch-template',
      'gpu-node-group',
      'gpu-asg-gpu-tag',
      'gpu-device-plugin',
    ]) {
      expect(options.get(name)!.parent).toBeDefined();
    }
    expect(
      mocks.resources
        .filter((r) => KUBERNETES.test(r.type))
        .map((r) => r.name)
        .sort(),
    ).toEqual(['gpu-device-plugin', 'gpu-device-plugin-network-policy']);
  });

  it('deploys no device plugin on Bottlerocket, which ships one', async () => {
    const { run } = await deployNodeGroup({
      ...NODE_GROUP_POOL,
      eksNodeGroup: { ...NODE_GROUP_POOL.eksNodeGroup!, amiType: 'BOTTLEROCKET_x86_64_NVIDIA' },
    });
    expect(run.errors).toEqual([]);
    expect(mocks.resources.filter((r) => KUBERNETES.test(r.type))).toEqual([]);
    expect(mocks.ofType('aws:eks/nodeGroup:NodeGroup')[0].inputs.amiType).toBe('BOTTLEROCKET_x86_64_NVIDIA');
  });

  it("takes its node role's policies from the provider's partition (GovCloud here)", async () => {
    const { run } = await deployNodeGroup(NODE_GROUP_POOL, 'aws-us-gov');
    expect(run.errors).toEqual([]);
    expect(mocks.calls.map((c) => c.token)).toContain('aws:index/getPartition:getPartition');
    expect(
      mocks.ofType('aws:iam/rolePolicyAttachment:RolePolicyAttachment').map((a) => a.inputs.policyArn),
    ).toEqual([
      'arn:aws-us-gov:iam::aws:policy/AmazonEKSWorkerNodePolicy',
      'arn:aws-us-gov:iam::aws:policy/AmazonEKS_CNI_Policy',
      'arn:aws-us-gov:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly',
    ]);
    mocks.reset();
  });
});
