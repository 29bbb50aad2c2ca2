import { type InferenceServiceSpec } from '../core';
import { capacityProblems, gateFailures, type GateOutcome } from '../gate';
import { type KubeObject } from './kube-object';
import { checkPolicy, formatPolicyViolation } from './policy';

/**
 * Everything that fails a rendered InferenceService as a whole, one message each: the gate's
 * failed thresholds, a capacity plan the autoscaling cannot hold, and policy violations not waived.
 * Both engines report exactly these (cdk8s as validations, Pulumi as the component's error), each
 * prefixed with `[<construct path>] `.
 */
export function serviceProblems(
  spec: InferenceServiceSpec,
  objects: readonly KubeObject[],
  gate: GateOutcome | undefined,
): string[] {
  return [
    ...gateFailures(gate),
    ...capacityProblems(spec, gate),
    ...checkPolicy(objects, spec.policyWaivers).violations.map(formatPolicyViolation),
  ];
}

/**
 * The error text of a service with problems, as cdk8s prints its validation errors:
 * `Validation failed with the following errors:` then `  [path] message` per problem.
 */
export function formatServiceProblems(constructPath: string, problems: readonly string[]): string {
  return `Validation failed with the following errors:\n${problems.map((p) => `  [${constructPath}] ${p}`).join('\n')}`;
}
