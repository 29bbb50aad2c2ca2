import { ModelfabValidationError } from '../core';
import { type GateReport } from './gate-report';
import { detectGpus, gpuGateRefusal } from './gpu-presence';
import { type GateRun, runGate, runGateSync } from './run-gate';

/** What the gate decided for a service. */
export type GateOutcome =
  | { readonly status: 'passed' | 'failed'; readonly report: GateReport }
  | { readonly status: 'skipped'; readonly reason: string };

/**
 * Runs the gate (or takes it from the cache), unless `MODELFAB_GATE=skip`: then it warns on stderr
 * and the outcome says so, so the skip shows in the manifests. Never skips silently.
 */
export function gateOutcomeSync(run: GateRun, env: NodeJS.ProcessEnv = process.env): GateOutcome {
  const skipped = skippedOutcome(run, env);
  if (skipped) return skipped;
  refuseGpu(run);
  const report = runGateSync(run);
  return { status: report.passed ? 'passed' : 'failed', report };
}

/** {@link gateOutcomeSync} without blocking the event loop (Pulumi); benchmarks run one at a time. */
export async function gateOutcome(run: GateRun, env: NodeJS.ProcessEnv = process.env): Promise<GateOutcome> {
  const skipped = skippedOutcome(run, env);
  if (skipped) return skipped;
  refuseGpu(run);
  const report = await runGate(run);
  return { status: report.passed ? 'passed' : 'failed', report };
}

/** Throws the refusal of a GPU service's gate (see {@link gpuGateRefusal}). */
function refuseGpu(run: GateRun): void {
  if (run.gpu === undefined) return;
  throw new ModelfabValidationError(run.constructPath, 'gate', gpuGateRefusal(run.gpu, detectGpus()));
}

/** The skipped outcome when `MODELFAB_GATE=skip` (after a warning on stderr); throws on any other value. */
function skippedOutcome(run: GateRun, env: NodeJS.ProcessEnv): GateOutcome | undefined {
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
  return undefined;
}

/** The validation messages of a failed gate, one per failed threshold (the engine adds the construct path). */
export function gateFailures(outcome: GateOutcome | undefined): string[] {
  if (outcome?.status !== 'failed') return [];
  return outcome.report.verdicts.filter((v) => !v.pass).map((v) => `gate failed: ${v.message}`);
}
