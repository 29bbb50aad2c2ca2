/**
 * AutoscaledGpuPool, and InferenceService placed on it (cdk8s; the Pulumi side and the parity rows
 * are in pulumi-parity.test.ts): every object valid against its schema (Karpenter's CRDs included),
 * the policy clean but for the device plugin's recorded waivers, and each bad input refused naming
 * the construct path, the value and the fix, before anything is written.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart, JsonPatch } from 'cdk8s';
import { afterAll, describe, expect, it } from 'vitest';
import * as cdk8s from '../lib/cdk8s';
import { type AutoscaledGpuPoolProps, type InferenceServiceProps, type Placement } from '../lib/core';
import { checkPolicy, DEVICE_PLUGIN_WAIVERS, type KubeObject } from '../lib/render';
import { GKE_POOL, GPU_IMAGE, GPU_POOL, GPU_SERVICE, NODE_GROUP_POOL } from './support/gpu-fixtures';
import { validateAgainstSchema } from './support/kube-schema';

const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');
const POOL = GPU_POOL;
const SERVICE = GPU_SERVICE;
/** A modelfab server image: onnxruntime's CPU provider only. */
const CPU_SERVICE: Omit<InferenceServiceProps, 'placement'> = {
  model: IRIS,
  image: 'ghcr.io/acme/iris:1.0.0',
  resources: { cpu: '2', memory: '4Gi' },
};
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-gpu-pool-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A chart `prod` (namespace ml) with a pool `gpu` and, when given, a service `detector` on it. */
function synth(
  pool: AutoscaledGpuPoolProps = POOL,
  service?: (p: cdk8s.AutoscaledGpuPool) => InferenceServiceProps,
  patch?: (chart: Chart, pool: cdk8s.AutoscaledGpuPool, service?: cdk8s.InferenceService) => void,
) {
  const outdir = fs.mkdtempSync(path.join(scratch, 'out-'));
  const app = new App({ outdir });
  const chart = new Chart(app, 'prod', { namespace: 'ml' });
  const gpu = new cdk8s.AutoscaledGpuPool(chart, 'gpu', pool);
  const detector = service ? new cdk8s.InferenceService(chart, 'detector', service(gpu)) : undefined;
  patch?.(chart, gpu, detector);
  app.synth();
  const objects = chart.toJson() as KubeObject[];
  return {
    outdir,
    pool: gpu,
    objects,
    find: (kind: string) => objects.filter((o) => o.kind === kind) as any[],
  };
}

describe('AutoscaledGpuPool (cdk8s)', () => {
  it('renders a node class, a NodePool and the device plugin, each valid against its schema', async () => {
    const { objects, find } = synth();
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'EC2NodeClass/gpu',
      'NodePool/gpu',
      'DaemonSet/gpu-device-plugin',
      'NetworkPolicy/gpu-device-plugin',
    ]);
    for (const object of objects) await validateAgainstSchema(object);
    const [nodePool] = find('NodePool');
    expect(nodePool.spec.template.spec.taints).toEqual([
      { key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' },
    ]);
    expect(nodePool.spec.limits).toEqual({ 'nvidia.com/gpu': '8' });
    // Karpenter may launch the catalog's types only: those the fit check and the prices cover.
    const requirement = (key: string) =>
      nodePool.spec.template.spec.requirements.find((r: { key: string }) => r.key === key).values;
    expect(requirement('node.kubernetes.io/instance-type')).toEqual([
      'g5.xlarge',
      'g5.2xlarge',
      'g5.4xlarge',
      'g5.8xlarge',
      'g5.16xlarge',
    ]);
    expect(requirement('kubernetes.io/arch')).toEqual(['amd64']);
    expect(nodePool.spec.disruption).toEqual({
      consolidationPolicy: 'WhenEmpty',
      consolidateAfter: '10m',
      budgets: [{ nodes: '10%' }],
    });
    const [nodeClass] = find('EC2NodeClass');
    // Cluster-scoped: the chart's namespace is not put on them.
    expect([nodeClass.metadata.namespace, nodePool.metadata.namespace]).toEqual([undefined, undefined]);
    expect(nodeClass.spec.amiSelectorTerms).toEqual([{ alias: 'al2023@v20241121' }]);
    expect(nodeClass.spec.metadataOptions.httpTokens).toBe('required');
    expect(nodeClass.spec.blockDeviceMappings[0].ebs).toMatchObject({ encrypted: true, volumeType: 'gp3' });
    // The plugin lands on the pool's nodes only, through their taint, as node-critical.
    const [plugin] = find('DaemonSet');
    expect(plugin.metadata.namespace).toBe('kube-system');
    expect(plugin.spec.template.spec).toMatchObject({
      nodeSelector: { 'modelfab.dev/pool': 'gpu' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      priorityClassName: 'system-node-critical',
    });
  });

  it("records the device plugin's waivers on its DaemonSet, and they are the only exceptions", () => {
    const { objects, find } = synth();
    const [plugin] = find('DaemonSet');
    expect(JSON.parse(plugin.metadata.annotations['modelfab.dev/policy-waivers'])).toEqual(
      DEVICE_PLUGIN_WAIVERS,
    );
    const { violations, waived } = checkPolicy(objects, DEVICE_PLUGIN_WAIVERS);
    expect(violations).toEqual([]);
    expect(waived.map((w) => w.rule).sort()).toEqual(Object.keys(DEVICE_PLUGIN_WAIVERS).sort());
    expect(waived.find((w) => w.rule === 'pss-volume-types')?.detail).toContain('hostPath');
  });

  it('makes a spot NodePool tried first and an on-demand fallback, sharing the node class', async () => {
    const { find } = synth({ ...POOL, capacityTypes: ['spot', 'on-demand'], sharing: { timeSlicing: 4 } });
    const pools = find('NodePool');
    expect(
      pools.map((p: any) => [p.metadata.name, p.spec.weight, p.spec.template.spec.nodeClassRef.name]),
    ).toEqual([
      ['gpu-spot', 100, 'gpu'],
      ['gpu', 10, 'gpu'],
    ]);
    expect(
      pools.map(
        (p: any) =>
          p.spec.template.spec.requirements.find((r: any) => r.key === 'karpenter.sh/capacity-type').values,
      ),
    ).toEqual([['spot'], ['on-demand']]);
    const [config] = find('ConfigMap');
    await validateAgainstSchema(config);
    expect(config.data['config.yaml']).toContain('replicas: 4');
  });

  it('fails synth when a patch breaks the policy on the pool (the waivers cover the plugin only)', () => {
    expect(() =>
      synth(POOL, undefined, (_chart, pool) => {
        pool.objects
          .find((o) => o.kind === 'DaemonSet')!
          .addJsonPatch(JsonPatch.add('/spec/template/spec/hostNetwork', true));
      }),
    ).toThrow(/\[prod\/gpu\] policy pss-host-namespaces failed on DaemonSet\/kube-system\/gpu-device-plugin/);
  });
});

describe('AutoscaledGpuPool on GKE (cdk8s)', () => {
  it('renders one cluster-scoped ComputeClass and no device plugin; a service on it selects the class', async () => {
    const { objects, find } = synth(GKE_POOL, (pool) => ({ ...SERVICE, placement: pool.placement() }));
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ComputeClass/gpu',
      'ServiceAccount/detector',
      'Service/detector',
      'Deployment/detector',
      'HorizontalPodAutoscaler/detector',
      'PodDisruptionBudget/detector',
      'NetworkPolicy/detector',
    ]);
    const [computeClass] = find('ComputeClass');
    expect(computeClass.metadata.namespace).toBeUndefined();
    for (const object of objects) await validateAgainstSchema(object);
    const pod = find('Deployment')[0].spec.template.spec;
    expect(pod.nodeSelector).toEqual({
      'cloud.google.com/compute-class': 'gpu',
      'cloud.google.com/gke-accelerator': 'nvidia-l4',
    });
    expect(pod.tolerations).toEqual([
      { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' },
      { key: 'cloud.google.com/compute-class', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBe('1');
  });
});

describe('InferenceService on a pool', () => {
  it('selects the pool, tolerates its taint and asks for its GPUs; the objects validate', async () => {
    const { find } = synth(POOL, (pool) => ({ ...SERVICE, placement: pool.placement({ gpus: 1 }) }));
    const [deployment] = find('Deployment');
    await validateAgainstSchema(deployment);
    const pod = deployment.spec.template.spec;
    expect(pod.nodeSelector).toEqual({ 'modelfab.dev/pool': 'gpu' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.containers[0].resources.limits).toEqual({ cpu: '2', memory: '4Gi', 'nvidia.com/gpu': '1' });
    expect(pod.containers[0].resources.requests).toEqual({ cpu: '2', memory: '4Gi' });
  });

  it("takes a Triton ModelImage's GPU kind: placed it synthesizes, unplaced it is refused", () => {
    const make = (placed: boolean) => {
      const app = new App({ outdir: fs.mkdtempSync(path.join(scratch, 'triton-')) });
      const chart = new Chart(app, 'prod', { namespace: 'ml' });
      const pool = new cdk8s.AutoscaledGpuPool(chart, 'gpu', POOL);
      const image = new cdk8s.ModelImage(chart, 'image', {
        model: IRIS,
        repository: 'ghcr.io/acme/detector',
        runtime: 'triton',
      });
      expect(image.tritonKind).toBe('gpu'); // Triton's default
      new cdk8s.InferenceService(chart, 'detector', {
        image,
        resources: { cpu: '2', memory: '4Gi' },
        ...(placed ? { placement: pool.placement() } : {}),
      });
      app.synth();
    };
    expect(() => make(true)).not.toThrow();
    expect(() => make(false)).toThrow('[prod/detector] image runs the model on the GPU (Triton KIND_GPU)');
  });

  it('gives a placement that names the GPU and the instance types, cheapest first, with their price', () => {
    const { pool } = synth({ ...POOL, gpusPerNode: 4 });
    const placement = pool.placement({ gpus: 2 });
    expect(placement).toMatchObject({ pool: 'gpu', gpuName: 'a10g', gpusPerPod: 2, podsPerGpu: 1 });
    expect(placement.nodeTypes.map((t) => [t.instanceType, t.gpus, t.pricePerHour])).toEqual([
      ['g5.12xlarge', 4, 5.672],
      ['g5.24xlarge', 4, 8.144],
    ]);
  });
});

describe('bad input', () => {
  const tiny: Placement = {
    pool: 'edge',
    gpuName: 't4',
    gpusPerPod: 1,
    podsPerGpu: 1,
    nodeSelector: { 'modelfab.dev/pool': 'edge' },
    tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    nodeTypes: [
      {
        instanceType: 'g4dn.xlarge',
        vcpu: 4,
        memoryMiB: 16384,
        gpus: 1,
        gpuMemoryMiB: 0.0001,
        maxPods: 29,
        pricePerHour: 0.526,
      },
    ],
  };
  it.each<[string, () => unknown, string]>([
    [
      'an unknown GPU name',
      () => synth({ ...POOL, gpu: 'v100' as never }),
      '[prod/gpu] gpu "v100" is not a GPU the pool knows; use one of t4, a10g, l4, l40s, a100, h100',
    ],
    [
      'an unknown prop',
      () => synth({ ...POOL, maxGpu: 8 } as never),
      '[prod/gpu] maxGpu is not a prop of AutoscaledGpuPool; did you mean maxGpus?',
    ],
    [
      'a negative limit',
      () => synth({ ...POOL, maxGpus: -2 }),
      "[prod/gpu] maxGpus must be an integer from 1 to 10000, got -2; at least one node's 1",
    ],
    [
      'GPUs per pod above the node',
      () => synth(POOL, (p) => ({ ...SERVICE, placement: p.placement({ gpus: 2 }) })),
      '[prod/gpu] placement.gpus must be an integer from 1 to 1, got 2; at most the 1 GPU of a node',
    ],
    [
      'GPUs per pod that do not divide the node',
      () => synth({ ...POOL, gpusPerNode: 4 }, (p) => ({ ...SERVICE, placement: p.placement({ gpus: 3 }) })),
      '[prod/gpu] placement.gpus 3 does not divide the 4 GPUs of a node, which would leave GPUs no pod can use; use 1, 2, 4',
    ],
    [
      'two GPUs a pod on a time-sliced pool',
      () =>
        synth({ ...POOL, gpusPerNode: 4, sharing: { timeSlicing: 2 } }, (p) => ({
          ...SERVICE,
          placement: p.placement({ gpus: 2 }),
        })),
      '[prod/gpu] placement.gpus 2 on a pool that time-slices its GPUs gives a pod no more compute than 1; use 1, or a pool without sharing',
    ],
    [
      'an unknown placement option',
      () => synth(POOL, (p) => ({ ...SERVICE, placement: p.placement({ gpu: 1 } as never) })),
      '[prod/gpu] gpu is not an arg of placement(); did you mean gpus?',
    ],
    [
      'requests that fit no node',
      () =>
        synth({ ...POOL, instanceTypes: ['g5.xlarge'] }, (p) => ({
          ...SERVICE,
          resources: { cpu: '8', memory: '4Gi' },
          placement: p.placement(),
        })),
      '[prod/detector] placement on pool "gpu": a pod fits none of its instance types (g5.xlarge offers pods 3920m CPU and 13.83 GiB after the system\'s reserve; a pod requests 8 CPU, 4080m more than fits); lower resources, or use a pool with larger nodes',
    ],
    [
      'a model larger than the GPU memory',
      () => synth(POOL, () => ({ ...SERVICE, placement: tiny })),
      '[prod/detector] placement on pool "edge": a pod fits none of its instance types (the model (',
    ],
    [
      'a GPU limit without a placement',
      () =>
        synth(
          POOL,
          () => CPU_SERVICE,
          (_c, _p, service) =>
            service!.objects
              .find((o) => o.kind === 'Deployment')!
              .addJsonPatch(
                JsonPatch.add('/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu', '1'),
              ),
        ),
      '[prod/detector] Deployment/ml/detector container "server" asks for nvidia.com/gpu without a placement; pass placement: pool.placement({ gpus }) of an AutoscaledGpuPool instead of setting the GPU limit',
    ],
    [
      'a placement for the modelfab server, which runs on the CPU only',
      () => synth(POOL, (p) => ({ ...CPU_SERVICE, placement: p.placement() })),
      `[prod/detector] placement on pool "gpu" asks for GPUs, but the modelfab server runs onnxruntime's CPU provider only, so the pods would hold GPUs they never use; serve from a ModelImage with runtime: 'triton' and triton: { kind: 'gpu' }, or remove placement`,
    ],
    [
      'a placement for a Triton image that runs on the CPU',
      () =>
        synth(POOL, (p) => ({
          ...SERVICE,
          image: { ...GPU_IMAGE, tritonKind: 'cpu' },
          placement: p.placement(),
        })),
      `[prod/detector] placement on pool "gpu" asks for GPUs, but the ModelImage's Triton config runs the model on the CPU (KIND_CPU), so the pods would hold GPUs they never use`,
    ],
    [
      'a Triton GPU image without a placement',
      () => synth(POOL, () => SERVICE),
      '[prod/detector] image runs the model on the GPU (Triton KIND_GPU), but the service has no placement, so its pods land on nodes without a GPU and Triton cannot load the model; pass placement: pool.placement({ gpus }) of an AutoscaledGpuPool',
    ],
    [
      'a placement that is not one',
      () => synth(POOL, () => ({ ...SERVICE, placement: 'gpu' as never })),
      '[prod/detector] placement must be a placement, got "gpu"; pass pool.placement({ gpus }) of an AutoscaledGpuPool',
    ],
    [
      'a hand-written placement with an unknown GPU',
      () => synth(POOL, () => ({ ...SERVICE, placement: { ...tiny, gpuName: 'v100' as never } })),
      '[prod/detector] placement.gpuName "v100" is not a GPU a pool knows (t4, a10g, l4, l40s, a100, h100); pass pool.placement({ gpus }) of an AutoscaledGpuPool',
    ],
    [
      'a hand-written placement with a toleration that is not one',
      () =>
        synth(POOL, () => ({
          ...SERVICE,
          placement: {
            ...tiny,
            tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'Sometimes' as never }],
          },
        })),
      `[prod/detector] placement.tolerations[0] {"key":"nvidia.com/gpu","operator":"Exists","effect":"Sometimes"} must tolerate a taint key with operator 'Exists' and effect NoSchedule, NoExecute or PreferNoSchedule`,
    ],
    [
      'a placement with a key a placement does not have',
      () => synth(POOL, () => ({ ...SERVICE, placement: { ...tiny, gpus: 1 } as never })),
      '[prod/detector] placement.gpus is not a prop of InferenceService;',
    ],
    [
      'a gate on a GPU service',
      () => synth(POOL, (p) => ({ ...SERVICE, placement: p.placement(), gate: { latencyP99Ms: 20 } })),
      // This machine has no GPU, and no report measured on one is in the cache (gate-gpu-gate.test.ts
      // has the rest of the message and the other cases).
      "[prod/detector] gate cannot measure a service placed on a10g GPUs here: CPU figures never pass a GPU service's thresholds",
    ],
    [
      'an EKS node group in cdk8s',
      () => synth(NODE_GROUP_POOL),
      `[prod/gpu] eksNodeGroup {"clusterName":"prod","subnetIds":["subnet-0a","subnet-0b"]} is an AWS resource, not a Kubernetes object, so cdk8s cannot create it ('eks-node-group' is Pulumi only); use karpenter: { clusterName, nodeRole } for GPU nodes that scale`,
    ],
    [
      'a GPU GKE does not offer',
      () => synth({ ...GKE_POOL, gpu: 'a10g' }),
      '[prod/gpu] gpu "a10g" is not one GKE offers a pool; use one of t4, l4, a100, h100, or karpenter on AWS',
    ],
    [
      'requests that fit no GKE machine',
      () =>
        synth({ ...GKE_POOL, instanceTypes: ['g2-standard-4'] }, (p) => ({
          ...SERVICE,
          resources: { cpu: '2', memory: '13Gi' },
          placement: p.placement(),
        })),
      `[prod/detector] placement on pool "gpu": a pod fits none of its instance types (g2-standard-4 offers pods 3920m CPU and 12.1 GiB after the system's reserve; a pod requests 13 GiB of memory, 920 MiB more than fits); lower resources, or use a pool with larger nodes`,
    ],
    [
      'a nodeType not in the catalog',
      () => synth(POOL, () => ({ ...CPU_SERVICE, nodeType: 'c6i.huge' })),
      '[prod/detector] nodeType "c6i.huge" is not a CPU instance type of the catalog; use one of m6i.large, m6i.xlarge,',
    ],
    [
      'a GPU instance type as nodeType',
      () => synth(POOL, () => ({ ...CPU_SERVICE, nodeType: 'g5.xlarge' })),
      '[prod/detector] nodeType "g5.xlarge" is not a CPU instance type of the catalog; use one of m6i.large,',
    ],
    [
      'a nodeType beside a placement',
      () => synth(POOL, (p) => ({ ...SERVICE, placement: p.placement(), nodeType: 'c6i.xlarge' })),
      `[prod/detector] nodeType "c6i.xlarge" beside placement on pool "gpu": the pool's instance types are where the pods run; remove nodeType`,
    ],
    [
      'requests that do not fit the nodeType',
      () => synth(POOL, () => ({ ...CPU_SERVICE, nodeType: 'c6i.large' })),
      `[prod/detector] nodeType "c6i.large": a pod does not fit (c6i.large offers pods 1930m CPU and 3.04 GiB after the system's reserve; a pod requests 2 CPU, 70m more than fits;`,
    ],
    [
      'an id that cannot name the objects',
      () => new cdk8s.AutoscaledGpuPool(new Chart(new App({ outdir: scratch }), 'c'), 'GPU_pool', POOL),
      `[c/GPU_pool] the pool's id "GPU_pool" names its NodePool, EC2NodeClass and device plugin`,
    ],
  ])('refuses %s, naming the path, the value and the fix', (_case, make, message) => {
    // Nothing written: the outdir a refused synth made stays empty (no manifests, no reports).
    const written = () =>
      fs
        .readdirSync(scratch)
        .filter((d) => d.startsWith('out-') && fs.readdirSync(path.join(scratch, d)).length > 0);
    const before = written();
    expect(make).toThrow(message);
    expect(written()).toEqual(before);
  });
});
