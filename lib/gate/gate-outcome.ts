import { type GpuExecutionProvider, type GpuName, ModelfabValidationError } from '../core';
import { gpuProviderAvailability, type GpuProviderAvailability } from '../runtime';
import { defaultCacheDir } from './cache';
import { type GateReport } from './gate-report';
import { GATE_GPU_PROVIDER, gpuBenchCommand, gpuGateRefusal, measuringDevice } from './gpu-gate';
import { type DetectedGpu, detectGpus } from './gpu-presence';
import {
  cachedGpuReport,
  type GateRun,
  type GpuMeasurement,
  runGate,
  runGateSync,
  runTargetUtilization,
} from './run-gate';

/** What the gate decided for a service. */
export type GateOutcome =
  | { readonly status: 'passed' | 'failed'; readonly report: GateReport }
  | { readonly status: 'skipped'; readonly reason: string };

/** What the gate asks of this machine about GPUs: nvidia-smi, and onnxruntime-node's provider libraries. */
export interface GpuHost {
  /** This machine's GPUs. */
  detectGpus(): readonly DetectedGpu[];
  /** Whether onnxruntime-node here can load a GPU provider. */
  providerAvailability(provider: GpuExecutionProvider): GpuProviderAvailability;
}

/** This machine: `nvidia-smi`, and onnxruntime-node's files. */
export const LOCAL_GPU_HOST: GpuHost = {
  detectGpus: () => detectGpus(),
  providerAvailability: (provider) => gpuProviderAvailability(provider),
};

/**
 * Runs the gate (or takes it from the cache), unless `MODELFAB_GATE=skip`: then it warns on stderr
 * and the outcome says so, so the skip shows in the manifests. Never skips silently. A service placed
 * on a GPU pool is judged on a report measured on its GPU (see {@link gpuPlan}), never on the CPU.
 */
export function gateOutcomeSync(
  run: GateRun,
  env: NodeJS.ProcessEnv = process.env,
  host: GpuHost = LOCAL_GPU_HOST,
): GateOutcome {
  const skipped = skippedOutcome(run, env);
  if (skipped) return skipped;
  const plan = gpuPlan(run, host);
  const report = 'report' in plan ? plan.report : runGateSync(run, plan.measure);
  return { status: report.passed ? 'passed' : 'failed', report };
}

/** {@link gateOutcomeSync} without blocking the event loop (Pulumi); benchmarks run one at a time. */
export async function gateOutcome(
  run: GateRun,
  env: NodeJS.ProcessEnv = process.env,
  host: GpuHost = LOCAL_GPU_HOST,
): Promise<GateOutcome> {
  const skipped = skippedOutcome(run, env);
  if (skipped) return skipped;
  const plan = gpuPlan(run, host);
  const report = 'report' in plan ? plan.report : await runGate(run, plan.measure);
  return { status: report.passed ? 'passed' : 'failed', report };
}

/**
 * Where a run is measured. A CPU service: here, on the CPU (`measure` undefined). A GPU service: a
 * report measured on its GPU from the cache, whatever machine made it; else here, on this machine's
 * GPU of that name with the CUDA provider; else a refusal (thrown) naming the GPU, what this machine
 * has, the `modelfab bench --gpu` command to run where the GPU is, and MODELFAB_GATE=skip.
 */
export function gpuPlan(
  run: GateRun,
  host: GpuHost,
): { readonly report: GateReport } | { readonly measure: GpuMeasurement | undefined } {
  if (run.gpu === undefined) return { measure: undefined };
  const placed = run as GateRun & { readonly gpu: GpuName };
  const provider = GATE_GPU_PROVIDER;
  const cached = run.remeasure ? undefined : cachedGpuReport(placed, provider);
  if (cached) return { report: cached };
  const detected = host.detectGpus();
  const device = measuringDevice(placed.gpu, detected);
  const cacheDir = run.cacheDir ?? defaultCacheDir();
  const refusal = gpuGateRefusal({
    gpu: placed.gpu,
    detected,
    ...(device ? { provider: host.providerAvailability(provider) } : {}),
    cacheDir,
    command: gpuBenchCommand({
      modelPath: run.model.path,
      gpu: placed.gpu,
      gate: run.gate,
      resources: run.resources,
      serverEnv: run.server.env,
      targetUtilization: runTargetUtilization(run),
      cacheDir,
    }),
  });
  if (refusal !== undefined || device === undefined) {
    throw new ModelfabValidationError(run.constructPath, 'gate', refusal ?? 'no GPU to measure on');
  }
  return { measure: { device, provider } };
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
