/**
 * Maps a rendered Kubernetes object onto its typed `@pulumi/kubernetes` resource. Nothing is
 * decided here: the object is passed as it was rendered.
 */
import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import { type KubeObject } from '../render';

type KubernetesResourceClass = new (
  name: string,
  args: never,
  opts?: pulumi.CustomResourceOptions,
) => pulumi.CustomResource;

/**
 * The typed resource class of each kind modelfab renders, and the child's role (`${name}-<role>`) of
 * those a service renders (a pool's roles come with its objects).
 */
const KINDS: Readonly<Record<string, { readonly type: KubernetesResourceClass; readonly role?: string }>> = {
  'v1/ServiceAccount': { type: k8s.core.v1.ServiceAccount, role: 'service-account' },
  'v1/Service': { type: k8s.core.v1.Service, role: 'service' },
  'apps/v1/Deployment': { type: k8s.apps.v1.Deployment, role: 'deployment' },
  'autoscaling/v2/HorizontalPodAutoscaler': {
    type: k8s.autoscaling.v2.HorizontalPodAutoscaler,
    role: 'autoscaler',
  },
  'policy/v1/PodDisruptionBudget': { type: k8s.policy.v1.PodDisruptionBudget, role: 'disruption-budget' },
  'networking.k8s.io/v1/NetworkPolicy': { type: k8s.networking.v1.NetworkPolicy, role: 'network-policy' },
  'networking.k8s.io/v1/Ingress': { type: k8s.networking.v1.Ingress, role: 'ingress' },
  // A pool's ConfigMaps are named with their objects; a service's is its Grafana dashboard.
  'v1/ConfigMap': { type: k8s.core.v1.ConfigMap, role: 'dashboard' },
  'monitoring.coreos.com/v1/ServiceMonitor': {
    type: k8s.apiextensions.CustomResource,
    role: 'service-monitor',
  },
  'monitoring.coreos.com/v1/PrometheusRule': { type: k8s.apiextensions.CustomResource, role: 'alert-rules' },
  'apps/v1/DaemonSet': { type: k8s.apps.v1.DaemonSet },
};

/** Custom resources modelfab renders (a pool's, a service's autoscaler, route and monitoring): registered as `k8s.apiextensions.CustomResource`. */
const CUSTOM_KINDS: readonly string[] = [
  'karpenter.sh/v1/NodePool',
  'karpenter.k8s.aws/v1/EC2NodeClass',
  'cloud.google.com/v1/ComputeClass',
  'keda.sh/v1alpha1/ScaledObject',
  'gateway.networking.k8s.io/v1/HTTPRoute',
  'monitoring.coreos.com/v1/ServiceMonitor',
  'monitoring.coreos.com/v1/PrometheusRule',
];

/** The child's role of the custom resources a service renders. */
const CUSTOM_ROLES: Readonly<Record<string, string>> = {
  // A service has one autoscaler: an HPA, or KEDA's ScaledObject.
  'keda.sh/v1alpha1/ScaledObject': 'autoscaler',
  // A canary's split of the requests.
  'gateway.networking.k8s.io/v1/HTTPRoute': 'route',
};

/** Registers a service's `object` as its typed @pulumi/kubernetes resource named `${name}-<role>`. */
export function kubernetesResource(
  name: string,
  object: KubeObject,
  opts: pulumi.CustomResourceOptions,
): pulumi.CustomResource {
  const role = CUSTOM_ROLES[`${object.apiVersion}/${object.kind}`] ?? kindOf(object).role;
  if (role === undefined)
    throw new Error(`modelfab/pulumi has no service role for ${object.apiVersion} ${object.kind}`);
  return namedKubernetesResource(`${name}-${role}`, object, opts);
}

/**
 * Registers `object` under the child name given: its typed @pulumi/kubernetes resource, or a
 * CustomResource for the custom kinds modelfab renders.
 */
export function namedKubernetesResource(
  childName: string,
  object: KubeObject,
  opts: pulumi.CustomResourceOptions,
): pulumi.CustomResource {
  if (CUSTOM_KINDS.includes(`${object.apiVersion}/${object.kind}`)) {
    return new k8s.apiextensions.CustomResource(childName, object, opts);
  }
  return new (kindOf(object).type)(childName, object as never, opts);
}

function kindOf(object: Pick<KubeObject, 'apiVersion' | 'kind'>) {
  const kind = KINDS[`${object.apiVersion}/${object.kind}`];
  if (!kind) {
    // A renderer produced a kind this adapter does not map: a modelfab bug, not a user error.
    throw new Error(
      `modelfab/pulumi has no resource for ${object.apiVersion} ${object.kind}; known: ${Object.keys(KINDS).join(', ')}`,
    );
  }
  return kind;
}
