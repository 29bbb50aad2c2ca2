/**
 * Models and datasets for the gate's integration tests, written into a directory with the
 * deterministic ONNX builder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { encodeModel, type ModelSpec } from '../../tools/onnx/model-builder';

export const IRIS_DIR = path.resolve(__dirname, '../../examples/iris/model');

function write(dir: string, name: string, spec: ModelSpec): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, encodeModel(spec));
  return file;
}

/** x [batch, n] through k chained n×n MatMuls: the work grows linearly with k. */
export function chainedMatMulModel(dir: string, k: number, n: number): string {
  const weights = Array.from({ length: n * n }, (_, i) => (((i * 7919) % 101) - 50) / (50 * n));
  const nodes = Array.from({ length: k }, (_, i) => ({
    op: 'MatMul',
    inputs: [i === 0 ? 'x' : `h${i}`, 'w'],
    outputs: [i === k - 1 ? 'y' : `h${i + 1}`],
  }));
  return write(dir, `matmul-${k}x${n}.onnx`, {
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', n] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', n] }],
    nodes,
    initializers: [{ name: 'w', type: 'float32', dims: [n, n], values: weights }],
  });
}

/** Two float inputs added together. */
export function twoInputModel(dir: string): string {
  return write(dir, 'two-inputs.onnx', {
    inputs: [
      { name: 'a', type: 'float32', shape: ['batch', 4] },
      { name: 'b', type: 'float32', shape: ['batch', 4] },
    ],
    outputs: [{ name: 'sum', type: 'float32', shape: ['batch', 4] }],
    nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['sum'] }],
  });
}

/** An int64 scalar input (not batchable) next to a float input. */
export function int64ScalarModel(dir: string): string {
  return write(dir, 'int64-scalar.onnx', {
    inputs: [
      { name: 'x', type: 'float32', shape: [2, 3] },
      { name: 'steps', type: 'int64', shape: [] },
    ],
    outputs: [
      { name: 'y', type: 'float32', shape: [2, 3] },
      { name: 'steps_out', type: 'int64', shape: [] },
    ],
    nodes: [
      { op: 'Relu', inputs: ['x'], outputs: ['y'] },
      { op: 'Identity', inputs: ['steps'], outputs: ['steps_out'] },
    ],
  });
}

/** A bool input negated. */
export function boolModel(dir: string): string {
  return write(dir, 'bool.onnx', {
    inputs: [{ name: 'mask', type: 'bool', shape: ['batch', 3] }],
    outputs: [{ name: 'inverted', type: 'bool', shape: ['batch', 3] }],
    nodes: [{ op: 'Not', inputs: ['mask'], outputs: ['inverted'] }],
  });
}

/** A sequence model whose length dimension is symbolic: needs gate.inputShapes. */
export function symbolicSeqModel(dir: string): string {
  return write(dir, 'symbolic-seq.onnx', {
    inputs: [{ name: 'tokens', type: 'float32', shape: ['batch', 'seq', 8] }],
    outputs: [{ name: 'pooled', type: 'float32', shape: ['batch', 8] }],
    nodes: [
      {
        op: 'ReduceMean',
        inputs: ['tokens'],
        outputs: ['pooled'],
        attributes: { axes: { ints: [1] }, keepdims: { int: 0 } },
      },
    ],
  });
}

/** A model that loads but fails at run time: Reshape of [batch, 4] to [3, 5]. */
export function failingModel(dir: string): string {
  return write(dir, 'fails-at-run-time.onnx', {
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', 4] }],
    outputs: [{ name: 'y', type: 'float32', shape: [3, 5] }],
    nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
    initializers: [{ name: 'shape', type: 'int64', dims: [2], values: [3, 5] }],
  });
}

/**
 * x [1, 4] reshaped by its int64 input `shape` [2]: runs only when the shape holds 4 elements, as
 * a model runs only with the sample rate or state it was built for. Random integers (0 to 9)
 * break it; every element pinned to 2 gives [2, 2], which works.
 */
export function shapeInputModel(dir: string): string {
  return write(dir, 'shape-input.onnx', {
    inputs: [
      { name: 'x', type: 'float32', shape: [1, 4] },
      { name: 'shape', type: 'int64', shape: [2] },
    ],
    outputs: [{ name: 'y', type: 'float32', shape: ['rows', 'cols'] }],
    nodes: [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }],
  });
}

/** The Iris model with one Gemm weight changed: same signature, different outputs. */
export function perturbedIrisModel(dir: string): string {
  const model = onnx.ModelProto.decode(fs.readFileSync(path.join(IRIS_DIR, 'iris.onnx')));
  const weight = model.graph!.initializer!.find((t) => t.dims!.length === 2)!;
  const values = new Float32Array(new Uint8Array(weight.rawData!).slice().buffer);
  values[0] += 0.5;
  weight.rawData = new Uint8Array(values.buffer);
  const file = path.join(dir, 'iris-perturbed.onnx');
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return file;
}

/** The Iris eval set with its labels rotated (each row gets the next row's class). */
export function shuffledLabelsDataset(dir: string): string {
  const rows = fs
    .readFileSync(path.join(IRIS_DIR, 'eval.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { inputs: unknown; label: number });
  const file = path.join(dir, 'eval-shuffled.jsonl');
  fs.writeFileSync(
    file,
    rows.map((row) => JSON.stringify({ ...row, label: (row.label + 1) % 3 })).join('\n') + '\n',
  );
  return file;
}
