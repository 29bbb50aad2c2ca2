import { type InferenceServiceSpec } from '../core';
import { type ModelInfo } from '../model';
import { type GateOutcome } from '../gate';
import { gateSummary } from './gate-summary';
import { type KubeObject } from './kube-object';
import { ANNOTATIONS, standardLabels } from './labels';
import { assertKnownWaivers } from './policy';
import { renderHorizontalPodAutoscaler, renderPodDisruptionBudget } from './render-availability';
import { renderScaledObject } from './render-keda';
import { renderDeployment } from './render-deployment';
import { renderMonitoring } from './render-monitoring';
import { renderIngress, renderNetworkPolicy } from './render-network';
import { renderService, renderServiceAccount } from './render-service';

/**
 * Every Kubernetes object of one InferenceService, in apply order: ServiceAccount, Service,
 * Deployment, HorizontalPodAutoscaler (or KEDA's ScaledObject) when autoscaling, PodDisruptionBudget,
 * NetworkPolicy, Ingress (when asked), then with `monitoring` the ServiceMonitor, PrometheusRule and
 * dashboard ConfigMap (render-monitoring.ts). Pure: the same spec, model and gate outcome always give
 * the same objects.
 * With a gate, the Deployment carries its verdict and the tuned serving config, and the HPA's
 * minReplicas follows the capacity plan.
 */
export function renderInferenceService(
  spec: InferenceServiceSpec,
  model: ModelInfo,
  gate?: GateOutcome,
): KubeObject[] {
  assertKnownWaivers(spec.policyWaivers, spec.constructPath);
  const labels = standardLabels(spec, model.sha256);
  const annotations: Record<string, string> = { [ANNOTATIONS.modelSha256]: model.sha256 };
  if (gate) {
    annotations[ANNOTATIONS.gate] = gate.status;
    annotations[ANNOTATIONS.gateSummary] = gate.status === 'skipped' ? gate.reason : gateSummary(gate.report);
  }
  if (Object.keys(spec.policyWaivers).length > 0) {
    annotations[ANNOTATIONS.policyWaivers] = JSON.stringify(spec.policyWaivers);
  }
  // A fresh metadata object each: the objects share no mutable state.
  const metadata = (extra: Pick<KubeObject['metadata'], 'annotations'> = {}): KubeObject['metadata'] => ({
    name: spec.name,
    ...(spec.namespace !== undefined ? { namespace: spec.namespace } : {}),
    labels: { ...labels },
    ...extra,
  });
  const objects = [
    renderServiceAccount(spec, metadata()),
    renderService(spec, metadata()),
    renderDeployment(spec, model, metadata({ annotations }), gate),
  ];
  if (spec.scaling.kind === 'horizontal') {
    const { keda } = spec.scaling;
    objects.push(
      keda
        ? renderScaledObject(spec, { ...spec.scaling, keda }, metadata(), gate)
        : renderHorizontalPodAutoscaler(spec, spec.scaling, metadata(), gate),
    );
  }
  objects.push(renderPodDisruptionBudget(spec, metadata()), renderNetworkPolicy(spec, metadata()));
  if (spec.ingress) objects.push(renderIngress(spec, spec.ingress, metadata()));
  if (spec.monitoring) objects.push(...renderMonitoring(spec, spec.monitoring, model, labels, gate));
  return objects;
}
