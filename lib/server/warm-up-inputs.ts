/**
 * The inputs of the warm-up inference the server runs before it reports ready: seeded random
 * data at the model's declared shapes, each symbolic dimension taken as 1.
 */
import { type ModelInfo } from '../model';
import { type TensorData, randomInputs } from '../runtime';

/** The seed of the warm-up data, so every start runs the same inference. */
const WARM_UP_SEED = 1;

/**
 * Warm-up inputs for `model`, or the reason there are none (an input of undeclared rank, a
 * non-tensor input, or a type onnxruntime-node cannot feed).
 */
export function warmUpInputs(model: ModelInfo): { inputs: Record<string, TensorData> } | { reason: string } {
  const shapes: Record<string, number[]> = {};
  for (const signature of model.inputs) {
    if (!signature.isTensor) {
      return { reason: `input ${JSON.stringify(signature.name)} is a ${signature.kind}` };
    }
    if (signature.shape === undefined) {
      return { reason: `input ${JSON.stringify(signature.name)} does not declare its rank` };
    }
    shapes[signature.name] = signature.shape.map((d) => (typeof d === 'number' ? d : 1));
  }
  try {
    return { inputs: randomInputs(model, shapes, WARM_UP_SEED) };
  } catch (error) {
    return { reason: (error as Error).message };
  }
}
