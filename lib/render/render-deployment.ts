import { GPU_RESOURCE } from '../core/gpu';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment' with { 'resolution-mode': 'import' };
import type { IIoK8sApiCoreV1PodSpec } from 'kubernetes-models/v1/PodSpec' with {
  'resolution-mode': 'import',
};
import type { IIoK8sApiCoreV1Probe } from 'kubernetes-models/v1/Probe' with { 'resolution-mode': 'import' };
import { formatCpu, formatMemory, type InferenceServiceSpec, RUNTIME_CONTRACTS } from '../core';
import { type ModelInfo } from '../model';
import { intraOpThreadsFor } from '../runtime';
import { type GateOutcome } from '../gate';
import { SERVER_ENV } from '../core';
import { monitoredLatencyBoundMs } from './render-monitoring';
import { asKubeObject, type KubeObject } from './kube-object';
import { ANNOTATIONS, selectorLabels, standardLabels } from './labels';

/** Where the API key Secret is mounted, and the file the server reads. */
export const API_KEY_MOUNT = { dir: '/var/run/secrets/modelfab/api-key', file: 'api-key' } as const;
export const CONTAINER_NAME = 'server';
/** Open Inference Protocol (KServe V2) health paths the server answers. */
export const HEALTH_PATHS = { live: '/v2/health/live', ready: '/v2/health/ready' } as const;

/** Seconds between SIGTERM-eligible and SIGKILL: preStop sleep, the drain, and 5 s for the exit. */
export function terminationGracePeriodSeconds(spec: InferenceServiceSpec): number {
  return spec.shutdown.preStopSleepSeconds + spec.shutdown.drainSeconds + 5;
}

/** The settings the server reads from its environment, by the names of its settings table. */
export function serverEnv(
  spec: InferenceServiceSpec,
  model: ModelInfo,
  gate?: GateOutcome,
): Array<{ name: string; value: string }> {
  // Triton reads its settings from the model repository in the image, not from the environment.
  if (spec.runtime !== 'modelfab') return [];
  const serving = gate?.status === 'skipped' ? undefined : gate?.report.measurements.servingConfig;
  const latencyBoundMs = monitoredLatencyBoundMs(spec, gate);
  return [
    { name: SERVER_ENV.modelName, value: spec.modelName },
    { name: SERVER_ENV.modelSha256, value: model.sha256 },
    { name: SERVER_ENV.port, value: String(spec.port) },
    { name: SERVER_ENV.metricsPort, value: String(spec.metricsPort) },
    {
      name: SERVER_ENV.intraOpThreads,
      value: String(serving?.intraOpThreads ?? intraOpThreadsFor(spec.resources.limits.cpuMillis)),
    },
    { name: SERVER_ENV.drainSeconds, value: String(spec.shutdown.drainSeconds) },
    ...(spec.apiKey
      ? [{ name: SERVER_ENV.apiKeyFile, value: `${API_KEY_MOUNT.dir}/${API_KEY_MOUNT.file}` }]
      : []),
    ...(serving
      ? [
          { name: SERVER_ENV.workers, value: String(serving.workers) },
          { name: SERVER_ENV.maxBatchSize, value: String(serving.maxBatchSize) },
          { name: SERVER_ENV.maxQueueDelayMs, value: String(serving.maxQueueDelayMs) },
        ]
      : []),
    // The latency alert counts the requests over the gated bound: a bucket boundary there.
    ...(latencyBoundMs !== undefined
      ? [{ name: SERVER_ENV.latencyBoundMs, value: String(latencyBoundMs) }]
      : []),
  ];
}

/**
 * The server's environment as the gate starts it: the Deployment's (user variables included), less
 * the API key file (the gate's requests carry no key, and the file exists only in the pod). The
 * gate sets the serving settings it searches and loopback ports over it.
 */
export function gateServerEnv(spec: InferenceServiceSpec, model: ModelInfo): Record<string, string> {
  const env = [...serverEnv(spec, model), ...spec.env].filter((v) => v.name !== SERVER_ENV.apiKeyFile);
  return Object.fromEntries(env.map((v) => [v.name, v.value]));
}

function httpProbe(
  path: string,
  timing: Pick<IIoK8sApiCoreV1Probe, 'periodSeconds' | 'timeoutSeconds' | 'failureThreshold'>,
): IIoK8sApiCoreV1Probe {
  return { httpGet: { path, port: 'http', scheme: 'HTTP' }, ...timing, successThreshold: 1 };
}

function podSpec(spec: InferenceServiceSpec, model: ModelInfo, gate?: GateOutcome): IIoK8sApiCoreV1PodSpec {
  const { requests, limits } = spec.resources;
  const uid = RUNTIME_CONTRACTS[spec.runtime].uid;
  const startupPeriod = 2;
  return {
    serviceAccountName: spec.name,
    automountServiceAccountToken: spec.serviceAccountToken,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: terminationGracePeriodSeconds(spec),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: uid,
      runAsGroup: uid,
      fsGroup: uid,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ...(spec.placement
      ? {
          nodeSelector: { ...spec.placement.nodeSelector },
          tolerations: spec.placement.tolerations.map((toleration) => ({ ...toleration })),
        }
      : {}),
    topologySpreadConstraints: ['topology.kubernetes.io/zone', 'kubernetes.io/hostname'].map(
      (topologyKey) => ({
        maxSkew: 1,
        topologyKey,
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: selectorLabels(spec) },
        matchLabelKeys: ['pod-template-hash'],
      }),
    ),
    containers: [
      {
        name: CONTAINER_NAME,
        image: spec.image.ref,
        imagePullPolicy: spec.imagePullPolicy,
        ports: [
          { name: 'http', containerPort: spec.port, protocol: 'TCP' },
          { name: 'metrics', containerPort: spec.metricsPort, protocol: 'TCP' },
        ],
        env: [...serverEnv(spec, model, gate), ...spec.env],
        resources: {
          requests: { cpu: formatCpu(requests.cpuMillis), memory: formatMemory(requests.memoryBytes) },
          limits: {
            cpu: formatCpu(limits.cpuMillis),
            memory: formatMemory(limits.memoryBytes),
            // An extended resource: its request defaults to the limit, and may not differ from it.
            ...(spec.placement ? { [GPU_RESOURCE]: String(spec.placement.gpusPerPod) } : {}),
          },
        },
        startupProbe: httpProbe(HEALTH_PATHS.ready, {
          periodSeconds: startupPeriod,
          timeoutSeconds: 2,
          failureThreshold: Math.ceil(spec.startupTimeoutSeconds / startupPeriod),
        }),
        readinessProbe: httpProbe(HEALTH_PATHS.ready, {
          periodSeconds: 5,
          timeoutSeconds: 2,
          failureThreshold: 2,
        }),
        livenessProbe: httpProbe(HEALTH_PATHS.live, {
          periodSeconds: 10,
          timeoutSeconds: 3,
          failureThreshold: 3,
        }),
        lifecycle: { preStop: { sleep: { seconds: spec.shutdown.preStopSleepSeconds } } },
        securityContext: {
          allowPrivilegeEscalation: false,
          privileged: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        },
        volumeMounts: [
          { name: 'tmp', mountPath: '/tmp' },
          ...(spec.apiKey ? [{ name: 'api-key', mountPath: API_KEY_MOUNT.dir, readOnly: true }] : []),
        ],
        terminationMessagePolicy: 'FallbackToLogsOnError',
      },
    ],
    volumes: [
      { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
      ...(spec.apiKey
        ? [
            {
              name: 'api-key',
              secret: {
                secretName: spec.apiKey.secretName,
                items: [{ key: spec.apiKey.key, path: API_KEY_MOUNT.file }],
                defaultMode: 0o440,
              },
            },
          ]
        : []),
    ],
  };
}

/**
 * The Deployment: restricted pod security, requests and limits, OIP probes, graceful shutdown,
 * zone and host spread, and the model digest on the pod template (a new model rolls the pods).
 */
export function renderDeployment(
  spec: InferenceServiceSpec,
  model: ModelInfo,
  metadata: KubeObject['metadata'],
  gate?: GateOutcome,
): KubeObject {
  const labels = standardLabels(spec, model.sha256);
  const deployment: IDeployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      ...(spec.scaling.kind === 'fixed' ? { replicas: spec.scaling.replicas } : {}),
      revisionHistoryLimit: 5,
      selector: { matchLabels: selectorLabels(spec) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels, annotations: { [ANNOTATIONS.modelSha256]: model.sha256 } },
        spec: podSpec(spec, model, gate),
      },
    },
  };
  return asKubeObject(deployment);
}
