/**
 * A MultiCloudDeployment from props to one InferenceService's props per target, the same for every
 * engine: the props resolved and the global SLO split over the targets (lib/core), then each
 * target's service composed from the shared service, its overrides, its share of the load (as the
 * service's SLO, so its replicas come from its own measured capacity), the routing hosts, the
 * external-dns annotations and its wave label. The adapters create the services in their engine;
 * what the deployment reports afterwards (the plan table, the cost) is summarized here too.
 */
import {
  type CostPlan,
  defaultModelName,
  type InferenceServiceProps,
  resolveInferenceService,
  type MultiCloudDeploymentProps,
  type MultiCloudDeploymentSpec,
  type MultiCloudTargetSpec,
  ModelfabValidationError,
  PropsChecker,
  resolveMultiCloud,
  type TargetLoad,
  formatNumber,
  formatTrafficPlan,
  derivedSlo,
} from '../core';
import { type GateReport } from '../gate';
import { inspectModelFor } from '../model';
import { externalDnsAnnotations, WAVE_LABEL } from '../render';

/** One target and the InferenceService props it runs. */
export interface MultiCloudTargetPlan {
  readonly target: MultiCloudTargetSpec;
  /** Its part of the global load: with survive, the most it must carry when others are lost. */
  readonly load: TargetLoad;
  /** The target's InferenceService props. */
  readonly service: InferenceServiceProps;
}

/** A MultiCloudDeployment planned: resolved, and a service's props per target. */
export interface PlannedMultiCloud {
  readonly spec: MultiCloudDeploymentSpec;
  /** In the order of the props' targets. */
  readonly targets: readonly MultiCloudTargetPlan[];
  /** Every target's service's id (its objects' name): `service.name`, else the model's, else the fallback. */
  readonly serviceId: string;
}

/**
 * Resolves the props, composes each target's service props and checks them as its service will
 * (so a bad override fails here, naming the target, before any target is built), and checks that
 * every target serves the same model file. Throws on the first bad value; nothing is written.
 *
 * @param services the id a target's service falls back to without a model name (the deployment's),
 * and the path or name a target's service is known by in messages
 */
export function planMultiCloud(
  props: MultiCloudDeploymentProps,
  constructPath: string,
  services: { readonly fallbackId: string; readonly path: (target: string, serviceId: string) => string },
): PlannedMultiCloud {
  const spec = resolveMultiCloud(new PropsChecker(constructPath), props);
  const serviceId = props.service.name ?? modelNameOf(props.service) ?? services.fallbackId;
  const targets = spec.targets.map((target) => {
    const load = spec.plan.targets.find((l) => l.name === target.name) as TargetLoad;
    return { target, load, service: targetServiceProps(spec, props.service, target, load) };
  });
  const models = targets.map(({ target, service }) => {
    const path = services.path(target.name, serviceId);
    const { modelPath } = resolveInferenceService(service, { constructPath: path, id: serviceId });
    return { target: target.name, path, modelPath };
  });
  const problems = modelProblems(models);
  if (problems.length > 0) throw new ModelfabValidationError(constructPath, 'targets', problems[0]);
  return { spec, targets, serviceId };
}

/** The model's name, from a ModelImage's model path or the `model` prop; undefined without either. */
function modelNameOf(service: InferenceServiceProps): string | undefined {
  const image = service.image as { modelPath?: unknown } | string | undefined;
  const model =
    typeof image === 'object' && typeof image?.modelPath === 'string' ? image.modelPath : service.model;
  return typeof model === 'string' ? defaultModelName(model) : undefined;
}

/**
 * The target's service: the shared props with the target's overrides (its replicas replacing the
 * service's autoscaling and the other way round; env merged over the service's), the global
 * hostname and the target's host on its Ingress with the external-dns annotations when external-dns
 * writes the records, the wave label on every object, and its load as the service's SLO.
 */
export function targetServiceProps(
  spec: MultiCloudDeploymentSpec,
  service: InferenceServiceProps,
  target: MultiCloudTargetSpec,
  load: TargetLoad,
): InferenceServiceProps {
  const t = target.props;
  // A target's own ModelImage carries its model: the service's model path would be a second one.
  const { replicas, autoscaling, model, ...rest } = service;
  const shared = typeof t.image === 'object' ? rest : { ...rest, ...(model !== undefined ? { model } : {}) };
  const scaling =
    t.replicas !== undefined
      ? { replicas: t.replicas }
      : t.autoscaling !== undefined
        ? { autoscaling: t.autoscaling }
        : {
            ...(replicas !== undefined ? { replicas } : {}),
            ...(autoscaling !== undefined ? { autoscaling } : {}),
          };
  const env = service.env || t.env ? { env: { ...service.env, ...t.env } } : {};
  const annotations = {
    ...service.ingress?.annotations,
    ...(spec.routing.dns.kind === 'external-dns'
      ? externalDnsAnnotations(spec.routing, target.routing, { prefix: spec.routing.dns.annotationPrefix })
      : {}),
  };
  return {
    ...shared,
    ...scaling,
    ...env,
    ...(t.resources !== undefined ? { resources: t.resources } : {}),
    ...(t.image !== undefined ? { image: t.image } : {}),
    ...(t.placement !== undefined ? { placement: t.placement } : {}),
    ingress: { ...service.ingress, hosts: [spec.routing.hostname, target.host], annotations },
    labels: { ...service.labels, [WAVE_LABEL]: String(target.wave) },
    // A standby that takes no traffic in any case the plan covers keeps its own scaling.
    ...(load.requiredRps > 0
      ? {
          slo: derivedSlo(
            { targetRps: load.requiredRps, targetUtilization: spec.slo.targetUtilization },
            loadOrigin(spec, load),
          ),
        }
      : {}),
  };
}

/**
 * What a target's load is, for its capacity messages: its share of the global SLO with every target
 * up, and the loss that sets what it must carry when that is more.
 */
function loadOrigin(spec: MultiCloudDeploymentSpec, load: TargetLoad): string {
  const share = (fraction: number) => `${formatNumber(fraction * 100)}%`;
  const lost = load.bindingLoss;
  const binding =
    lost.length === 0
      ? ''
      : `, ${share(load.requiredRps / spec.slo.targetRps)} when ${lost.join(' and ')} ${lost.length === 1 ? 'is' : 'are'} lost`;
  return `target ${load.name}'s share of the global slo.targetRps ${spec.slo.targetRps} (${share(load.share)} with every target up${binding})`;
}

/**
 * The problem when the targets do not all serve the same model, byte for byte (a per-target image
 * of another model), naming the first target and each that differs by its digest; none when they
 * agree. Files at one path are not read again.
 */
export function modelProblems(
  models: ReadonlyArray<{
    readonly target: string;
    /** The target's service's path, for a file that cannot be read. */
    readonly path: string;
    readonly modelPath: string;
  }>,
): string[] {
  const [first, ...rest] = models;
  const others = rest.filter((m) => m.modelPath !== first?.modelPath);
  if (others.length === 0) return [];
  const digest = (m: { path: string; modelPath: string }) => inspectModelFor(m.path, m.modelPath).sha256;
  const expected = digest(first);
  const differ = others.map((m) => ({ ...m, sha256: digest(m) })).filter((m) => m.sha256 !== expected);
  if (differ.length === 0) return [];
  return [
    `targets serve different models: ${first.target} serves ${first.modelPath} (sha256 ${expected.slice(0, 12)}), ${differ
      .map((m) => `${m.target} ${m.modelPath} (sha256 ${m.sha256.slice(0, 12)})`)
      .join(', ')}; one model everywhere: give those targets an image built from the service's model`,
  ];
}

/** What one target's service reports once it exists. */
export interface TargetOutcome {
  readonly target: string;
  readonly serviceName: string;
  readonly url: string;
  readonly gateReport?: GateReport;
  readonly cost?: CostPlan;
}

/** What the deployment reports: the hostname, the plan, each target, and the cost over all of them. */
export interface MultiCloudSummary {
  readonly hostname: string;
  /** The traffic plan with each target's measured capacity and replicas, as a Markdown table. */
  readonly planTable: string;
  readonly targets: ReadonlyArray<
    TargetOutcome & {
      readonly share: number;
      readonly requiredRps: number;
      readonly bindingLoss: readonly string[];
      readonly replicas?: number;
      readonly perReplicaRps?: number;
    }
  >;
  /** Every target's hourly cost, summed; absent unless every target is priced (placement or nodeType). */
  readonly costPerHour?: number;
  /** That cost over what the hostname serves in an hour at slo.targetRps, per million inferences. */
  readonly costPerMillionInferences?: number;
}

export function multiCloudSummary(
  planned: PlannedMultiCloud,
  outcomes: readonly TargetOutcome[],
): MultiCloudSummary {
  const { spec } = planned;
  const targets = planned.targets.map(({ target, load }) => {
    const outcome = outcomes.find((o) => o.target === target.name) as TargetOutcome;
    const capacity = outcome.gateReport?.capacity;
    return {
      ...outcome,
      share: load.share,
      requiredRps: load.requiredRps,
      bindingLoss: load.bindingLoss,
      ...(capacity ? { replicas: capacity.replicas, perReplicaRps: capacity.perReplicaRps } : {}),
    };
  });
  const measured = new Map(
    targets.flatMap((t) =>
      t.replicas !== undefined && t.perReplicaRps !== undefined
        ? [[t.target, { perReplicaRps: t.perReplicaRps, replicas: t.replicas }] as const]
        : [],
    ),
  );
  const costs = targets.map((t) => t.cost?.costPerHour);
  const priced = costs.every((c): c is number => c !== undefined);
  const costPerHour = priced ? costs.reduce((sum, c) => sum + c, 0) : undefined;
  return {
    hostname: spec.routing.hostname,
    planTable: formatTrafficPlan(spec.plan, measured),
    targets,
    ...(costPerHour !== undefined
      ? {
          costPerHour,
          costPerMillionInferences: (costPerHour / (spec.slo.targetRps * 3600)) * 1e6,
        }
      : {}),
  };
}
