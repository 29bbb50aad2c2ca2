import { type InferenceServiceSpec } from '../core';
import { type ModelInfo } from '../model';
import { type KubeObject } from './kube-object';
import { ANNOTATIONS, standardLabels } from './labels';
import { assertKnownWaivers } from './policy';
import { renderHorizontalPodAutoscaler, renderPodDisruptionBudget } from './render-availability';
import { renderDeployment } from './render-deployment';
import { renderIngress, renderNetworkPolicy } from './render-network';
import { renderService, renderServiceAccount } from './render-service';

/**
 * Every Kubernetes object of one InferenceService, in apply order: ServiceAccount, Service,
 * Deployment, HorizontalPodAutoscaler (when autoscaling), PodDisruptionBudget, NetworkPolicy,
 * Ingress (when asked). Pure: the same spec and model always give the same objects.
 */
export function renderInferenceService(spec: InferenceServiceSpec, model: ModelInfo): KubeObject[] {
  assertKnownWaivers(spec.policyWaivers, spec.constructPath);
  const labels = standardLabels(spec, model.sha256);
  const annotations: Record<string, string> = { [ANNOTATIONS.modelSha256]: model.sha256 };
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
    renderDeployment(spec, model, metadata({ annotations })),
  ];
  if (spec.scaling.kind === 'horizontal')
    objects.push(renderHorizontalPodAutoscaler(spec, spec.scaling, metadata()));
  objects.push(renderPodDisruptionBudget(spec, metadata()), renderNetworkPolicy(spec, metadata()));
  if (spec.ingress) objects.push(renderIngress(spec, spec.ingress, metadata()));
  return objects;
}
