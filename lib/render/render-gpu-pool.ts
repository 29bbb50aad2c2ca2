/**
 * Every Kubernetes object of one AutoscaledGpuPool, in apply order: with Karpenter the EC2NodeClass
 * and the NodePool(s), on GKE the ComputeClass, and where the nodes do not ship one the NVIDIA device
 * plugin (its config when GPUs are shared, its DaemonSet and the NetworkPolicy that shuts it off from
 * the network). An EKS node group itself is no Kubernetes object: see render-eks-node-group. Pure.
 * The policy check runs over them with the plugin's recorded waivers only.
 */
import { type GpuPoolSpec } from '../core/resolve-gpu-pool';
import { asKubeObject, type KubeObject } from './kube-object';
import { checkPolicy, formatPolicyViolation } from './policy';
import { DEVICE_PLUGIN_WAIVERS, type DevicePluginSpec, renderDevicePlugin } from './render-device-plugin';
import { renderEc2NodeClass, renderKarpenterNodePool } from './render-karpenter';
import { renderGkeComputeClass } from './render-gke-compute-class';

/** One of a pool's objects and its role: the cdk8s id and the Pulumi child's `${name}-<role>`. */
export interface PoolObject {
  readonly role: string;
  readonly object: KubeObject;
  /** A cluster-scoped kind (NodePool, EC2NodeClass, ComputeClass): no namespace, whatever the chart's. */
  readonly clusterScoped: boolean;
}

/** The pool's objects, in apply order. */
export function renderGpuPool(spec: GpuPoolSpec): PoolObject[] {
  return [...nodeObjects(spec), ...(spec.devicePlugin ? devicePluginObjects(spec.devicePlugin) : [])];
}

function nodeObjects(spec: GpuPoolSpec): PoolObject[] {
  if (spec.computeClass) {
    return [
      {
        role: 'compute-class',
        object: asKubeObject(renderGkeComputeClass(spec.computeClass)),
        clusterScoped: true,
      },
    ];
  }
  if (spec.nodePools.length === 0) return [];
  return [
    { role: 'node-class', object: asKubeObject(renderEc2NodeClass(spec.nodePools[0])), clusterScoped: true },
    ...spec.nodePools.map((pool) => ({
      role:
        pool.capacityTypes.length === 1 && spec.nodePools.length > 1
          ? `${pool.capacityTypes[0]}-node-pool`
          : 'node-pool',
      object: asKubeObject(renderKarpenterNodePool(pool)),
      clusterScoped: true,
    })),
  ];
}

function devicePluginObjects(devicePlugin: DevicePluginSpec): PoolObject[] {
  const plugin = renderDevicePlugin(devicePlugin);
  return [
    ...(plugin.config
      ? [{ role: 'device-plugin-config', object: asKubeObject(plugin.config), clusterScoped: false }]
      : []),
    { role: 'device-plugin', object: asKubeObject(plugin.daemonSet), clusterScoped: false },
    {
      role: 'device-plugin-network-policy',
      object: asKubeObject(plugin.networkPolicy),
      clusterScoped: false,
    },
  ];
}

/**
 * The policy's findings on a pool's objects as synthesized (after any patch), one line each; the
 * device plugin's exceptions are waived with their recorded reasons, nothing else is.
 */
export function gpuPoolProblems(objects: readonly KubeObject[]): string[] {
  return checkPolicy(objects, DEVICE_PLUGIN_WAIVERS).violations.map(formatPolicyViolation);
}
