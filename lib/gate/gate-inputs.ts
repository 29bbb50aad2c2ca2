/**
 * Request inputs for the benchmark: seeded random tensors at the pinned shapes (with the values
 * `gate.inputValues` fixes), or real rows of a dataset file, cycled. Every request carries one row when dim 0 is a batch dim.
 */
import { type GateSpec } from '../core';
import { type ModelInfo, type TensorSignature } from '../model';
import { randomInputs, resolveInputShapes, tensorFromJson, type TensorData } from '../runtime';
import { type JsonTensor, readInputDataset } from './dataset';

/** A source of request inputs (seeded random tensors or dataset rows, cycled). */
export type InputSource = () => Record<string, TensorData>;

/** A dataset row's input as a tensor, with a leading batch dim of 1 when the file leaves it out. */
export function tensorForInput(signature: TensorSignature, json: JsonTensor, where: string): TensorData {
  const rank = signature.shape?.length;
  const dims =
    signature.batchDim && rank !== undefined && json.dims.length === rank - 1 ? [1, ...json.dims] : json.dims;
  try {
    return tensorFromJson(signature.elementType, json.values, dims);
  } catch (error) {
    throw new Error(`${where}: input ${JSON.stringify(signature.name)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** A dataset row's inputs as tensors; inputs the model does not have are left for validation to reject. */
export function rowInputs(
  model: ModelInfo,
  inputs: Readonly<Record<string, JsonTensor>>,
  where: string,
): Record<string, TensorData> {
  const tensors: Record<string, TensorData> = {};
  for (const [name, json] of Object.entries(inputs)) {
    const signature = model.inputs.find((i) => i.name === name);
    if (signature?.isTensor) tensors[name] = tensorForInput(signature, json, where);
    else
      tensors[name] = { type: 'float32', dims: json.dims, data: Float32Array.from(json.values.map(Number)) };
  }
  return tensors;
}

/** The inputs the latency and throughput phases send, one request at a time. */
export function benchmarkInputs(model: ModelInfo, gate: GateSpec): InputSource {
  if (gate.inputDataset !== undefined) {
    const file = gate.inputDataset;
    const rows = readInputDataset(file).map((row) => rowInputs(model, row.inputs, `${file}:${row.line}`));
    let i = 0;
    return () => rows[i++ % rows.length];
  }
  const fixed = randomInputs(
    model,
    resolveInputShapes(model, gate.inputShapes, 1),
    gate.seed,
    gate.inputValues,
  );
  return () => fixed;
}
