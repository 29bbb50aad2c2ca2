/**
 * The NVIDIA device plugin's DaemonSet (and its time-slicing config), validated against the
 * Kubernetes schemas.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEVICE_PLUGIN_IMAGE } from '../lib/core/gpu';
import { devicePluginConfig, renderDevicePlugin } from '../lib/render/render-device-plugin';

const SPEC = {
  name: 'gpu-a10g-device-plugin',
  namespace: 'kube-system',
  image: DEVICE_PLUGIN_IMAGE,
  nodeSelector: { 'modelfab.dev/pool': 'gpu-a10g' },
};

async function validate(object: { kind: string }): Promise<void> {
  const Model =
    object.kind === 'DaemonSet'
      ? (await import('kubernetes-models/apps/v1/DaemonSet')).DaemonSet
      : (await import('kubernetes-models/v1/ConfigMap')).ConfigMap;
  new Model(object as never).validate();
}

describe('renderDevicePlugin', () => {
  it('runs the pinned plugin on the pool nodes only, tolerating their taint, as a node-critical pod', async () => {
    const { daemonSet, config } = renderDevicePlugin(SPEC);
    await validate(daemonSet);
    expect(config).toBeUndefined();
    const pod = daemonSet.spec!.template.spec!;
    expect(pod.nodeSelector).toEqual({ 'modelfab.dev/pool': 'gpu-a10g' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.containers[0].image).toBe('nvcr.io/nvidia/k8s-device-plugin:v0.17.4');
    expect(pod.containers[0].securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    // The one hostPath: the kubelet's device-plugin directory.
    expect(pod.volumes).toEqual([
      { name: 'device-plugins', hostPath: { path: '/var/lib/kubelet/device-plugins', type: 'Directory' } },
    ]);
  });

  it('shares each GPU by time-slicing through the plugin config when asked', async () => {
    const { daemonSet, config } = renderDevicePlugin({ ...SPEC, timeSlicing: 4 });
    await validate(daemonSet);
    await validate(config!);
    expect(parse(config!.data!['config.yaml'])).toEqual({
      version: 'v1',
      sharing: { timeSlicing: { resources: [{ name: 'nvidia.com/gpu', replicas: 4 }] } },
    });
    const container = daemonSet.spec!.template.spec!.containers[0];
    expect(container.env).toContainEqual({
      name: 'CONFIG_FILE',
      value: '/etc/nvidia-device-plugin/config.yaml',
    });
    expect(container.volumeMounts).toContainEqual({
      name: 'config',
      mountPath: '/etc/nvidia-device-plugin',
      readOnly: true,
    });
    expect(devicePluginConfig(2)).toContain('replicas: 2');
  });

  it('takes a digest-pinned image as it is', async () => {
    const image = `nvcr.io/nvidia/k8s-device-plugin@sha256:${'a'.repeat(64)}`;
    const { daemonSet } = renderDevicePlugin({ ...SPEC, image });
    await validate(daemonSet);
    expect(daemonSet.spec!.template.spec!.containers[0].image).toBe(image);
  });
});
