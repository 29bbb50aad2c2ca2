/**
 * The policy rules: the Pod Security Standards "restricted" profile
 * (https://kubernetes.io/docs/concepts/security/pod-security-standards/), one id per control, and
 * modelfab's production rules. Each rule has an id a user may waive with a reason.
 */
import { parseImageReference, show } from '../core';
import { type KubeObject } from './kube-object';
import {
  type LabelSelector,
  type PolicyRule,
  dig,
  perContainer,
  perPod,
  podTemplates,
  probeHandler,
  sameNamespace,
  selectorMatches,
} from './policy-objects';

const ALLOWED_VOLUME_TYPES = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
];
const SAFE_SYSCTLS = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
];
const ALLOWED_SELINUX_TYPES = [
  '',
  'container_t',
  'container_init_t',
  'container_kvm_t',
  'container_engine_t',
];

/** The rule catalog. Ids are stable: users waive by id. */
export const POLICY_RULES: readonly PolicyRule[] = [
  {
    id: 'pss-host-namespaces',
    title: 'pods do not share the host network, pid or ipc namespace',
    fix: 'remove hostNetwork, hostPID and hostIPC',
    check: perPod(({ spec }) => {
      const shared = (['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((k) => spec[k] === true);
      return shared.length ? `sets ${shared.join(', ')}: true` : undefined;
    }),
  },
  {
    id: 'pss-privileged',
    title: 'containers are not privileged',
    fix: 'remove securityContext.privileged or set it to false',
    check: perContainer((c) => (c.securityContext?.privileged === true ? 'is privileged' : undefined)),
  },
  {
    id: 'pss-host-ports',
    title: 'containers do not bind host ports',
    fix: 'remove hostPort; expose the port through the Service',
    check: perContainer((c) => {
      const port = (c.ports ?? []).find((p) => p.hostPort !== undefined && p.hostPort !== 0);
      return port ? `binds hostPort ${port.hostPort}` : undefined;
    }),
  },
  {
    id: 'pss-volume-types',
    title: `volumes are of the restricted types (${ALLOWED_VOLUME_TYPES.join(', ')})`,
    fix: 'replace hostPath and other volume types with emptyDir, configMap, secret, projected or a persistentVolumeClaim',
    check: perPod(({ spec }) => {
      const bad = (spec.volumes ?? []).flatMap((volume) =>
        Object.keys(volume)
          .filter((k) => k !== 'name' && !ALLOWED_VOLUME_TYPES.includes(k))
          .map((k) => `${show(volume.name)} (${k})`),
      );
      return bad.length ? `has volume ${bad.join(', ')}` : undefined;
    }),
  },
  {
    id: 'pss-privilege-escalation',
    title: 'containers set allowPrivilegeEscalation: false',
    fix: 'set securityContext.allowPrivilegeEscalation to false',
    check: perContainer((c) =>
      c.securityContext?.allowPrivilegeEscalation === false
        ? undefined
        : `has allowPrivilegeEscalation ${show(c.securityContext?.allowPrivilegeEscalation)}`,
    ),
  },
  {
    id: 'pss-run-as-non-root',
    title: 'containers run as non-root (runAsNonRoot: true) and not as uid 0',
    fix: 'set securityContext.runAsNonRoot: true and a non-zero runAsUser',
    check: perContainer((c, pod) => {
      const nonRoot = c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
      if (nonRoot !== true) return `has runAsNonRoot ${show(nonRoot)}`;
      const uid = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
      return uid === 0 ? 'runs as uid 0' : undefined;
    }),
  },
  {
    id: 'pss-seccomp',
    title: 'a RuntimeDefault or Localhost seccomp profile applies to every container',
    fix: "set securityContext.seccompProfile.type to 'RuntimeDefault'",
    check: perContainer((c, pod) => {
      const type = c.securityContext?.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type;
      return type === 'RuntimeDefault' || type === 'Localhost'
        ? undefined
        : `has seccomp profile ${show(type)}`;
    }),
  },
  {
    id: 'pss-capabilities',
    title: 'containers drop ALL capabilities and add none but NET_BIND_SERVICE',
    fix: "set securityContext.capabilities to { drop: ['ALL'] }",
    check: perContainer((c) => {
      const caps = c.securityContext?.capabilities;
      if (!(caps?.drop ?? []).includes('ALL')) return `drops ${show(caps?.drop ?? [])}, not ALL`;
      const added = (caps?.add ?? []).filter((cap) => cap !== 'NET_BIND_SERVICE');
      return added.length ? `adds capabilities ${show(added)}` : undefined;
    }),
  },
  {
    id: 'pss-selinux',
    title: 'no custom SELinux user or role, and only container SELinux types',
    fix: 'remove seLinuxOptions.user and .role and use a container_* type',
    check: perContainer((c, pod) => {
      for (const options of [pod.securityContext?.seLinuxOptions, c.securityContext?.seLinuxOptions]) {
        if (!options) continue;
        if (options.user || options.role) return `sets seLinuxOptions ${show(options)}`;
        if (!ALLOWED_SELINUX_TYPES.includes(options.type ?? ''))
          return `sets seLinuxOptions.type ${show(options.type)}`;
      }
      return undefined;
    }),
  },
  {
    id: 'pss-proc-mount',
    title: 'containers use the default /proc mount',
    fix: 'remove securityContext.procMount',
    check: perContainer((c) =>
      c.securityContext?.procMount === undefined || c.securityContext.procMount === 'Default'
        ? undefined
        : `sets procMount ${show(c.securityContext.procMount)}`,
    ),
  },
  {
    id: 'pss-sysctls',
    title: 'pods set only safe sysctls',
    fix: `remove sysctls other than ${SAFE_SYSCTLS.join(', ')}`,
    check: perPod(({ spec }) => {
      const unsafe = (spec.securityContext?.sysctls ?? [])
        .map((s) => s.name)
        .filter((n) => !SAFE_SYSCTLS.includes(n));
      return unsafe.length ? `sets unsafe sysctls ${show(unsafe)}` : undefined;
    }),
  },
  {
    id: 'pss-apparmor',
    title: 'AppArmor is not disabled',
    fix: "remove appArmorProfile type 'Unconfined'",
    check: perContainer((c, pod) =>
      c.securityContext?.appArmorProfile?.type === 'Unconfined' ||
      pod.securityContext?.appArmorProfile?.type === 'Unconfined'
        ? 'runs with appArmorProfile Unconfined'
        : undefined,
    ),
  },
  {
    id: 'read-only-root',
    title: 'containers have a read-only root filesystem',
    fix: 'set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the process writes',
    check: perContainer((c) =>
      c.securityContext?.readOnlyRootFilesystem === true
        ? undefined
        : `has readOnlyRootFilesystem ${show(c.securityContext?.readOnlyRootFilesystem)}`,
    ),
  },
  {
    id: 'resources-set',
    title: 'containers set cpu and memory requests and limits',
    fix: 'set resources.requests and resources.limits for cpu and memory',
    check: perContainer((c) => {
      const missing = (['requests', 'limits'] as const).flatMap((kind) =>
        (['cpu', 'memory'] as const)
          .filter((r) => c.resources?.[kind]?.[r] === undefined)
          .map((r) => `${kind}.${r}`),
      );
      return missing.length ? `lacks resources ${missing.join(', ')}` : undefined;
    }),
  },
  {
    id: 'image-tag',
    title: 'images are pinned by a tag other than latest, or by digest',
    fix: "use an explicit version tag ('ghcr.io/acme/iris:1.4.0') or a digest ('…@sha256:…')",
    check: perContainer((c) => {
      const ref = parseImageReference(c.image ?? '');
      if (!ref) return `has image ${show(c.image)}, which is not a valid reference`;
      if (ref.digest) return undefined;
      if (ref.tag === undefined) return `has untagged image ${show(c.image)}`;
      return ref.tag === 'latest' ? `has image ${show(c.image)} tagged latest` : undefined;
    }),
  },
  {
    id: 'probes-distinct',
    title: 'serving containers have readiness and liveness probes that check different things',
    fix: 'probe readiness on /v2/health/ready and liveness on /v2/health/live',
    check: (objects) =>
      podTemplates(objects).flatMap(({ object, spec }) =>
        (spec.containers ?? []).flatMap((c) => {
          const name = `container ${show(c.name)}`;
          if (!c.readinessProbe || !c.livenessProbe) {
            return [
              { object, detail: `${name} lacks a ${c.readinessProbe ? 'liveness' : 'readiness'} probe` },
            ];
          }
          return probeHandler(c.readinessProbe) === probeHandler(c.livenessProbe)
            ? [
                {
                  object,
                  detail: `${name} has identical readiness and liveness probes (${probeHandler(c.livenessProbe)})`,
                },
              ]
            : [];
        }),
      ),
  },
  {
    id: 'pdb-present',
    title: 'every replicated workload is covered by a PodDisruptionBudget',
    fix: 'add a PodDisruptionBudget whose selector matches the pods',
    check: perPod(({ object, labels }, objects) => {
      if (!['Deployment', 'StatefulSet'].includes(object.kind)) return undefined;
      const covered = objects.some(
        (o) =>
          o.kind === 'PodDisruptionBudget' &&
          sameNamespace(o, object) &&
          selectorMatches(dig(o, ['spec', 'selector']) as LabelSelector, labels),
      );
      return covered ? undefined : `has no PodDisruptionBudget selecting labels ${show(labels)}`;
    }),
  },
  {
    id: 'network-policy',
    title: 'every pod is selected by a NetworkPolicy that restricts ingress',
    fix: 'add a NetworkPolicy with policyTypes [Ingress] whose podSelector matches the pods',
    check: perPod(({ object, labels }, objects) => {
      const selected = objects.some((o) => {
        if (o.kind !== 'NetworkPolicy' || !sameNamespace(o, object)) return false;
        const types = dig(o, ['spec', 'policyTypes']) as string[] | undefined;
        const restrictsIngress = types ? types.includes('Ingress') : true;
        return restrictsIngress && selectorMatches(dig(o, ['spec', 'podSelector']) as LabelSelector, labels);
      });
      return selected ? undefined : `has no NetworkPolicy selecting labels ${show(labels)}`;
    }),
  },
  {
    id: 'hpa-no-fixed-replicas',
    title: 'a workload scaled by an HPA (or a KEDA ScaledObject) does not set spec.replicas',
    fix: 'remove spec.replicas; every apply would otherwise reset the autoscaler',
    check: (objects) =>
      objects.flatMap((object) => {
        const replicas = dig(object, ['spec', 'replicas']);
        if (replicas === undefined) return [];
        const scaler = scalersOf(objects, object)[0];
        return scaler
          ? [{ object, detail: `sets replicas ${show(replicas)} while ${describeScaler(scaler)} scales it` }]
          : [];
      }),
  },
  {
    id: 'one-autoscaler',
    title: 'a workload has one autoscaler: KEDA makes and owns the HPA of its ScaledObject',
    fix: 'remove the HorizontalPodAutoscaler (autoscaling.kind decides which one is rendered)',
    check: (objects) =>
      objects.flatMap((object) => {
        const scalers = scalersOf(objects, object);
        return scalers.length > 1
          ? [{ object, detail: `is scaled by ${scalers.map(describeScaler).join(' and ')}` }]
          : [];
      }),
  },
  {
    id: 'topology-spread',
    title: 'replicated workloads spread pods with topologySpreadConstraints or pod anti-affinity',
    fix: 'add topologySpreadConstraints over topology.kubernetes.io/zone and kubernetes.io/hostname',
    check: perPod(({ object, spec }) => {
      if (!['Deployment', 'StatefulSet', 'ReplicaSet'].includes(object.kind)) return undefined;
      const spread =
        (spec.topologySpreadConstraints ?? []).length > 0 || spec.affinity?.podAntiAffinity !== undefined;
      return spread ? undefined : 'sets neither topologySpreadConstraints nor podAntiAffinity';
    }),
  },
];

/** The ids a waiver may name. */
export const POLICY_RULE_IDS: readonly string[] = POLICY_RULES.map((r) => r.id);

/** The HPAs and KEDA ScaledObjects in `object`'s namespace that scale it. */
function scalersOf(objects: readonly KubeObject[], object: KubeObject): KubeObject[] {
  return objects.filter((o) => {
    if ((o.kind !== 'HorizontalPodAutoscaler' && o.kind !== 'ScaledObject') || !sameNamespace(o, object))
      return false;
    const ref = dig(o, ['spec', 'scaleTargetRef']) as { kind?: string; name?: string } | undefined;
    // A ScaledObject's target kind defaults to Deployment.
    return (ref?.kind ?? 'Deployment') === object.kind && ref?.name === object.metadata.name;
  });
}

function describeScaler(scaler: KubeObject): string {
  return scaler.kind === 'ScaledObject' ? `KEDA ScaledObject ${scaler.metadata.name}` : `an HPA`;
}
