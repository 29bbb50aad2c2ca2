/**
 * Concrete input shapes for a benchmark: the model's declared shapes with every symbolic
 * dimension pinned, by the batch size (dimension 0) or by `gate.inputShapes`.
 */
import { show } from '../core';
import { type Dim, type ModelInfo, type TensorSignature } from '../model';
import { InputShapesError } from './errors';
import { formatDims } from './tensor';

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function key(name: string): string {
  return IDENTIFIER.test(name) ? name : JSON.stringify(name);
}

function isDimList(value: unknown): value is readonly number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && (d as number) >= 0);
}

/**
 * True when a symbolic dimension 0 of the input takes the batch size: when the input has no entry
 * in inputShapes, or when it has one but a batch above 1 was asked of a batchable model.
 */
function takesBatch(
  model: ModelInfo,
  signature: TensorSignature,
  given: readonly number[] | undefined,
  batch: number,
): boolean {
  if (typeof signature.shape?.[0] !== 'string') return false;
  return given === undefined || (model.batchable && batch > 1);
}

/**
 * For each model input, the dims to benchmark with. An input listed in `inputShapes` takes its
 * dims from there (fixed dims must agree), except that a symbolic dim 0 becomes `batch` when
 * `batch` > 1 and the model is batchable. An input not listed keeps its fixed dims; a symbolic
 * (or unnamed) dim 0 becomes `batch`, or the symbol's value where a listed input pins it; any
 * other symbolic dim takes the value a listed input gives that symbol. An unnamed dim other than
 * 0, or an undeclared rank, needs an entry of its own.
 * @param inputShapes `gate.inputShapes`: full shapes by input name, batch dim included
 * @param batch the size of a symbolic dimension 0
 * @throws InputShapesError naming the input and dimension without a value, and what to set in
 *   `gate.inputShapes`; or an entry for an unknown input, of the wrong rank, or contradicting a
 *   fixed dimension
 */
export function resolveInputShapes(
  model: ModelInfo,
  inputShapes: Readonly<Record<string, readonly number[]>>,
  batch = 1,
): Record<string, number[]> {
  if (!Number.isSafeInteger(batch) || batch < 1) {
    throw new InputShapesError(`the batch size must be a positive integer, received ${show(batch)}`);
  }
  const tensors = new Map<string, TensorSignature>();
  for (const signature of model.inputs) {
    if (!signature.isTensor) {
      throw new InputShapesError(
        `input ${JSON.stringify(signature.name)} is a ${signature.kind}, which onnxruntime-node cannot feed`,
      );
    }
    tensors.set(signature.name, signature);
  }
  for (const [name, dims] of Object.entries(inputShapes)) {
    if (!tensors.has(name)) {
      const names = model.inputs.map((i) => JSON.stringify(i.name)).join(', ');
      throw new InputShapesError(
        `gate.inputShapes names input ${JSON.stringify(name)}, which the model does not have; ${names === '' ? 'the model has no inputs' : `its inputs are ${names}`}`,
      );
    }
    if (!isDimList(dims)) {
      throw new InputShapesError(
        `gate.inputShapes.${key(name)} must be a list of non-negative integers, received ${show(dims)}`,
      );
    }
  }

  // Symbol values: from dim 0 batches, then from the given shapes (which must agree).
  const symbols = new Map<string, { value: number; from: string }>();
  for (const signature of tensors.values()) {
    const given = inputShapes[signature.name];
    const shape = signature.shape;
    if (shape === undefined || given === undefined) continue;
    const name = JSON.stringify(signature.name);
    if (given.length !== shape.length) {
      throw new InputShapesError(
        `gate.inputShapes.${key(signature.name)} is ${formatDims(given)} (rank ${given.length}), but input ${name} has rank ${shape.length}: ${formatDims(shape)}`,
      );
    }
    const batchAt0 = takesBatch(model, signature, given, batch);
    shape.forEach((declared, k) => {
      const value = given[k];
      if (typeof declared === 'number') {
        if (value !== declared) {
          throw new InputShapesError(
            `gate.inputShapes.${key(signature.name)} is ${formatDims(given)}, but dimension ${k} of input ${name} is fixed at ${declared} (${formatDims(shape)})`,
          );
        }
        return;
      }
      if (declared === '' || (k === 0 && batchAt0)) return;
      const seen = symbols.get(declared);
      if (seen === undefined) symbols.set(declared, { value, from: signature.name });
      else if (seen.value !== value) {
        throw new InputShapesError(
          `gate.inputShapes gives dimension ${JSON.stringify(declared)} the value ${seen.value} in ${key(seen.from)} and ${value} in ${key(signature.name)}; a symbolic dimension has one value`,
        );
      }
    });
  }
  for (const signature of tensors.values()) {
    const first = signature.shape?.[0];
    if (
      typeof first === 'string' &&
      first !== '' &&
      takesBatch(model, signature, inputShapes[signature.name], batch)
    ) {
      if (!symbols.has(first)) symbols.set(first, { value: batch, from: signature.name });
    }
  }

  // Every input's shape, and every dimension no value reaches, reported together in one message.
  const resolved: Record<string, number[]> = {};
  const unpinned: Array<{ readonly what: string; readonly hint: string }> = [];
  for (const signature of tensors.values()) {
    const given = inputShapes[signature.name];
    const shape = signature.shape;
    const name = JSON.stringify(signature.name);
    if (shape === undefined) {
      if (given === undefined)
        unpinned.push({
          what: `input ${name} has no declared rank`,
          hint: `${key(signature.name)}: [<dims>]`,
        });
      else resolved[signature.name] = [...given];
      continue;
    }
    const batchAt0 = takesBatch(model, signature, given, batch);
    const valueOf = (declared: Dim, k: number): number | undefined => {
      if (typeof declared === 'number') return declared;
      if (k === 0 && batchAt0) return declared === '' ? batch : (symbols.get(declared)?.value ?? batch);
      if (given !== undefined) return given[k];
      return declared === '' ? undefined : symbols.get(declared)?.value;
    };
    const dims = shape.map(valueOf);
    const missing = shape.flatMap((declared, k) =>
      dims[k] !== undefined
        ? []
        : [
            declared === ''
              ? `an unnamed dimension ${k}`
              : `symbolic dimension ${k} (${JSON.stringify(declared)})`,
          ],
    );
    if (missing.length > 0) {
      const hint = shape.map((d, k) => dims[k] ?? (d === '' ? '<?>' : `<${String(d)}>`)).join(', ');
      unpinned.push({
        what: `input ${name} has ${missing.join(' and ')} with no value`,
        hint: `${key(signature.name)}: [${hint}]`,
      });
      continue;
    }
    resolved[signature.name] = dims as number[];
  }
  if (unpinned.length > 0) {
    throw new InputShapesError(
      `${unpinned.map((u) => u.what).join('; ')}; set gate.inputShapes: { ${unpinned.map((u) => u.hint).join(', ')} }`,
    );
  }
  return resolved;
}
