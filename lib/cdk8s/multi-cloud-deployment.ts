import { ApiObject, App, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { type MultiCloudDeploymentProps, type MultiCloudDeploymentSpec } from '../core';
import {
  multiCloudSummary,
  type MultiCloudSummary,
  planMultiCloud,
  type PlannedMultiCloud,
} from '../pipeline';
import { renderApplicationSet } from '../render';
import { InferenceService } from './inference-service';

export type { MultiCloudDeploymentProps } from '../core';

/**
 * One gated model on several clusters: an InferenceService per target, each in a chart of its own
 * at the app's root and so in its own manifest file, `<target>.k8s.yaml`, to apply to that cluster.
 * The global SLO is split over the targets by the routing policy, so that it holds with
 * `slo.survive` targets lost; each target's share is its service's SLO, and its replicas come from
 * the capacity its own gate measures (one gate per distinct hardware: targets on the same hardware
 * read the same cached measurement). Each target's Ingress carries the global hostname, its own
 * host, and the external-dns annotations of the routing policy; every object is labelled with its
 * wave (`modelfab.dev/wave`). With `rollout.applicationSet`, an Argo CD ApplicationSet in
 * `<id>-applicationset.k8s.yaml` syncs the targets wave by wave (RollingSync).
 *
 * Route53 records and health checks are AWS resources: the Pulumi component creates them; here
 * `routing.dns` must be external-dns.
 *
 * @example
 * new MultiCloudDeployment(app, 'iris', {
 *   service: { image, gate: { latencyP99Ms: 20 } },
 *   targets: [
 *     { name: 'eks-us', cloud: 'aws', region: 'us-east-1', routing: { weight: 60 } },
 *     { name: 'gke-eu', cloud: 'gcp', region: 'europe-west4', routing: { weight: 40 }, wave: 2 },
 *   ],
 *   routing: { hostname: 'iris.example.com', policy: 'weighted' },
 *   slo: { targetRps: 2000 },
 * });
 */
export class MultiCloudDeployment extends Construct {
  /** The resolved props and the traffic plan. */
  readonly spec: MultiCloudDeploymentSpec;
  /** The global hostname. */
  readonly hostname: string;
  /** Each target's chart, by target name. */
  readonly charts: Readonly<Record<string, Chart>>;
  /** Each target's service, by target name. */
  readonly services: Readonly<Record<string, InferenceService>>;
  /** The ApplicationSet, with `rollout.applicationSet`. */
  readonly applicationSet: ApiObject | undefined;
  private readonly planned: PlannedMultiCloud;

  /**
   * @param scope the app, or a construct in it: the target charts are created at the app's root
   * so that each gets a manifest file named after its target
   */
  constructor(scope: Construct, id: string, props: MultiCloudDeploymentProps) {
    super(scope, id);
    this.planned = planMultiCloud(props, this.node.path, {
      fallbackId: id,
      path: (target, serviceId) => `${target}/${serviceId}`,
    });
    const { serviceId } = this.planned;
    this.spec = this.planned.spec;
    if (this.spec.routing.dns.kind === 'route53') {
      throw new Error(
        `[${this.node.path}] routing.dns.route53 creates Route53 records and health checks, which are AWS resources cdk8s cannot make; use routing.dns: { externalDns: true } with external-dns in each cluster, or the Pulumi component`,
      );
    }
    this.hostname = this.spec.routing.hostname;
    const app = App.of(this);
    const charts: Record<string, Chart> = {};
    const services: Record<string, InferenceService> = {};
    for (const { target, service } of this.planned.targets) {
      const chart = new Chart(app, target.name, service.namespace ? { namespace: service.namespace } : {});
      charts[target.name] = chart;
      services[target.name] = new InferenceService(chart, serviceId, service);
    }
    this.charts = charts;
    this.services = services;
    const set = this.spec.applicationSet;
    this.applicationSet = set
      ? new ApiObject(
          new Chart(app, `${id}-applicationset`),
          'application-set',
          renderApplicationSet({
            name: id,
            namespace: set.namespace,
            project: set.project,
            repoURL: set.repoURL,
            path: set.path,
            targetRevision: set.targetRevision,
            // Where each target's objects go when the manifests name no namespace.
            destinationNamespace: props.service.namespace ?? 'default',
            targets: this.spec.targets.map((t) => ({ name: t.name, cluster: t.argoCluster, wave: t.wave })),
          }),
        )
      : undefined;
  }

  /** The hostname, the traffic plan with each target's measured capacity, each target's service, URL and cost, and the total cost. */
  get summary(): MultiCloudSummary {
    return multiCloudSummary(
      this.planned,
      this.planned.targets.map(({ target }) => {
        const service = this.services[target.name];
        return {
          target: target.name,
          serviceName: service.name,
          url: service.url,
          ...(service.gateReport ? { gateReport: service.gateReport } : {}),
          ...(service.cost ? { cost: service.cost } : {}),
        };
      }),
    );
  }
}
