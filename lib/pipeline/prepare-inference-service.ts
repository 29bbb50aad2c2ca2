/**
 * An InferenceService from props to rendered objects, the same for every engine: unknown props
 * refused, props resolved, the model inspected, the gate run (or read from its cache) and its
 * reports written, the objects rendered. The adapters (cdk8s, Pulumi) map the objects onto their
 * engine and report `serviceProblems` (lib/render: the gate, the capacity plan and the policy) for
 * the objects they will deploy, after the user's patches, their engine's way.
 */
import {
  chooseNode,
  type InferenceServiceProps,
  type InferenceServiceSpec,
  ModelfabValidationError,
  type Placement,
  resolveInferenceService,
  type ResolveContext,
  show,
} from '../core';
import { gateOutcome, gateOutcomeSync, type GateOutcome, type GateRun, writeGateReports } from '../gate';
import { inspectModelFor, type ModelInfo } from '../model';
import { gateServerEnv, type KubeObject, renderInferenceService } from '../render';
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
}

/** An InferenceService rendered: its objects in apply order. */
export interface PreparedInferenceService extends CheckedInferenceService {
  /** The gate's outcome; undefined without a gate. */
  readonly gate?: GateOutcome;
  readonly objects: readonly KubeObject[];
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
  if (spec.placement) checkPlacementFit(spec, spec.placement, model, context.constructPath);
  return { spec, model, context };
}

/** {@link checkInferenceService}, then the gate (blocking: cdk8s constructs are synchronous), then the objects. */
export function prepareInferenceService(
  props: InferenceServiceProps,
  context: InferenceServiceContext,
): PreparedInferenceService {
  const checked = checkInferenceService(props, context);
  const run = gateRun(checked);
  return completeInferenceService(checked, run ? gateOutcomeSync(run) : undefined);
}

/** The rest of {@link prepareInferenceService} after {@link checkInferenceService}, without blocking (Pulumi). */
export async function prepareCheckedInferenceService(
  checked: CheckedInferenceService,
): Promise<PreparedInferenceService> {
  const run = gateRun(checked);
  return completeInferenceService(checked, run ? await gateOutcome(run) : undefined);
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
 * Throws unless a pod of the service fits one of the placement's instance types: its requests after
 * the system reserve, its GPUs dividing the node's, the model in one GPU's memory (the file's size,
 * the least the weights take there). Each type's miss is named.
 */
function checkPlacementFit(
  spec: InferenceServiceSpec,
  placement: Placement,
  model: ModelInfo,
  constructPath: string,
): void {
  const chosen = chooseNode(
    placement,
    { cpuMillis: spec.resources.requests.cpuMillis, memoryBytes: spec.resources.requests.memoryBytes },
    model.sizeBytes,
  );
  if ('node' in chosen) return;
  throw new ModelfabValidationError(
    constructPath,
    'placement',
    `placement on pool ${show(placement.pool)}: a pod fits none of its instance types (${chosen.problems.join('; ')}); lower resources, or use a pool with larger nodes`,
  );
}

function completeInferenceService(
  checked: CheckedInferenceService,
  gate: GateOutcome | undefined,
): PreparedInferenceService {
  const { spec, model, context } = checked;
  if (gate && gate.status !== 'skipped')
    writeGateReports(context.reports.dir, context.reports.name, gate.report);
  return {
    ...checked,
    ...(gate ? { gate } : {}),
    objects: renderInferenceService(spec, model, gate),
  };
}
