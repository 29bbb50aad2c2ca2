/**
 * The warm-up inference the server runs before it reports ready, so the first request does not
 * pay for onnxruntime's first run: seeded random data at the model's declared shapes, each
 * symbolic dimension taken as 1.
 */
import { type ModelInfo } from '../model';
import { declaredShapeInputs, type Executor, InferenceError } from '../runtime';
import { type ServerLog } from './server-log';

/** The seed of the warm-up data, so every start runs the same inference. */
const WARM_UP_SEED = 1;

/**
 * Runs the warm-up inference on `executor` and resolves with its time, ms; or with undefined,
 * logged as a warning, when the model has no warm-up inputs or onnxruntime failed to run it
 * (random data need not be valid for every model: an index input, a data-dependent reshape).
 * @throws what the executor throws for any other reason (a crashed worker, a closed executor)
 */
export async function warmUp(
  executor: Executor,
  model: ModelInfo,
  log: ServerLog,
): Promise<number | undefined> {
  const warmUp = declaredShapeInputs(model, WARM_UP_SEED);
  if ('reason' in warmUp) {
    log.warn(`no warm-up inference: ${warmUp.reason}; the first request warms the model up`, {
      event: 'warm-up-skipped',
    });
    return undefined;
  }
  const started = performance.now();
  try {
    await executor.infer(warmUp.inputs);
    return performance.now() - started;
  } catch (error) {
    if (!(error instanceof InferenceError)) throw error;
    log.warn(`the warm-up inference on random inputs failed; serving anyway: ${error.message}`, {
      event: 'warm-up-failed',
    });
    return undefined;
  }
}
