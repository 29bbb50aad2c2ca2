import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import {
  type DeploymentTargetProps,
  type MultiCloudDeploymentProps,
  type MultiCloudDeploymentSpec,
  PropsChecker,
  stringProp,
  objectProp,
  MULTI_CLOUD_DEPLOYMENT_PROPS_SHAPE,
  DEPLOYMENT_TARGET_PROPS_SHAPE,
  listProp,
  show,
} from '../core';
import {
  multiCloudSummary,
  type MultiCloudSummary,
  planMultiCloud,
  type PlannedMultiCloud,
  type TargetOutcome,
} from '../pipeline';
import { InferenceService } from './inference-service';
import { multiCloudRoute53 } from './multi-cloud-route53';

export type { MultiCloudDeploymentProps } from '../core';

/** A target, and the cluster it deploys to. */
export interface MultiCloudTargetArgs extends DeploymentTargetProps {
  /** The cluster's Kubernetes provider (made elsewhere in the program). @default - one from kubeconfig and context */
  readonly provider?: k8s.Provider;
  /** A kubeconfig, its path or its contents, for the target's provider. @default - $KUBECONFIG or ~/.kube/config */
  readonly kubeconfig?: pulumi.Input<string>;
  /** The kubeconfig context of the target's cluster. @default - the kubeconfig's current context */
  readonly context?: pulumi.Input<string>;
}

/** MultiCloudDeploymentProps, with each target's cluster, and where the gates' reports are written. */
export interface MultiCloudDeploymentArgs extends Omit<MultiCloudDeploymentProps, 'targets'> {
  readonly targets: MultiCloudTargetArgs[];
  /** The folder of every target's gate reports (`<outdir>/<name>-<target>.gate.*`). @default 'modelfab.out' */
  readonly outdir?: string;
}

const ARGS_SHAPE = objectProp<MultiCloudDeploymentArgs>(
  {
    ...MULTI_CLOUD_DEPLOYMENT_PROPS_SHAPE.fields,
    targets: listProp(
      objectProp<MultiCloudTargetArgs>(
        {
          ...DEPLOYMENT_TARGET_PROPS_SHAPE.fields,
          provider: { kind: 'opaque' },
          kubeconfig: stringProp('~/.kube/config'),
          context: stringProp('gke_acme_europe-west4_prod'),
        },
        DEPLOYMENT_TARGET_PROPS_SHAPE.required as readonly Extract<keyof MultiCloudTargetArgs, string>[],
      ),
    ),
    outdir: stringProp('modelfab.out'),
  },
  MULTI_CLOUD_DEPLOYMENT_PROPS_SHAPE.required as readonly Extract<keyof MultiCloudDeploymentArgs, string>[],
);

/**
 * One gated model on several clusters, as a Pulumi component: the same props and the same
 * per-target objects as the cdk8s MultiCloudDeployment (planned in `lib/pipeline`), with
 * - a Kubernetes provider per target (`<name>-<target>-cluster`, from its kubeconfig and context,
 *   or the provider passed in) and an InferenceService per target on it (`<name>-<target>`);
 * - waves: each wave's services depend on the previous wave's, and the Kubernetes provider waits
 *   for every Deployment to be ready, so a wave that fails stops the rollout there;
 * - with `routing.dns.route53`, Route53 health checks on each target's host and records for the
 *   global hostname with the routing policy, pointing at each target's load balancer as its Ingress
 *   reports it (`<name>-<target>-health-check`, `-record`, `-host-record`); needs `@pulumi/aws`.
 *
 * Outputs: `hostname`, `summary` (the plan table with each target's measured capacity and replicas,
 * each target's service name, URL and cost, and the total cost per hour and per million inferences).
 */
export class MultiCloudDeployment extends pulumi.ComponentResource {
  /** The resolved props and the traffic plan. */
  readonly spec: MultiCloudDeploymentSpec;
  /** The global hostname. */
  readonly hostname: string;
  /** Each target's service, by target name. */
  readonly services: Readonly<Record<string, InferenceService>>;
  /** The plan with what each target measured, its URL and cost, and the total cost. */
  readonly summary: pulumi.Output<MultiCloudSummary>;

  constructor(name: string, args: MultiCloudDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before anything is registered, like the cdk8s construct's constructor.
    const check = new PropsChecker(name);
    check.knownProps(args, ARGS_SHAPE, 'MultiCloudDeployment', 'arg');
    if (args.rollout?.applicationSet !== undefined) {
      // Argo CD would apply the same objects from a repository: two writers for each target.
      check.fail(
        'rollout.applicationSet',
        `rollout.applicationSet ${show(args.rollout.applicationSet)} has Argo CD apply each target's manifests from a repository, but this component deploys them itself, wave after wave; remove it, or write the manifests Argo CD syncs with the cdk8s MultiCloudDeployment`,
      );
    }
    const { outdir, targets, ...rest } = args;
    const planned: PlannedMultiCloud = planMultiCloud(
      {
        ...rest,
        targets: targets.map(({ provider: _p, kubeconfig: _k, context: _c, ...target }) => target),
      },
      name,
      { fallbackId: name, path: (target) => `${name}-${target}` },
    );
    const serviceName = planned.serviceId;
    targets.forEach((target, i) => {
      if (
        targets.length > 1 &&
        !target.provider &&
        target.kubeconfig === undefined &&
        target.context === undefined
      ) {
        check.fail(
          `targets[${i}]`,
          `targets[${i}] (${target.name}) names no cluster, so every target would deploy to the default one; set provider, or kubeconfig and context`,
        );
      }
    });
    super('modelfab:index:MultiCloudDeployment', name, args, opts);
    this.spec = planned.spec;
    this.hostname = planned.spec.routing.hostname;
    const services: Record<string, InferenceService> = {};
    const providers: Record<string, k8s.Provider | undefined> = {};
    const byWave = new Map<number, InferenceService[]>();
    // Wave by wave, so each wave's services can depend on the previous wave's.
    const ordered = [...planned.targets].sort((a, b) => a.target.wave - b.target.wave);
    for (const { target, service } of ordered) {
      const given = targets.find((t) => t.name === target.name) as MultiCloudTargetArgs;
      const provider =
        given.provider ??
        (given.kubeconfig !== undefined || given.context !== undefined
          ? new k8s.Provider(
              `${name}-${target.name}-cluster`,
              {
                ...(given.kubeconfig !== undefined ? { kubeconfig: given.kubeconfig } : {}),
                ...(given.context !== undefined ? { context: given.context } : {}),
              },
              { parent: this },
            )
          : undefined);
      providers[target.name] = provider;
      const previous = byWave.get(target.wave - 1) ?? [];
      const created = new InferenceService(
        `${name}-${target.name}`,
        { ...service, name: serviceName, ...(outdir !== undefined ? { outdir } : {}) },
        {
          parent: this,
          ...(provider ? { provider } : {}),
          ...(previous.length > 0 ? { dependsOn: previous } : {}),
        },
      );
      services[target.name] = created;
      byWave.set(target.wave, [...(byWave.get(target.wave) ?? []), created]);
    }
    this.services = services;
    if (planned.spec.routing.dns.kind === 'route53') {
      multiCloudRoute53(this, name, planned, services, providers);
    }
    this.summary = summaryOf(planned, services);
    this.registerOutputs({ hostname: this.hostname, summary: this.summary });
  }
}

/** The deployment's summary once every service's gate report and cost are known; differing models fail it. */
function summaryOf(
  planned: PlannedMultiCloud,
  services: Readonly<Record<string, InferenceService>>,
): pulumi.Output<MultiCloudSummary> {
  const outcomes = planned.targets.map(({ target }) => {
    const service = services[target.name];
    return pulumi
      .all([service.name, service.url, service.gateReport, service.cost])
      .apply(([serviceName, url, gateReport, cost]): TargetOutcome => ({
        target: target.name,
        serviceName,
        url,
        ...(gateReport ? { gateReport } : {}),
        ...(cost ? { cost } : {}),
      }));
  });
  return pulumi.all(outcomes).apply((list) => multiCloudSummary(planned, list));
}
