import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler' with {
  'resolution-mode': 'import',
};
import type { IIoK8sApiAutoscalingV2MetricSpec } from 'kubernetes-models/autoscaling/v2/MetricSpec' with {
  'resolution-mode': 'import',
};
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget' with {
  'resolution-mode': 'import',
};
import { type HorizontalScaling, type InferenceServiceSpec } from '../core';
import { type GateOutcome } from '../gate';
import { plannedMinReplicas } from '../gate';
import { asKubeObject, type KubeObject } from './kube-object';
import { selectorLabels } from './labels';

/** An `autoscaling/v2` HPA on CPU and/or memory utilization of the requests. */
export function renderHorizontalPodAutoscaler(
  spec: InferenceServiceSpec,
  scaling: HorizontalScaling,
  metadata: KubeObject['metadata'],
  gate?: GateOutcome,
): KubeObject {
  const metrics: IIoK8sApiAutoscalingV2MetricSpec[] = [];
  for (const [resource, utilization] of [
    ['cpu', scaling.cpuUtilization],
    ['memory', scaling.memoryUtilization],
  ] as const) {
    if (utilization !== undefined) {
      metrics.push({
        type: 'Resource',
        resource: { name: resource, target: { type: 'Utilization', averageUtilization: utilization } },
      });
    }
  }
  const hpa: IHorizontalPodAutoscaler = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata,
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: spec.name },
      minReplicas: plannedMinReplicas(scaling, gate),
      maxReplicas: scaling.maxReplicas,
      metrics,
      behavior: {
        scaleDown: {
          stabilizationWindowSeconds: scaling.scaleDownStabilizationSeconds,
          policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }],
        },
      },
    },
  };
  return asKubeObject(hpa);
}

/** At most one pod down at a time for voluntary disruptions (drains, upgrades). */
export function renderPodDisruptionBudget(
  spec: InferenceServiceSpec,
  metadata: KubeObject['metadata'],
): KubeObject {
  const pdb: IPodDisruptionBudget = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata,
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: selectorLabels(spec) },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
  return asKubeObject(pdb);
}
