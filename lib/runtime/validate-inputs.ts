/**
 * Checks a request's inputs against the model's signature on the main thread, before anything is
 * queued, so a bad request fails fast with a message that says what to fix, and never reaches
 * (or poisons the batch of) a worker.
 */
import { show } from '../core';
import { type ModelInfo, type TensorSignature } from '../model';
import { InputValidationError } from './errors';
import { type TensorData, dataClassFor, dataClassOf, dataFitsType, elementCount, formatDims } from './tensor';

/** What validation learns about a request. */
export interface ValidatedInputs {
  /**
   * The request's rows: the size of dimension 0, when the model is batchable and every input
   * has the same dim 0; otherwise undefined (the request can only run on its own).
   */
  readonly rows: number | undefined;
}

function quoted(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(', ');
}

function modelInputsPhrase(model: ModelInfo): string {
  return model.inputs.length === 0
    ? 'the model has no inputs'
    : `the model's inputs are ${quoted(model.inputs.map((i) => i.name))}`;
}

function isTensorLike(value: unknown): value is TensorData {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as TensorData).type === 'string' &&
    Array.isArray((value as TensorData).dims)
  );
}

/** A symbolic dimension's value and the input that set it. */
interface SymbolValue {
  readonly value: number;
  readonly input: string;
}

function checkTensor(
  signature: TensorSignature,
  tensor: unknown,
  symbols: Map<string, SymbolValue>,
): readonly number[] {
  const name = JSON.stringify(signature.name);
  if (!isTensorLike(tensor)) {
    throw new InputValidationError(
      `input ${name} must be a tensor { type, dims, data }, received ${show(tensor)}`,
    );
  }
  const expected = signature.elementType;
  if (tensor.type !== expected) {
    throw new InputValidationError(`input ${name} is ${show(tensor.type)}; the model expects ${expected}`);
  }
  if (!dataFitsType(expected, tensor.data)) {
    throw new InputValidationError(
      `input ${name} data must be ${dataClassFor(expected) === 'Array' ? 'an array of strings' : `a ${dataClassFor(expected)}`} for ${expected}, received ${dataClassOf(tensor.data)}`,
    );
  }
  const dims = tensor.dims;
  let count: number;
  try {
    count = elementCount(dims);
  } catch {
    throw new InputValidationError(
      `input ${name} has invalid dims ${show(dims)}; every dimension must be a non-negative integer`,
    );
  }
  const empty = dims.indexOf(0);
  if (empty >= 0) {
    // onnxruntime aborts the whole process on empty tensors in some kernels (a recurrent state
    // of batch 0): refuse them here, where the error is the client's and the process lives on.
    throw new InputValidationError(
      `input ${name} has shape ${formatDims(dims)}: dimension ${empty} is 0, so it holds no values and there is nothing to infer; send at least one element along every dimension`,
    );
  }
  const shape = signature.shape;
  if (shape !== undefined) {
    if (dims.length !== shape.length) {
      throw new InputValidationError(
        `input ${name} has shape ${formatDims(dims)} (rank ${dims.length}); the model expects rank ${shape.length}: ${formatDims(shape)}`,
      );
    }
    for (let k = 0; k < shape.length; k++) {
      const declared = shape[k];
      const actual = dims[k];
      if (typeof declared === 'number') {
        if (actual !== declared) {
          throw new InputValidationError(
            `input ${name} has shape ${formatDims(dims)}; dimension ${k} must be ${declared} (the model expects ${formatDims(shape)})`,
          );
        }
      } else if (declared !== '') {
        const seen = symbols.get(declared);
        if (seen === undefined) symbols.set(declared, { value: actual, input: signature.name });
        else if (seen.value !== actual) {
          const where =
            seen.input === signature.name
              ? 'elsewhere in the same input'
              : `in input ${JSON.stringify(seen.input)}`;
          throw new InputValidationError(
            `input ${name} has shape ${formatDims(dims)}: dimension ${k} (${JSON.stringify(declared)}) is ${actual}, but ${JSON.stringify(declared)} is ${seen.value} ${where}`,
          );
        }
      }
    }
  }
  if (tensor.data.length !== count) {
    throw new InputValidationError(
      `input ${name} has ${tensor.data.length} values for shape ${formatDims(dims)}, which needs ${count}`,
    );
  }
  return dims;
}

/**
 * Checks that `inputs` are exactly the model's inputs, each with the declared element type (and
 * the array class onnxruntime-node expects for it), no dimension of size 0, rank and fixed dims, the same value for a
 * symbolic dimension wherever its name appears, and as many values as its dims need. Unknown
 * inputs are rejected (onnxruntime would silently ignore them).
 * @throws InputValidationError naming the input, what was received and what the model expects
 */
export function validateInputs(
  model: ModelInfo,
  inputs: Readonly<Record<string, TensorData>>,
): ValidatedInputs {
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
    throw new InputValidationError(
      `inputs must be an object of tensors by input name, received ${show(inputs)}`,
    );
  }
  const declared = new Set(model.inputs.map((i) => i.name));
  for (const name of Object.keys(inputs)) {
    if (!declared.has(name)) {
      throw new InputValidationError(`unknown input ${JSON.stringify(name)}; ${modelInputsPhrase(model)}`);
    }
  }
  const symbols = new Map<string, SymbolValue>();
  let rows: number | undefined;
  let sameRows = true;
  for (const signature of model.inputs) {
    const name = JSON.stringify(signature.name);
    if (!signature.isTensor) {
      throw new InputValidationError(
        `input ${name} is a ${signature.kind}, which onnxruntime-node cannot feed`,
      );
    }
    if (!Object.prototype.hasOwnProperty.call(inputs, signature.name)) {
      throw new InputValidationError(
        `missing input ${name} (${signature.elementType} ${formatDims(signature.shape)}); ${modelInputsPhrase(model)}`,
      );
    }
    const dims = checkTensor(signature, inputs[signature.name], symbols);
    if (model.batchable) {
      const first = dims[0];
      if (rows === undefined) rows = first;
      else if (first !== rows) sameRows = false;
    }
  }
  return { rows: model.batchable && sameRows ? rows : undefined };
}
