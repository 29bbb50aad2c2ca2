/**
 * The correctness half of the gate: accuracy on a labelled dataset and output parity with the
 * training framework's outputs, both run through the same executor as production.
 */
import { type GateSpec } from '../core';
import { type ModelInfo } from '../model';
import { type Executor, type TensorData, tensorToJson } from '../runtime';
import { type AccuracyMeasurement, type ParityMeasurement } from './gate-report';
import { compareParity, meanAbsoluteError, rootMeanSquaredError, topKAccuracy } from './correctness';
import { type JsonTensor, readLabelledDataset, readParityDataset } from './dataset';
import { rowInputs } from './gate-inputs';

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16']);

/** Flat numbers of a tensor: float16 decoded, int64 and bool as numbers. */
function numbers(tensor: TensorData): number[] {
  return tensorToJson(tensor).map(Number);
}

function scoredOutput(model: ModelInfo, requested: string | undefined): string {
  if (requested !== undefined) {
    if (!model.outputs.some((o) => o.name === requested)) {
      throw new Error(
        `gate.accuracy.output ${JSON.stringify(requested)} is not an output of the model; outputs: ${model.outputs.map((o) => o.name).join(', ')}`,
      );
    }
    return requested;
  }
  const first = model.outputs.find((o) => o.isTensor && FLOAT_TYPES.has(o.elementType));
  if (!first) throw new Error(`the model has no float output to score; set gate.accuracy.output`);
  return first.name;
}

/** Runs every row (a few at a time) and returns the outputs in row order. */
async function runRows(
  executor: Executor,
  rows: ReadonlyArray<Record<string, TensorData>>,
): Promise<Array<Record<string, TensorData>>> {
  const results: Array<Record<string, TensorData>> = new Array<Record<string, TensorData>>(rows.length);
  const concurrency = 8;
  let next = 0;
  const lane = async () => {
    while (next < rows.length) {
      const i = next++;
      results[i] = (await executor.infer(rows[i])).outputs;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return results;
}

/** Runs every row of a dataset file; outputs in row order. Errors name the file and line. */
function runDataset(
  executor: Executor,
  model: ModelInfo,
  file: string,
  rows: ReadonlyArray<{ readonly line: number; readonly inputs: Readonly<Record<string, JsonTensor>> }>,
): Promise<Array<Record<string, TensorData>>> {
  return runRows(
    executor,
    rows.map((row) => rowInputs(model, row.inputs, `${file}:${row.line}`)),
  );
}

export async function measureAccuracy(
  executor: Executor,
  model: ModelInfo,
  accuracy: NonNullable<GateSpec['accuracy']>,
): Promise<AccuracyMeasurement> {
  const dataset = readLabelledDataset(accuracy.dataset);
  const output = scoredOutput(model, accuracy.output);
  const outputs = await runDataset(executor, model, accuracy.dataset, dataset);
  const predictions = outputs.map((o) => numbers(o[output]));
  let value: number;
  if (accuracy.metric === 'top1' || accuracy.metric === 'topk') {
    const classes = predictions[0].length;
    const labels = dataset.map((row) => {
      if (
        typeof row.label !== 'number' ||
        !Number.isInteger(row.label) ||
        row.label < 0 ||
        row.label >= classes
      ) {
        throw new Error(
          `${accuracy.dataset}:${row.line}: label ${JSON.stringify(row.label)} is not a class index from 0 to ${classes - 1}`,
        );
      }
      return row.label;
    });
    value = topKAccuracy(predictions.flat(), dataset.length, classes, labels, accuracy.k);
  } else {
    const labels = dataset.flatMap((row) => (Array.isArray(row.label) ? row.label : [row.label]));
    const flat = predictions.flat();
    if (flat.length !== labels.length) {
      throw new Error(
        `${accuracy.dataset}: ${labels.length} label values for ${flat.length} predicted values of output ${JSON.stringify(output)}`,
      );
    }
    value = accuracy.metric === 'mae' ? meanAbsoluteError(flat, labels) : rootMeanSquaredError(flat, labels);
  }
  return {
    metric: accuracy.metric,
    ...(accuracy.metric === 'topk' ? { k: accuracy.k } : {}),
    output,
    value,
    samples: dataset.length,
    dataset: accuracy.dataset,
  };
}

export async function measureParity(
  executor: Executor,
  model: ModelInfo,
  parity: NonNullable<GateSpec['parity']>,
): Promise<ParityMeasurement> {
  const dataset = readParityDataset(parity.dataset);
  const outputs = await runDataset(executor, model, parity.dataset, dataset);
  let maxAbsError = 0;
  let maxRelError = 0;
  let mismatches = 0;
  let elements = 0;
  let worst: ParityMeasurement['worst'];
  let worstExcess = -Infinity;
  dataset.forEach((row, i) => {
    for (const [name, expected] of Object.entries(row.outputs)) {
      const actual = outputs[i][name];
      if (!actual) {
        throw new Error(
          `${parity.dataset}:${row.line}: expected output ${JSON.stringify(name)} is not an output of the model; outputs: ${model.outputs.map((o) => o.name).join(', ')}`,
        );
      }
      const ours = numbers(actual);
      const theirs = expected.values.map(Number);
      if (ours.length !== theirs.length) {
        throw new Error(
          `${parity.dataset}:${row.line}: output ${JSON.stringify(name)} has ${ours.length} values, the file expects ${theirs.length}`,
        );
      }
      const result = compareParity(ours, theirs, parity.atol, parity.rtol);
      maxAbsError = Math.max(maxAbsError, result.maxAbsError);
      maxRelError = Math.max(maxRelError, result.maxRelError);
      mismatches += result.mismatches;
      elements += result.elements;
      const index = result.worstIndex;
      const excess =
        Math.abs(ours[index] - theirs[index]) - (parity.atol + parity.rtol * Math.abs(theirs[index]));
      if (excess > worstExcess || (Number.isNaN(ours[index]) && !Number.isNaN(theirs[index]))) {
        worstExcess = Number.isNaN(excess) ? Infinity : excess;
        worst = { line: row.line, output: name, index, actual: ours[index], expected: theirs[index] };
      }
    }
  });
  return {
    maxAbsError,
    maxRelError,
    mismatches,
    elements,
    samples: dataset.length,
    dataset: parity.dataset,
    ...(worst ? { worst } : {}),
  };
}
