import { type InferenceServiceSpec } from '../core';
import { capacityProblems, gateFailures, type GateOutcome, kedaProblems } from '../gate';
import { show } from '../core';
import { describeObject, type KubeObject } from './kube-object';
import { allContainers, podTemplates } from './policy-objects';
import { GPU_RESOURCE } from '../core/gpu';
import { checkPolicy, formatPolicyViolation } from './policy';

/**
 * Everything that fails a rendered InferenceService as a whole, one message each: the gate's
 * failed thresholds, a capacity plan the autoscaling cannot hold, a KEDA threshold with no measured
 * capacity behind it, and policy violations not waived; a canary's candidate's too, prefixed `canary: `.
 * Both engines report exactly these (cdk8s as validations, Pulumi as the component's error), each
 * prefixed with `[<construct path>] `.
 */
export function serviceProblems(
  spec: InferenceServiceSpec,
  objects: readonly KubeObject[],
  gate: GateOutcome | undefined,
  canary?: {
    readonly spec: InferenceServiceSpec;
    readonly objects: readonly KubeObject[];
    readonly gate?: GateOutcome;
  },
): string[] {
  return [
    ...oneServiceProblems(spec, objects, gate),
    // The candidate is judged as a service of its own, and says so.
    ...(canary
      ? oneServiceProblems(canary.spec, canary.objects, canary.gate).map((problem) => `canary: ${problem}`)
      : []),
  ];
}

function oneServiceProblems(
  spec: InferenceServiceSpec,
  objects: readonly KubeObject[],
  gate: GateOutcome | undefined,
): string[] {
  return [
    ...gateFailures(gate),
    ...capacityProblems(spec, gate),
    ...kedaProblems(spec, gate),
    ...checkPolicy(objects, spec.policyWaivers).violations.map(formatPolicyViolation),
    ...(spec.placement ? [] : unplacedGpuProblems(objects)),
  ];
}

/**
 * GPUs asked for without a placement (through a patch): nothing would launch nodes for those pods,
 * nor tolerate the GPU nodes' taint, and the gate measured them on the CPU.
 */
function unplacedGpuProblems(objects: readonly KubeObject[]): string[] {
  return podTemplates(objects).flatMap(({ object, spec }) =>
    allContainers(spec)
      .filter((container) => {
        const resources = container.resources ?? {};
        return (
          resources.limits?.[GPU_RESOURCE] !== undefined || resources.requests?.[GPU_RESOURCE] !== undefined
        );
      })
      .map(
        (container) =>
          `${describeObject(object)} container ${show(container.name)} asks for ${GPU_RESOURCE} without a placement; pass placement: pool.placement({ gpus }) of an AutoscaledGpuPool instead of setting the GPU limit`,
      ),
  );
}

/**
 * The error text of a construct (a service, a pool) with problems, as cdk8s prints its validation errors:
 * `Validation failed with the following errors:` then `  [path] message` per problem.
 */
export function formatServiceProblems(constructPath: string, problems: readonly string[]): string {
  return `Validation failed with the following errors:\n${problems.map((p) => `  [${constructPath}] ${p}`).join('\n')}`;
}
