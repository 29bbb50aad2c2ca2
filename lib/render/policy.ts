/**
 * The policy check: every rule of policy-rules.ts over the objects an engine deploys, each finding
 * a violation unless the service waived its rule with a reason. Pure functions.
 */
import { ModelfabValidationError, show } from '../core';
import { describeObject, type KubeObject } from './kube-object';
import { POLICY_RULE_IDS, POLICY_RULES } from './policy-rules';

export interface PolicyViolation {
  readonly rule: string;
  /** `Kind/namespace/name` */
  readonly object: string;
  readonly detail: string;
  readonly fix: string;
}

export interface PolicyResult {
  readonly violations: readonly PolicyViolation[];
  /** Violations that a waiver turned off, with the waiver's reason. */
  readonly waived: ReadonlyArray<PolicyViolation & { readonly reason: string }>;
}

/** Throws when a waiver names a rule that does not exist (a typo would otherwise waive nothing). */
export function assertKnownWaivers(waivers: Readonly<Record<string, string>>, constructPath: string): void {
  for (const id of Object.keys(waivers)) {
    if (!POLICY_RULE_IDS.includes(id)) {
      throw new ModelfabValidationError(
        constructPath,
        'policy.waive',
        `policy.waive names unknown rule ${show(id)}; known rules: ${POLICY_RULE_IDS.join(', ')}`,
      );
    }
  }
}

/** Runs every rule over the objects; waived rules report as waived, not as violations. */
export function checkPolicy(
  objects: readonly KubeObject[],
  waivers: Readonly<Record<string, string>> = {},
): PolicyResult {
  const violations: PolicyViolation[] = [];
  const waived: Array<PolicyViolation & { reason: string }> = [];
  for (const rule of POLICY_RULES) {
    for (const finding of rule.check(objects)) {
      const violation = {
        rule: rule.id,
        object: describeObject(finding.object),
        detail: finding.detail,
        fix: rule.fix,
      };
      const reason = waivers[rule.id];
      if (reason === undefined) violations.push(violation);
      else waived.push({ ...violation, reason });
    }
  }
  return { violations, waived };
}

/** One line per violation: rule id, object, what is wrong, the fix and how to waive. */
export function formatPolicyViolation(violation: PolicyViolation): string {
  return (
    `policy ${violation.rule} failed on ${violation.object}: ${violation.detail}; ${violation.fix}` +
    ` (or waive it: policy: { waive: { '${violation.rule}': '<reason>' } })`
  );
}
