/**
 * A KEDA ScaledObject (`keda.sh/v1alpha1`) that scales the service's Deployment on its request rate
 * from Prometheus: the threshold is the rate one replica takes (the gate's measured capacity × the
 * SLO's target utilization, or the one set), the floor is the capacity plan's, and with scale to
 * zero the last replica goes after the cooldown and the first request wakes one (its cold start,
 * as the gate measured it, is recorded on the object). KEDA makes and owns the HPA: none is
 * rendered beside it. Pure.
 */
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject' with {
  'resolution-mode': 'import',
};
import { type HorizontalScaling, type InferenceServiceSpec } from '../core';
import { type GateOutcome, kedaThreshold, plannedMinReplicas } from '../gate';
import { SERVER_METRIC_NAMES } from '../core';
import { asKubeObject, type KubeObject } from './kube-object';

/** Annotations on the ScaledObject: the figures its settings came from. */
export const KEDA_ANNOTATIONS = {
  /** Requests per second one replica takes (the threshold). */
  rpsPerReplica: 'modelfab.dev/rps-per-replica',
  /** With scale to zero: the server's start to its first ready answer, as the gate measured it, ms. */
  coldStartMs: 'modelfab.dev/cold-start-ms',
} as const;

/** The request rate of the service's model, as Prometheus scrapes it from the metrics port. */
export function requestRateQuery(spec: InferenceServiceSpec): string {
  const matchers = [
    ...(spec.namespace !== undefined ? [`namespace="${spec.namespace}"`] : []),
    `job="${spec.name}"`,
    `model="${spec.modelName}"`,
  ];
  return `sum(rate(${SERVER_METRIC_NAMES.requests}{${matchers.join(',')}}[1m]))`;
}

/** The ScaledObject for a service with `autoscaling.kind: 'keda'`. */
export function renderScaledObject(
  spec: InferenceServiceSpec,
  scaling: HorizontalScaling & { readonly keda: NonNullable<HorizontalScaling['keda']> },
  metadata: KubeObject['metadata'],
  gate?: GateOutcome,
): KubeObject {
  const { keda } = scaling;
  const threshold = kedaThreshold(spec, gate);
  const report = gate?.status === 'skipped' ? undefined : gate?.report;
  const annotations = {
    ...metadata.annotations,
    ...(threshold !== undefined ? { [KEDA_ANNOTATIONS.rpsPerReplica]: formatRate(threshold) } : {}),
    ...(keda.scaleToZero && report
      ? { [KEDA_ANNOTATIONS.coldStartMs]: String(Math.round(report.measurements.coldStart.processReadyMs)) }
      : {}),
  };
  const scaledObject: IScaledObject = {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { ...metadata, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: spec.name },
      minReplicaCount: plannedMinReplicas(scaling, gate),
      maxReplicaCount: scaling.maxReplicas,
      ...(keda.scaleToZero ? { idleReplicaCount: 0, cooldownPeriod: keda.cooldownSeconds } : {}),
      pollingInterval: keda.pollingIntervalSeconds,
      advanced: {
        horizontalPodAutoscalerConfig: {
          behavior: {
            scaleDown: {
              stabilizationWindowSeconds: scaling.scaleDownStabilizationSeconds,
              policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }],
            },
          },
        },
      },
      triggers: [
        {
          type: 'prometheus',
          name: 'request-rate',
          metadata: {
            serverAddress: keda.prometheusAddress,
            query: requestRateQuery(spec),
            // Unknown only when synth fails on it (serviceProblems: no measured capacity).
            ...(threshold !== undefined ? { threshold: formatRate(threshold) } : {}),
            ...(keda.scaleToZero ? { activationThreshold: formatRate(keda.activationRps) } : {}),
          },
        },
      ],
    },
  };
  return asKubeObject(scaledObject);
}

/** A rate as KEDA's metadata takes it: a decimal string, at most 3 decimals. */
function formatRate(rps: number): string {
  return String(Math.round(rps * 1000) / 1000);
}
