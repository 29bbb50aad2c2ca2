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
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy' with {
  'resolution-mode': 'import',
};
import { ANNOTATIONS } from './labels';
import { GPU_TAINT } from '../core/gpu';

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

/**
 * The policy rules the plugin cannot meet, each with its reason. They are the plugin's exceptions,
 * recorded on its DaemonSet (`modelfab.dev/policy-waivers`), never a service's.
 */
export const DEVICE_PLUGIN_WAIVERS: Readonly<Record<string, string>> = {
  'pss-volume-types':
    "the plugin registers with the kubelet through a socket in the kubelet's device-plugins directory, a hostPath",
  'pss-run-as-non-root': 'that directory is root-owned: the plugin creates its socket there as root',
  'read-only-root':
    "NVIDIA's manifests run the plugin with a writable root filesystem; read-only is not a setup they test",
  'probes-distinct': 'the plugin serves no health endpoint; the kubelet tracks its registration instead',
};

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
  /** Denies the plugin's pods all traffic: it talks to the kubelet over a unix socket only. */
  readonly networkPolicy: INetworkPolicy;
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
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels,
      annotations: { [ANNOTATIONS.policyWaivers]: JSON.stringify(DEVICE_PLUGIN_WAIVERS) },
    },
    spec: {
      selector: { matchLabels: labels },
      updateStrategy: { type: 'RollingUpdate' },
      template: {
        metadata: { labels },
        spec: {
          nodeSelector: { ...spec.nodeSelector },
          tolerations: [{ key: GPU_TAINT.key, operator: 'Exists', effect: GPU_TAINT.effect }],
          priorityClassName: 'system-node-critical',
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
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
              // A Go binary with one gRPC server per resource: tens of MiB.
              resources: {
                requests: { cpu: '50m', memory: '64Mi' },
                limits: { cpu: '500m', memory: '256Mi' },
              },
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
  const networkPolicy: INetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: spec.name, namespace: spec.namespace, labels },
    spec: { podSelector: { matchLabels: labels }, policyTypes: ['Ingress', 'Egress'] },
  };
  return { daemonSet, ...(config ? { config } : {}), networkPolicy };
}
