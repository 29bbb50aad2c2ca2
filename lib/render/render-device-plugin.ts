/**
 * The NVIDIA device plugin for a GPU pool's nodes: the DaemonSet of NVIDIA's static manifest
 * (`deployments/static/nvidia-device-plugin.yml` in NVIDIA/k8s-device-plugin) at a pinned image,
 * tolerating the GPU taint, `system-node-critical`, on the pool's nodes only; and, when the pool
 * shares its GPUs, the plugin's config with time-slicing. It needs the kubelet's device-plugin
 * directory as a hostPath, which the restricted profile forbids: that exception is the plugin's,
 * never a service's. Pure: a resolved spec in, plain objects out.
 */
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet' with { 'resolution-mode': 'import' };
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap' with { 'resolution-mode': 'import' };
import { GPU_TAINT } from './render-karpenter';

/** NVIDIA's device plugin release the pool runs unless told otherwise: the last of the 0.17 line, whose static manifest this follows (v0.20.0 is the newest release; see wip-notes). */
export const DEVICE_PLUGIN_IMAGE = 'nvcr.io/nvidia/k8s-device-plugin:v0.17.4';

/** Where the kubelet looks for device plugins' sockets. */
const DEVICE_PLUGIN_DIR = '/var/lib/kubelet/device-plugins';
const CONFIG_DIR = '/etc/nvidia-device-plugin';

/** The device plugin for one pool, resolved. */
export interface DevicePluginSpec {
  /** The DaemonSet's (and config's) name. */
  readonly name: string;
  readonly namespace: string;
  /** The plugin's image, a tag or a digest. */
  readonly image: string;
  /** The labels that select the pool's nodes: the plugin runs there only. */
  readonly nodeSelector: Readonly<Record<string, string>>;
  /** Pods that may share one GPU by time-slicing; absent: each pod has its GPUs to itself. */
  readonly timeSlicing?: number;
}

/** The plugin's config file with time-slicing of `replicas` per GPU. */
export function devicePluginConfig(replicas: number): string {
  return [
    'version: v1',
    'sharing:',
    '  timeSlicing:',
    '    resources:',
    '      - name: nvidia.com/gpu',
    `        replicas: ${replicas}`,
    '',
  ].join('\n');
}

/** The DaemonSet, and the ConfigMap holding its config when the pool shares GPUs. */
export function renderDevicePlugin(spec: DevicePluginSpec): {
  readonly daemonSet: IDaemonSet;
  readonly config?: IConfigMap;
} {
  const labels = {
    'app.kubernetes.io/name': 'nvidia-device-plugin',
    'app.kubernetes.io/instance': spec.name,
  };
  const sharing = spec.timeSlicing !== undefined;
  const config: IConfigMap | undefined = sharing
    ? {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: spec.name, namespace: spec.namespace, labels },
        data: { 'config.yaml': devicePluginConfig(spec.timeSlicing) },
      }
    : undefined;
  const daemonSet: IDaemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: spec.name, namespace: spec.namespace, labels },
    spec: {
      selector: { matchLabels: labels },
      updateStrategy: { type: 'RollingUpdate' },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: { ...spec.nodeSelector },
          tolerations: [{ key: GPU_TAINT.key, operator: 'Exists', effect: GPU_TAINT.effect }],
          priorityClassName: 'system-node-critical',
          containers: [
            {
              name: 'nvidia-device-plugin',
              image: spec.image,
              env: [
                // A node whose driver is not ready yet keeps the plugin up, instead of a crash loop.
                { name: 'FAIL_ON_INIT_ERROR', value: 'false' },
                ...(sharing ? [{ name: 'CONFIG_FILE', value: `${CONFIG_DIR}/config.yaml` }] : []),
              ],
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
              volumeMounts: [
                { name: 'device-plugins', mountPath: DEVICE_PLUGIN_DIR },
                ...(sharing ? [{ name: 'config', mountPath: CONFIG_DIR, readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: 'device-plugins', hostPath: { path: DEVICE_PLUGIN_DIR, type: 'Directory' } },
            ...(sharing ? [{ name: 'config', configMap: { name: spec.name } }] : []),
          ],
        },
      },
    },
  };
  return { daemonSet, ...(config ? { config } : {}) };
}
