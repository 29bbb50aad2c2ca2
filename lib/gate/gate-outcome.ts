import { ModelfabValidationError } from '../core';
import { type GateReport } from './gate-report';
import { type GateRun, runGateSync } from './run-gate';

/** What the gate decided for a service. */
export type GateOutcome =
  | { readonly status: 'passed' | 'failed'; readonly report: GateReport }
  | { readonly status: 'skipped'; readonly reason: string };

/**
 * Runs the gate (or takes it from the cache), unless `MODELFAB_GATE=skip`: then it warns on stderr
 * and the outcome says so, so the skip shows in the manifests. Never skips silently.
 */
export function gateOutcomeSync(run: GateRun, env: NodeJS.ProcessEnv = process.env): GateOutcome {
  const setting = env.MODELFAB_GATE;
  if (setting !== undefined && setting !== '') {
    if (setting !== 'skip') {
      throw new ModelfabValidationError(
        run.constructPath,
        'gate',
        `MODELFAB_GATE=${JSON.stringify(setting)} is not understood; set MODELFAB_GATE=skip to skip the benchmark, or unset it`,
      );
    }
    process.stderr.write(
      `modelfab gate: WARNING [${run.constructPath}] skipped (MODELFAB_GATE=skip): no thresholds were checked; the Deployment is annotated modelfab.dev/gate: skipped\n`,
    );
    return { status: 'skipped', reason: 'skipped with MODELFAB_GATE=skip; no thresholds were checked' };
  }
  const report = runGateSync(run);
  return { status: report.passed ? 'passed' : 'failed', report };
}

/** The validation messages of a failed gate, one per failed threshold (the engine adds the construct path). */
export function gateFailures(outcome: GateOutcome | undefined): string[] {
  if (outcome?.status !== 'failed') return [];
  return outcome.report.verdicts.filter((v) => !v.pass).map((v) => `gate failed: ${v.message}`);
}
