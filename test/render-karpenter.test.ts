/**
 * Karpenter's NodePool and EC2NodeClass for a GPU pool, validated against the schemas that
 * `@kubernetes-models/karpenter` generates from Karpenter's own CRDs.
 */
import { describe, expect, it } from 'vitest';
import { GPU_TAINT } from '../lib/core/gpu';
import {
  type KarpenterPoolSpec,
  renderEc2NodeClass,
  renderKarpenterNodePool,
} from '../lib/render/render-karpenter';

const SPEC: KarpenterPoolSpec = {
  name: 'gpu-a10g',
  nodeClassName: 'gpu-a10g',
  gpuNames: ['a10g'],
  gpusPerNode: 1,
  instanceTypes: [],
  capacityTypes: ['on-demand'],
  zones: ['us-east-1a', 'us-east-1b'],
  labels: { 'modelfab.dev/pool': 'gpu-a10g' },
  limits: { gpus: 8 },
  disruption: {
    consolidationPolicy: 'WhenEmpty',
    consolidateAfter: '10m',
    budgets: [{ nodes: '10%' }],
  },
  expireAfter: '720h',
  nodeClass: {
    amiAlias: 'al2023@v20241121',
    role: 'KarpenterNodeRole-prod',
    discoveryTags: { 'karpenter.sh/discovery': 'prod' },
    rootVolumeGiB: 200,
  },
};

async function validate(object: object): Promise<void> {
  const kind = (object as { kind: string }).kind;
  const Model =
    kind === 'NodePool'
      ? (await import('@kubernetes-models/karpenter/karpenter.sh/v1/NodePool')).NodePool
      : (await import('@kubernetes-models/karpenter/karpenter.k8s.aws/v1/EC2NodeClass')).EC2NodeClass;
  new Model(object as never).validate();
}

describe('renderKarpenterNodePool', () => {
  it('asks for nodes with the GPUs, taints them for GPU pods, caps the GPUs and validates', async () => {
    const pool = renderKarpenterNodePool(SPEC);
    await validate(pool);
    expect(pool.spec.template.spec.requirements).toEqual([
      { key: 'karpenter.k8s.aws/instance-gpu-name', operator: 'In', values: ['a10g'] },
      { key: 'karpenter.k8s.aws/instance-gpu-count', operator: 'In', values: ['1'] },
      { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['on-demand'] },
      { key: 'kubernetes.io/arch', operator: 'In', values: ['amd64'] },
      { key: 'topology.kubernetes.io/zone', operator: 'In', values: ['us-east-1a', 'us-east-1b'] },
    ]);
    expect(pool.spec.template.spec.taints).toEqual([GPU_TAINT]);
    expect(pool.spec.template.spec.nodeClassRef).toEqual({
      group: 'karpenter.k8s.aws',
      kind: 'EC2NodeClass',
      name: 'gpu-a10g',
    });
    expect(pool.spec.limits).toEqual({ 'nvidia.com/gpu': '8' });
    expect(pool.spec.disruption).toEqual({
      consolidationPolicy: 'WhenEmpty',
      consolidateAfter: '10m',
      budgets: [{ nodes: '10%' }],
    });
    expect(pool.spec.weight).toBeUndefined();
  });

  it('names instance types when given, and weighs a pool among others', async () => {
    const pool = renderKarpenterNodePool({
      ...SPEC,
      instanceTypes: ['g5.xlarge', 'g5.2xlarge'],
      capacityTypes: ['spot'],
      zones: [],
      limits: { gpus: 4, cpu: '64', memory: '256Gi' },
      weight: 100,
    });
    await validate(pool);
    expect(pool.spec.template.spec.requirements.map((r) => r.key)).toEqual([
      'karpenter.k8s.aws/instance-gpu-name',
      'karpenter.k8s.aws/instance-gpu-count',
      'karpenter.sh/capacity-type',
      'kubernetes.io/arch',
      'node.kubernetes.io/instance-type',
    ]);
    expect(pool.spec.limits).toEqual({ 'nvidia.com/gpu': '4', cpu: '64', memory: '256Gi' });
    expect(pool.spec.weight).toBe(100);
  });

  it('fails the schema on what Karpenter would refuse: a consolidation policy it does not know', async () => {
    const pool = renderKarpenterNodePool(SPEC);
    const bad = {
      ...pool,
      spec: { ...pool.spec, disruption: { ...pool.spec.disruption, consolidationPolicy: 'Sometimes' } },
    };
    await expect(validate(bad)).rejects.toThrow(/consolidationPolicy/);
  });
});

describe('renderEc2NodeClass', () => {
  it('pins the AMI, finds subnets and security groups by tag, encrypts a gp3 root volume, requires IMDSv2', async () => {
    const nodeClass = renderEc2NodeClass(SPEC);
    await validate(nodeClass);
    expect(nodeClass.spec).toEqual({
      amiSelectorTerms: [{ alias: 'al2023@v20241121' }],
      role: 'KarpenterNodeRole-prod',
      subnetSelectorTerms: [{ tags: { 'karpenter.sh/discovery': 'prod' } }],
      securityGroupSelectorTerms: [{ tags: { 'karpenter.sh/discovery': 'prod' } }],
      blockDeviceMappings: [
        {
          deviceName: '/dev/xvda',
          rootVolume: true,
          ebs: { volumeSize: '200Gi', volumeType: 'gp3', encrypted: true, deleteOnTermination: true },
        },
      ],
      metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1 },
    });
  });

  it("sizes Bottlerocket's data volume for the images, beside its small OS volume", async () => {
    const nodeClass = renderEc2NodeClass({
      ...SPEC,
      nodeClass: { ...SPEC.nodeClass, amiAlias: 'bottlerocket@v1.26.2' },
    });
    await validate(nodeClass);
    const ebs = { volumeType: 'gp3', encrypted: true, deleteOnTermination: true };
    expect(nodeClass.spec?.blockDeviceMappings).toEqual([
      { deviceName: '/dev/xvda', ebs: { volumeSize: '4Gi', ...ebs } },
      { deviceName: '/dev/xvdb', rootVolume: true, ebs: { volumeSize: '200Gi', ...ebs } },
    ]);
  });
});
