/**
 * An InferenceService from props to rendered objects, the same for every engine: unknown props
 * refused, props resolved, the model inspected, the gate run (or read from its cache) and its
 * reports written, the objects rendered. The adapters (cdk8s, Pulumi) map the objects onto their
 * engine and report `serviceProblems` (lib/render: the gate, the capacity plan and the policy) for
 * the objects they will deploy, after the user's patches, their engine's way.
 */
import {
  type ChosenNode,
  chooseNode,
  type CostPlan,
  type InferenceServiceProps,
  type InferenceServiceSpec,
  ModelfabValidationError,
  resolveInferenceService,
  servedAsStable,
  type ResolveContext,
  show,
} from '../core';
import {
  gateOutcome,
  gateOutcomeSync,
  type GateOutcome,
  type GateRun,
  serviceCost,
  writeGateReports,
} from '../gate';
import { inspectModelFor, type ModelInfo } from '../model';
import { gateServerEnv, type KubeObject, renderCanaryRoute, renderInferenceService } from '../render';
import { serverEntryFile } from '../server/bundle-server';

/** Where the construct is, and where its gate's reports go. */
export interface InferenceServiceContext extends ResolveContext {
  /** Where the gate's reports go: `<dir>/<name>.gate.{json,md,svg}`. */
  readonly reports: { readonly dir: string; readonly name: string };
}

/** The props checked and resolved, and the model inspected: everything known before the gate. */
export interface CheckedInferenceService {
  readonly spec: InferenceServiceSpec;
  readonly model: ModelInfo;
  readonly context: InferenceServiceContext;
  /** The node a pod lands on (placement or nodeType), which prices the service; undefined without one. */
  readonly node?: ChosenNode;
  /** The canary's candidate, checked as a service of its own (`<name>-canary`). */
  readonly canary?: CheckedInferenceService;
}

/** An InferenceService rendered: its objects in apply order. */
export interface PreparedInferenceService extends Omit<CheckedInferenceService, 'canary'> {
  /** The gate's outcome; undefined without a gate. */
  readonly gate?: GateOutcome;
  /** What the service costs; undefined without a node to price it (placement or nodeType). */
  readonly cost?: CostPlan;
  /** The objects, with the canary's HTTPRoute when there is a canary. */
  readonly objects: readonly KubeObject[];
  /** The canary's candidate, rendered as a service of its own (its gate, its objects). */
  readonly canary?: PreparedInferenceService;
}

/**
 * Resolves the props (refusing unknown keys, naming the nearest known one) and inspects the model.
 * Throws ModelfabValidationError on the first bad value; nothing is written.
 */
export function checkInferenceService(
  props: InferenceServiceProps,
  context: InferenceServiceContext,
): CheckedInferenceService {
  const spec = resolveInferenceService(props, context);
  const model = inspectModelFor(context.constructPath, spec.modelPath);
  const node = nodeOf(spec, model, context.constructPath);
  const candidate = spec.canary
    ? checkInferenceService(spec.canary.props, {
        ...context,
        constructPath: `${context.constructPath}/canary`,
        id: `${spec.name}-canary`,
        reports: { dir: context.reports.dir, name: `${context.reports.name}-canary` },
      })
    : undefined;
  const canary = candidate
    ? { ...candidate, spec: servedAsStable(context.constructPath, spec, candidate.spec) }
    : undefined;
  return { spec, model, context, ...(node ? { node } : {}), ...(canary ? { canary } : {}) };
}

/** {@link checkInferenceService}, then the gate (blocking: cdk8s constructs are synchronous), then the objects. */
export function prepareInferenceService(
  props: InferenceServiceProps,
  context: InferenceServiceContext,
): PreparedInferenceService {
  const checked = checkInferenceService(props, context);
  const outcome = (c: CheckedInferenceService) => {
    const run = gateRun(c);
    return run ? gateOutcomeSync(run) : undefined;
  };
  const stable = outcome(checked);
  return completeInferenceService(checked, stable, checked.canary ? outcome(checked.canary) : undefined);
}

/** The rest of {@link prepareInferenceService} after {@link checkInferenceService}, without blocking (Pulumi). */
export async function prepareCheckedInferenceService(
  checked: CheckedInferenceService,
): Promise<PreparedInferenceService> {
  const outcome = async (c: CheckedInferenceService) => {
    const run = gateRun(c);
    return run ? await gateOutcome(run) : undefined;
  };
  const stable = await outcome(checked);
  return completeInferenceService(
    checked,
    stable,
    checked.canary ? await outcome(checked.canary) : undefined,
  );
}

function gateRun({ spec, model, context }: CheckedInferenceService): GateRun | undefined {
  if (!spec.gate) return undefined;
  return {
    constructPath: context.constructPath,
    modelName: spec.modelName,
    model,
    gate: spec.gate,
    ...(spec.slo ? { slo: spec.slo } : {}),
    resources: spec.resources.limits,
    server: { entry: serverEntryFile(), env: gateServerEnv(spec, model) },
    ...(spec.placement ? { gpu: spec.placement.gpuName } : {}),
  };
}

/**
 * The node a pod of the service lands on: the cheapest of the placement's instance types it fits,
 * or its `nodeType`; undefined for a CPU service without one. Throws unless a pod fits: its
 * requests after the system reserve, its GPUs dividing the node's, the model in one GPU's memory
 * (the file's size, the least the weights take there). Each type's miss is named.
 */
function nodeOf(spec: InferenceServiceSpec, model: ModelInfo, constructPath: string): ChosenNode | undefined {
  const requests = {
    cpuMillis: spec.resources.requests.cpuMillis,
    memoryBytes: spec.resources.requests.memoryBytes,
  };
  if (spec.placement) {
    const chosen = chooseNode(spec.placement, requests, model.sizeBytes);
    if ('node' in chosen) return chosen.node;
    throw new ModelfabValidationError(
      constructPath,
      'placement',
      `placement on pool ${show(spec.placement.pool)}: a pod fits none of its instance types (${chosen.problems.join('; ')}); lower resources, or use a pool with larger nodes`,
    );
  }
  if (spec.nodeType) {
    const chosen = chooseNode({ nodeTypes: [spec.nodeType], gpusPerPod: 0, podsPerGpu: 1 }, requests, 0);
    if ('node' in chosen) return chosen.node;
    throw new ModelfabValidationError(
      constructPath,
      'nodeType',
      `nodeType ${show(spec.nodeType.instanceType)}: a pod does not fit (${chosen.problems.join('; ')}); lower resources, or use a larger nodeType`,
    );
  }
  return undefined;
}

function completeInferenceService(
  checked: CheckedInferenceService,
  gate: GateOutcome | undefined,
  canaryGate?: GateOutcome,
): PreparedInferenceService {
  const { spec, model, context, node, canary: _canary, ...rest } = checked;
  const cost = node ? serviceCost(spec, node, gate) : undefined;
  // The cost is the service's, not the measurement's: it joins the report here, never the cache.
  const outcome: GateOutcome | undefined =
    gate && gate.status !== 'skipped' && cost ? { ...gate, report: { ...gate.report, cost } } : gate;
  if (outcome && outcome.status !== 'skipped')
    writeGateReports(context.reports.dir, context.reports.name, outcome.report);
  const canary = checked.canary ? completeInferenceService(checked.canary, canaryGate) : undefined;
  const objects = renderInferenceService(spec, model, outcome);
  return {
    ...rest,
    spec,
    model,
    context,
    ...(node ? { node } : {}),
    ...(outcome ? { gate: outcome } : {}),
    ...(cost ? { cost } : {}),
    objects:
      canary && spec.canary ? [...objects, renderCanaryRoute(spec, spec.canary, canary.spec)] : objects,
    ...(canary ? { canary } : {}),
  };
}
