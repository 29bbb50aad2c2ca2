/**
 * MultiCloudDeployment's rollout in waves, as an Argo CD ApplicationSet (`argoproj.io/v1alpha1`):
 * one Application per target, generated from a list, each syncing the one manifest file cdk8s
 * wrote for that target (`<target>.k8s.yaml`) to the target's cluster, and a RollingSync strategy
 * that syncs the Applications wave by wave, the next wave only once every Application of the last
 * is healthy. Pure: a resolved spec in, a plain object out.
 *
 * Argo CD's progressive syncs must be enabled on its ApplicationSet controller
 * (`applicationsetcontroller.enable.progressive.syncs: "true"`). Under RollingSync the controller
 * turns the Applications' automated sync off and triggers each sync itself, with the template's
 * `prune` and sync options; without progressive syncs the same Applications sync automatically,
 * all at once.
 */
import type { IApplicationSet } from '@kubernetes-models/argo-cd/argoproj.io/v1alpha1/ApplicationSet' with {
  'resolution-mode': 'import',
};

/** The label on each generated Application that names its wave; the RollingSync steps select on it. */
export const WAVE_LABEL = 'modelfab.dev/wave';

/** One target of the rollout. */
export interface ApplicationSetTarget {
  /** The target's name: its manifests are `<name>.k8s.yaml`, its Application `<set name>-<name>`. */
  readonly name: string;
  /**
   * The cluster it deploys to, as Argo CD knows it: a registered cluster's name, or its API server
   * URL (`https://…`, e.g. `https://kubernetes.default.svc` for Argo CD's own).
   */
  readonly cluster: string;
  /** Its wave (0, 1, …): lower waves sync first. */
  readonly wave: number;
}

/** The ApplicationSet that rolls a MultiCloudDeployment out, resolved. */
export interface ApplicationSetSpec {
  /** The ApplicationSet's name; its Applications are `<name>-<target>`. */
  readonly name: string;
  /** The namespace Argo CD runs in (the caller's default: `argocd`). */
  readonly namespace: string;
  /** The Argo CD project the Applications belong to. */
  readonly project: string;
  /** The Git repository the synthesized manifests are committed to. */
  readonly repoURL: string;
  /** The directory of the manifests in it (cdk8s's output directory). */
  readonly path: string;
  /** The branch, tag or commit to deploy. */
  readonly targetRevision: string;
  /**
   * The namespace the Applications deploy to, which must exist (namespaces are not created); it
   * applies to any namespaced object whose manifest names none.
   */
  readonly destinationNamespace: string;
  readonly targets: readonly ApplicationSetTarget[];
}

const isServerUrl = (cluster: string): boolean => /^https?:\/\//.test(cluster);

/** The ApplicationSet for `spec`: one RollingSync step per distinct wave, in ascending order. */
export function renderApplicationSet(spec: ApplicationSetSpec): IApplicationSet {
  const waves = [...new Set(spec.targets.map((target) => target.wave))].sort((a, b) => a - b);
  // Argo CD refuses a destination with both a cluster name and a server, and treats an empty one as
  // absent: the template names what the targets use, and a mixed list leaves the other one empty.
  const byName = spec.targets.some((target) => !isServerUrl(target.cluster));
  const byServer = spec.targets.some((target) => isServerUrl(target.cluster));
  const elements = spec.targets.map((target) => ({
    name: target.name,
    // Strings: labels and the steps' values are strings.
    wave: String(target.wave),
    ...(byName ? { clusterName: isServerUrl(target.cluster) ? '' : target.cluster } : {}),
    ...(byServer ? { server: isServerUrl(target.cluster) ? target.cluster : '' } : {}),
  }));
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'ApplicationSet',
    metadata: {
      name: spec.name,
      namespace: spec.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'modelfab' },
    },
    spec: {
      goTemplate: true,
      // A parameter a template names but an element lacks is an error, not an empty string.
      goTemplateOptions: ['missingkey=error'],
      generators: [{ list: { elements } }],
      template: {
        metadata: {
          name: `${spec.name}-{{.name}}`,
          labels: { [WAVE_LABEL]: '{{.wave}}', 'app.kubernetes.io/managed-by': 'modelfab' },
        },
        spec: {
          project: spec.project,
          source: {
            repoURL: spec.repoURL,
            path: spec.path,
            targetRevision: spec.targetRevision,
            // cdk8s writes one file per target (its chart), named after it.
            directory: { include: '{{.name}}.k8s.yaml' },
          },
          destination: {
            ...(byName ? { name: '{{.clusterName}}' } : {}),
            ...(byServer ? { server: '{{.server}}' } : {}),
            namespace: spec.destinationNamespace,
          },
          syncPolicy: {
            automated: { prune: true, selfHeal: true },
            syncOptions: ['CreateNamespace=false'],
          },
        },
      },
      strategy: {
        type: 'RollingSync',
        rollingSync: {
          steps: waves.map((wave) => ({
            matchExpressions: [{ key: WAVE_LABEL, operator: 'In', values: [String(wave)] }],
          })),
        },
      },
    },
  };
}
