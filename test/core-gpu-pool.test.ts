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

const PROPS: AutoscaledGpuPoolProps = {
  gpu: 'a10g',
  maxGpus: 8,
  karpenter: { clusterName: 'prod', nodeRole: 'KarpenterNodeRole-prod' },
};

const resolve = (props: unknown) =>
  resolveGpuPool(new PropsChecker('prod/gpu'), 'gpu', props as AutoscaledGpuPoolProps);

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
    expect(renderDevicePlugin(spec.devicePlugin).config).toBeUndefined();
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
    [{ karpenter: undefined }, 'karpenter must be an object, got undefined'],
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
});
