/**
 * Validates plain Kubernetes objects against the OpenAPI schema of their apiVersion and kind,
 * with the validators `kubernetes-models` generates from the Kubernetes OpenAPI spec.
 * (kubernetes-models is ESM-only, hence the dynamic imports.)
 */
interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const LOADERS: Record<string, () => Promise<ModelClass>> = {
  'v1/ServiceAccount': async () => (await import('kubernetes-models/v1/ServiceAccount')).ServiceAccount,
  'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service,
  'apps/v1/Deployment': async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': async () =>
    (await import('kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler')).HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': async () =>
    (await import('kubernetes-models/policy/v1/PodDisruptionBudget')).PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': async () =>
    (await import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy')).NetworkPolicy,
  'networking.k8s.io/v1/Ingress': async () =>
    (await import('kubernetes-models/networking.k8s.io/v1/Ingress')).Ingress,
  'v1/ConfigMap': async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap,
  'apps/v1/DaemonSet': async () => (await import('kubernetes-models/apps/v1/DaemonSet')).DaemonSet,
  // Karpenter's CRDs, as @kubernetes-models/karpenter generates them.
  'keda.sh/v1alpha1/ScaledObject': async () =>
    (await import('@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject')).ScaledObject,
  'gateway.networking.k8s.io/v1/HTTPRoute': async () =>
    (await import('@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute')).HTTPRoute,
  'karpenter.sh/v1/NodePool': async () =>
    (await import('@kubernetes-models/karpenter/karpenter.sh/v1/NodePool')).NodePool,
  'karpenter.k8s.aws/v1/EC2NodeClass': async () =>
    (await import('@kubernetes-models/karpenter/karpenter.k8s.aws/v1/EC2NodeClass')).EC2NodeClass,
  // GKE's ComputeClass, as @kubernetes-models/gke generates it.
  'cloud.google.com/v1/ComputeClass': async () =>
    (await import('@kubernetes-models/gke/cloud.google.com/v1/ComputeClass')).ComputeClass,
  // The Prometheus operator's CRDs, as @kubernetes-models/prometheus-operator generates them.
  'monitoring.coreos.com/v1/ServiceMonitor': async () =>
    (await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'))
      .ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': async () =>
    (await import('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule'))
      .PrometheusRule,
  // Argo CD's ApplicationSet, as @kubernetes-models/argo-cd generates it.
  'argoproj.io/v1alpha1/ApplicationSet': async () =>
    (await import('@kubernetes-models/argo-cd/argoproj.io/v1alpha1/ApplicationSet')).ApplicationSet,
};

/** Rejects with the schema errors when the object does not validate; an unknown kind is an error too. */
export async function validateAgainstSchema(object: { apiVersion: string; kind: string }): Promise<void> {
  const load = LOADERS[`${object.apiVersion}/${object.kind}`];
  if (!load) throw new Error(`no schema registered for ${object.apiVersion}/${object.kind}`);
  const Model = await load();
  new Model(object as never).validate();
}
