/**
 * Every Kubernetes object of one AutoscaledGpuPool, in apply order: the EC2NodeClass, the
 * NodePool(s), and the NVIDIA device plugin (its config when GPUs are shared, its DaemonSet and the
 * NetworkPolicy that shuts it off from the network). Pure. The policy check runs over them with the
 * plugin's recorded waivers only.
 */
import { type GpuPoolSpec } from '../core/resolve-gpu-pool';
import { asKubeObject, type KubeObject } from './kube-object';
import { checkPolicy, formatPolicyViolation } from './policy';
import { DEVICE_PLUGIN_WAIVERS, renderDevicePlugin } from './render-device-plugin';
import { renderEc2NodeClass, renderKarpenterNodePool } from './render-karpenter';

/** One of a pool's objects and its role: the cdk8s id and the Pulumi child's `${name}-<role>`. */
export interface PoolObject {
  readonly role: string;
  readonly object: KubeObject;
  /** A cluster-scoped kind (NodePool, EC2NodeClass): no namespace, whatever the chart's. */
  readonly clusterScoped: boolean;
}

/** The pool's objects, in apply order. */
export function renderGpuPool(spec: GpuPoolSpec): PoolObject[] {
  const plugin = renderDevicePlugin(spec.devicePlugin);
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
