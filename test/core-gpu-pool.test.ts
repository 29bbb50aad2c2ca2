/**
 * AutoscaledGpuPool's props resolved: defaults, the catalog's
 * instance types, and a bad-input table where each failure names the path, the value and the fix.
 */
import { describe, expect, it } from 'vitest';
import { PropsChecker } from '../lib/core';
import { type AutoscaledGpuPoolProps } from '../lib/core/gpu-pool-props';
import { resolveGpuPool } from '../lib/core/resolve-gpu-pool';
import { renderDevicePlugin } from '../lib/render/render-device-plugin';
import { renderEc2NodeClass, renderKarpenterNodePool } from '../lib/render/render-karpenter';
import { renderGkeComputeClass } from '../lib/render/render-gke-compute-class';
import { renderEksNodeGroup, renderEksNodeRole } from '../lib/render/render-eks-node-group';
import { chooseNode, poolPlacement } from '../lib/core/placement';
import { GKE_POOL, NODE_GROUP_POOL } from './support/gpu-fixtures';

const PROPS: AutoscaledGpuPoolProps = {
  gpu: 'a10g',
  maxGpus: 8,
  karpenter: { clusterName: 'prod', nodeRole: 'KarpenterNodeRole-prod' },
};

const resolve = (props: unknown, engine: 'cdk8s' | 'pulumi' = 'pulumi') =>
  resolveGpuPool(new PropsChecker('prod/gpu'), 'gpu', props as AutoscaledGpuPoolProps, engine);

describe('resolveGpuPool', () => {
  it('applies the defaults and prices the pool by its cheapest catalog type', async () => {
    const spec = resolve(PROPS);
    expect(spec.nodeTypes.map((t) => t.instanceType)).toEqual([
      'g5.xlarge',
      'g5.2xlarge',
      'g5.4xlarge',
      'g5.8xlarge',
      'g5.16xlarge',
    ]);
    expect(spec.nodeTypes[0].pricePerHour).toBe(1.006);
    expect(spec.nodePools).toHaveLength(1);
    expect(spec.nodePools[0]).toMatchObject({
      name: 'gpu',
      nodeClassName: 'gpu',
      gpuNames: ['a10g'],
      gpusPerNode: 1,
      capacityTypes: ['on-demand'],
      labels: { 'modelfab.dev/pool': 'gpu' },
      limits: { gpus: 8 },
      expireAfter: '720h',
      nodeClass: {
        amiAlias: 'al2023@v20241121',
        rootVolumeGiB: 200,
        discoveryTags: { 'karpenter.sh/discovery': 'prod' },
      },
    });
    expect(spec.devicePlugin).toMatchObject({
      image: 'nvcr.io/nvidia/k8s-device-plugin:v0.17.4',
      nodeSelector: { 'modelfab.dev/pool': 'gpu' },
    });
    expect(spec.warnings).toEqual([]);
    // The resolved spec renders objects that validate.
    const { NodePool } = await import('@kubernetes-models/karpenter/karpenter.sh/v1/NodePool');
    const { EC2NodeClass } = await import('@kubernetes-models/karpenter/karpenter.k8s.aws/v1/EC2NodeClass');
    new NodePool(renderKarpenterNodePool(spec.nodePools[0])).validate();
    new EC2NodeClass(renderEc2NodeClass(spec.nodePools[0])).validate();
    expect(renderDevicePlugin(spec.devicePlugin!).config).toBeUndefined();
  });

  it('takes an @latest AMI only when allowed, with a warning', () => {
    const spec = resolve({
      ...PROPS,
      karpenter: { ...PROPS.karpenter, amiAlias: 'al2023@latest', allowLatestAmi: true },
    });
    expect(spec.warnings).toEqual([
      'karpenter.amiAlias al2023@latest: every node moves to each new AMI release as it comes out',
    ]);
  });

  it.each([
    [{ gpu: 'v100' }, 'gpu "v100" is not a GPU the pool knows; use one of t4, a10g, l4, l40s, a100, h100'],
    [
      { gpusPerNode: 3 },
      'no instance type in the catalog carries 3 a10g GPUs; use a count one does (1, 4, 8)',
    ],
    [{ gpusPerNode: 0 }, 'gpusPerNode must be an integer from 1 to 8, got 0; use 1, 2, 4 or 8'],
    [
      { instanceTypes: ['g5.huge'] },
      'instanceTypes[0] "g5.huge" is not in the catalog; use one of g5.xlarge, g5.2xlarge, g5.4xlarge, g5.8xlarge, g5.16xlarge',
    ],
    [
      { instanceTypes: ['g6.xlarge'] },
      'instanceTypes[0] "g6.xlarge" carries 1 l4, not 1 a10g; use one of g5.xlarge, g5.2xlarge, g5.4xlarge, g5.8xlarge, g5.16xlarge',
    ],
    [{ capacityTypes: ['reserved'] }, `capacityTypes ["reserved"] must list 'spot', 'on-demand' or both`],
    [
      { zones: ['us east 1a'] },
      `zones[0] "us east 1a" is not a zone name; use the zone's name, such as 'us-east-1a'`,
    ],
    [
      { karpenter: undefined },
      'the pool says nowhere where its nodes come from; set karpenter: { clusterName, nodeRole } (AWS), gke: {} (GKE) or, in Pulumi, eksNodeGroup: { clusterName, subnetIds }',
    ],
    [
      { disruption: { budgets: '10%' } },
      `disruption.budgets must be a list, got "10%"; e.g. [{ nodes: '10%' }]`,
    ],
    [{ sharing: 4 }, 'sharing must be an object, got 4'],
    [{ maxGpus: -1 }, "maxGpus must be an integer from 1 to 10000, got -1; at least one node's 1"],
    [
      { disruption: { consolidateAfter: '10 minutes' } },
      `disruption.consolidateAfter "10 minutes" must be a duration such as '10m' or '720h'`,
    ],
    [
      { disruption: { consolidationPolicy: 'WhenIdle' } },
      'disruption.consolidationPolicy "WhenIdle" is not a policy; use WhenEmpty or WhenEmptyOrUnderutilized',
    ],
    [
      { disruption: { budgets: [{ nodes: 'half' }] } },
      `disruption.budgets[0].nodes "half" must be a count ('1') or a percentage ('10%')`,
    ],
    [
      { disruption: { budgets: [{ nodes: '0', schedule: '0 9 * * *' }] } },
      'disruption.budgets[0] {"nodes":"0","schedule":"0 9 * * *"} needs schedule and duration together, or neither',
    ],
    [
      { expireAfter: 'forever' },
      `expireAfter "forever" must be a duration such as '10m' or '720h', or 'Never'`,
    ],
    [{ maxCpu: '-4' }, `maxCpu "-4" must be a positive quantity such as '256'`],
    [{ maxMemory: 'lots' }, `maxMemory "lots" must be a positive quantity such as '2Ti'`],
    [
      { devicePluginImage: 'nvcr.io/nvidia/k8s-device-plugin' },
      'devicePluginImage "nvcr.io/nvidia/k8s-device-plugin" must be pinned by a version tag or a digest, such as "nvcr.io/nvidia/k8s-device-plugin:v0.17.4"',
    ],
    [
      { karpenter: { ...PROPS.karpenter, amiAlias: 'al2023@latest' } },
      'karpenter.amiAlias "al2023@latest" drifts every node to each new AMI release; pin a version such as "al2023@v20241121", or set karpenter.allowLatestAmi: true',
    ],
    [
      { karpenter: { ...PROPS.karpenter, amiAlias: 'ami-0123' } },
      'karpenter.amiAlias "ami-0123" must be family@version, such as "al2023@v20241121"',
    ],
    [
      { karpenter: { ...PROPS.karpenter, rootVolumeGiB: 20 } },
      'karpenter.rootVolumeGiB must be an integer from 50 to 16384, got 20; model images need room: at least 50',
    ],
    [
      { sharing: { timeSlicing: 1 } },
      'sharing.timeSlicing must be an integer from 2 to 64, got 1; from 2 pods a GPU',
    ],
    [
      { pricePerHour: 0 },
      'pricePerHour must be a number greater than 0, got 0; the node price in USD per hour',
    ],
    [{ maxGpu: 8 }, 'maxGpu is not a prop of AutoscaledGpuPool; did you mean maxGpus?'],
  ])('refuses %o', (bad, message) => {
    expect(() => resolve({ ...PROPS, ...bad })).toThrow(`[prod/gpu] ${message}`);
  });

  it('leaves the device plugin to Bottlerocket AMIs, which run their own', () => {
    const karpenter = { ...PROPS.karpenter, amiAlias: 'bottlerocket@v20241121' };
    expect(resolve({ ...PROPS, karpenter }).devicePlugin).toBeUndefined();
    expect(() => resolve({ ...PROPS, karpenter, sharing: { timeSlicing: 2 } })).toThrow(
      '[prod/gpu] sharing {"timeSlicing":2} does not apply to Bottlerocket nodes, which run their own device plugin; remove it, or use karpenter.amiAlias "al2023@v20241121"',
    );
  });

  it.each([
    [{ gke: {} }, 'the pool sets karpenter and gke: its nodes come from one of them; keep one'],
    [
      { karpenter: undefined, eksNodeGroup: { clusterName: 'prod', subnetIds: [] } },
      "eksNodeGroup.subnetIds [] must list the subnets nodes launch in, e.g. ['subnet-0abc']",
    ],
  ])('refuses %o', (bad, message) => {
    expect(() => resolve({ ...PROPS, ...bad })).toThrow(`[prod/gpu] ${message}`);
  });
});

describe('resolveGpuPool on GKE', () => {
  it('tries spot machines with the GPU first, then on-demand ones; selects the class; runs no device plugin', async () => {
    const spec = resolve(GKE_POOL);
    expect(spec.flavour).toBe('gke');
    expect(spec.devicePlugin).toBeUndefined();
    expect(spec.nodePools).toEqual([]);
    expect(spec.nodeSelector).toEqual({
      'cloud.google.com/compute-class': 'gpu',
      'cloud.google.com/gke-accelerator': 'nvidia-l4',
    });
    expect(spec.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'cloud.google.com/compute-class', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    // Priced by hand, so the smallest machine comes first.
    expect(spec.nodeTypes.map((t) => [t.instanceType, t.pricePerHour, t.maxPods])).toEqual([
      ['g2-standard-4', 0.71, 110],
      ['g2-standard-8', 0.71, 110],
      ['g2-standard-12', 0.71, 110],
      ['g2-standard-16', 0.71, 110],
      ['g2-standard-32', 0.71, 110],
    ]);
    const computeClass = renderGkeComputeClass(spec.computeClass!);
    const { ComputeClass } = await import('@kubernetes-models/gke/cloud.google.com/v1/ComputeClass');
    new ComputeClass(computeClass).validate();
    expect(computeClass.spec.priorities!.map((p) => [p.machineType, p.spot])).toEqual([
      ['g2-standard-4', true],
      ['g2-standard-8', true],
      ['g2-standard-12', true],
      ['g2-standard-16', true],
      ['g2-standard-32', true],
      ['g2-standard-4', false],
      ['g2-standard-8', false],
      ['g2-standard-12', false],
      ['g2-standard-16', false],
      ['g2-standard-32', false],
    ]);
    expect(computeClass.spec.priorities![0]).toEqual({
      machineType: 'g2-standard-4',
      gpu: { type: 'nvidia-l4', count: 1 },
      spot: true,
      storage: { bootDiskType: 'pd-balanced', bootDiskSize: 200 },
    });
    expect(computeClass.spec.whenUnsatisfiable).toBe('DoNotScaleUp');
  });

  it("fits pods against GKE's reserve: a g2-standard-4 keeps 3,277 MiB and 80m from its 16 GiB and 4 CPUs", () => {
    const placement = poolPlacement(new PropsChecker('prod/gpu'), resolve(GKE_POOL), {});
    expect(placement.platform).toBe('gke');
    // Memory: 16,384 MiB less 7.5% (1,229 MiB, the VM's) = 15,155; reserve 25% of 4 GiB (1,024) + 20%
    // of 4 GiB (819.2) + 10% of 8 GiB (819.2) = 2,662.4 → 2,663 MiB, + 100 MiB eviction = 2,763 MiB.
    // Allocatable 15,155 − 2,763 = 12,392 MiB. CPU: 60 + 10 + 5 + 5 = 80m of 4,000 → 3,920m.
    const fits = chooseNode(placement, { cpuMillis: 3920, memoryBytes: 12_392 * 2 ** 20 }, 1000);
    expect('node' in fits && [fits.node.name, fits.node.fit.podsPerNode, fits.node.fit.allocatable]).toEqual([
      'g2-standard-4',
      1,
      { cpuMillis: 3920, memoryBytes: 12_392 * 2 ** 20 },
    ]);
    const larger = chooseNode(placement, { cpuMillis: 3920, memoryBytes: 12_393 * 2 ** 20 }, 1000);
    expect('node' in larger && larger.node.name).toBe('g2-standard-8');
  });

  it('attaches T4s to N1 machines, as many as the pool asks a node, on shapes that may carry them', async () => {
    const shapes = (gpusPerNode: number) => {
      const spec = resolve({ ...GKE_POOL, gpu: 't4', gpusPerNode, capacityTypes: ['on-demand'] });
      return spec.nodeTypes.map((t) => [t.instanceType, t.vcpu, t.memoryMiB, t.gpus, t.gpuMemoryMiB]);
    };
    // n1-standard: 3.75 GiB a vCPU (n1-standard-4: 15 GiB = 15,360 MiB); a T4 has 16 GiB.
    expect(shapes(1)).toEqual([
      ['n1-standard-4', 4, 15_360, 1, 16_384],
      ['n1-standard-8', 8, 30_720, 1, 16_384],
      ['n1-standard-16', 16, 61_440, 1, 16_384],
    ]);
    expect(shapes(4).map(([name]) => name)).toEqual(['n1-standard-16', 'n1-standard-32', 'n1-standard-64']);
    const spec = resolve({ ...GKE_POOL, gpu: 't4', gpusPerNode: 2 });
    expect(spec.nodeSelector['cloud.google.com/gke-accelerator']).toBe('nvidia-tesla-t4');
    const computeClass = renderGkeComputeClass(spec.computeClass!);
    const { ComputeClass } = await import('@kubernetes-models/gke/cloud.google.com/v1/ComputeClass');
    new ComputeClass(computeClass).validate();
    expect(computeClass.spec.priorities![0]).toEqual({
      machineType: 'n1-standard-8',
      gpu: { type: 'nvidia-tesla-t4', count: 2 },
      spot: true,
      storage: { bootDiskType: 'pd-balanced', bootDiskSize: 200 },
    });
  });

  it.each([
    [
      { gpu: 'a10g' },
      'gpu "a10g" is not one GKE offers a pool; use one of t4, l4, a100, h100, or karpenter on AWS',
    ],
    [
      { gpu: 't4', gpusPerNode: 8 },
      'no instance type in the catalog carries 8 t4 GPUs; use a count one does (1, 2, 4)',
    ],
    [
      { gpu: 't4', instanceTypes: ['n1-standard-4'], gpusPerNode: 2 },
      'instanceTypes[0] "n1-standard-4" is not in the GKE catalog; use one of n1-standard-8, n1-standard-16, n1-standard-32',
    ],
    [
      { pricePerHour: undefined },
      'pricePerHour is required on GKE: the catalog has no GCP prices; set the node price in USD per hour from the Compute Engine price list for your region and machine types',
    ],
    [
      { maxGpus: 8 },
      "maxGpus 8 does not apply to a pool from GKE: GKE's node auto-provisioning limits are the cluster's (gcloud container clusters update --max-accelerator); remove it",
    ],
    [
      { zones: ['europe-west4-a'] },
      `zones ["europe-west4-a"] does not apply to a pool from GKE: an EKS node group launches in its subnets' zones and a ComputeClass in the cluster's; choose them there; remove it`,
    ],
    [
      { sharing: { timeSlicing: 2 } },
      `sharing {"timeSlicing":2} does not apply to a pool from GKE: GKE's GPU time-sharing is set on its node pools, not through a ComputeClass; remove it`,
    ],
    [
      { instanceTypes: ['g5.xlarge'] },
      'instanceTypes[0] "g5.xlarge" is not in the GKE catalog; use one of g2-standard-4, g2-standard-8, g2-standard-12, g2-standard-16, g2-standard-32',
    ],
    [
      { gke: { bootDiskGiB: 10 } },
      'gke.bootDiskGiB must be an integer from 50 to 65536, got 10; model images need room: at least 50',
    ],
  ])('refuses %o', (bad, message) => {
    expect(() => resolve({ ...GKE_POOL, ...bad })).toThrow(`[prod/gpu] ${message}`);
  });
});

describe('resolveGpuPool as an EKS managed node group', () => {
  it('sizes the group from maxGpus, labels and taints its nodes, and tags its Auto Scaling group for scale-from-zero', () => {
    const spec = resolve(NODE_GROUP_POOL);
    expect(spec.flavour).toBe('eks-node-group');
    expect(spec.nodeGroup).toMatchObject({
      name: 'gpu',
      clusterName: 'prod',
      amiType: 'AL2023_x86_64_NVIDIA',
      capacityType: 'on-demand',
      minSize: 0,
      maxSize: 8,
      instanceTypes: ['g5.xlarge', 'g5.2xlarge', 'g5.4xlarge', 'g5.8xlarge', 'g5.16xlarge'],
    });
    expect(spec.devicePlugin?.nodeSelector).toEqual({ 'modelfab.dev/pool': 'gpu' });
    expect(spec.nodeSelector).toEqual({ 'modelfab.dev/pool': 'gpu' });
    const plan = renderEksNodeGroup(spec.nodeGroup!);
    expect(plan.nodeGroup).toMatchObject({
      capacityType: 'ON_DEMAND',
      scalingConfig: { minSize: 0, maxSize: 8, desiredSize: 0 },
      labels: { team: 'vision', 'modelfab.dev/pool': 'gpu' },
      taints: [{ key: 'nvidia.com/gpu', value: 'true', effect: 'NO_SCHEDULE' }],
    });
    // The disk (on the launch template: a group with one takes no disk size of its own).
    expect(plan.nodeGroup).not.toHaveProperty('diskSize');
    expect(plan.launchTemplate).toEqual({
      blockDeviceMappings: [
        {
          deviceName: '/dev/xvda',
          ebs: { volumeSize: 200, volumeType: 'gp3', encrypted: 'true', deleteOnTermination: 'true' },
        },
      ],
      metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1 },
    });
    expect(plan.autoscalerTags).toEqual([
      {
        role: 'asg-gpu-tag',
        key: 'k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu',
        value: '1',
      },
      { role: 'asg-label-tag-0', key: 'k8s.io/cluster-autoscaler/node-template/label/team', value: 'vision' },
      {
        role: 'asg-label-tag-1',
        key: 'k8s.io/cluster-autoscaler/node-template/label/modelfab.dev/pool',
        value: 'gpu',
      },
      {
        role: 'asg-taint-tag',
        key: 'k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu',
        value: 'true:NoSchedule',
      },
    ]);
  });

  it.each([
    ['aws', 'ec2.amazonaws.com'],
    ['aws-us-gov', 'ec2.amazonaws.com'],
    ['aws-cn', 'ec2.amazonaws.com.cn'],
  ])(
    "gives its node role the managed policies of partition '%s', assumable by %s",
    (partition, principal) => {
      const role = renderEksNodeRole(partition);
      expect(JSON.parse(role.assumeRolePolicy)).toEqual({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: principal }, Action: 'sts:AssumeRole' }],
      });
      expect(role.policyArns).toEqual({
        worker: `arn:${partition}:iam::aws:policy/AmazonEKSWorkerNodePolicy`,
        cni: `arn:${partition}:iam::aws:policy/AmazonEKS_CNI_Policy`,
        ecr: `arn:${partition}:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly`,
      });
    },
  );

  it('leaves the device plugin to Bottlerocket, which ships it, and sizes its data volume', () => {
    const spec = resolve({
      ...NODE_GROUP_POOL,
      eksNodeGroup: { ...NODE_GROUP_POOL.eksNodeGroup!, amiType: 'BOTTLEROCKET_x86_64_NVIDIA' },
    });
    expect(spec.devicePlugin).toBeUndefined();
    // Bottlerocket pulls images to its data volume; its root volume holds the OS.
    expect(renderEksNodeGroup(spec.nodeGroup!).launchTemplate.blockDeviceMappings).toEqual([
      {
        deviceName: '/dev/xvdb',
        ebs: { volumeSize: 200, volumeType: 'gp3', encrypted: 'true', deleteOnTermination: 'true' },
      },
    ]);
  });

  it.each([
    [
      { capacityTypes: ['spot', 'on-demand'] },
      `capacityTypes ["spot","on-demand"]: an EKS node group buys one capacity type; use ['spot'] or ['on-demand'], or karpenter for spot with an on-demand fallback`,
    ],
    [
      { eksNodeGroup: { clusterName: 'prod', subnetIds: ['subnet-0a'], amiType: 'AL2_x86_64_GPU' } },
      'eksNodeGroup.amiType "AL2_x86_64_GPU" is not a GPU AMI type; use AL2023_x86_64_NVIDIA or BOTTLEROCKET_x86_64_NVIDIA',
    ],
    [
      { eksNodeGroup: { clusterName: 'prod', subnetIds: ['subnet-0a'], minNodes: 9 } },
      'eksNodeGroup.minNodes must be an integer from 0 to 8, got 9; from 0 to the 8 nodes maxGpus allows',
    ],
    [
      { maxGpus: undefined },
      "maxGpus must be an integer from 1 to 10000, got undefined; at least one node's 1",
    ],
    [
      { disruption: { consolidateAfter: '5m' } },
      `disruption {"consolidateAfter":"5m"} does not apply to a pool from an EKS node group: the cluster autoscaler or GKE removes empty nodes on its own settings; remove it`,
    ],
    [
      {
        eksNodeGroup: {
          clusterName: 'prod',
          subnetIds: ['subnet-0a'],
          amiType: 'BOTTLEROCKET_x86_64_NVIDIA',
        },
        sharing: { timeSlicing: 2 },
      },
      'sharing {"timeSlicing":2} does not apply to Bottlerocket nodes, which run their own device plugin; remove it, or use eksNodeGroup.amiType "AL2023_x86_64_NVIDIA"',
    ],
  ])('refuses %o', (bad, message) => {
    expect(() => resolve({ ...NODE_GROUP_POOL, ...bad })).toThrow(`[prod/gpu] ${message}`);
  });

  it("is refused in cdk8s, naming Karpenter as the way ('eks-node-group' is Pulumi only)", () => {
    expect(() => resolve(NODE_GROUP_POOL, 'cdk8s')).toThrow(
      `[prod/gpu] eksNodeGroup {"clusterName":"prod","subnetIds":["subnet-0a","subnet-0b"]} is an AWS resource, not a Kubernetes object, so cdk8s cannot create it ('eks-node-group' is Pulumi only); use karpenter: { clusterName, nodeRole } for GPU nodes that scale, or build the pool with modelfab's Pulumi component`,
    );
  });
});
