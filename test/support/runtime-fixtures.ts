/**
 * ONNX models for the lib/runtime tests, from the deterministic builder: an Identity per element
 * type, a batchable two-input model whose rows are easy to tell apart, models that fail at run
 * time, a slow model, and float16 casts to check the half-precision conversion against
 * onnxruntime itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  ELEMENT_TYPES,
  type ElementTypeName,
  type ModelSpec,
  encodeModel,
} from '../../tools/onnx/model-builder';

/** The element types onnxruntime-node can feed (the builder's list). */
export const FEEDABLE_TYPES = Object.keys(ELEMENT_TYPES) as ElementTypeName[];

/** `x` [batch, 3] of `type` → `y` = Identity(x). */
export function identityModel(type: ElementTypeName): ModelSpec {
  return {
    graphName: `identity-${type}`,
    inputs: [{ name: 'x', type, shape: ['batch', 3] }],
    outputs: [{ name: 'y', type, shape: ['batch', 3] }],
    nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
  };
}

/**
 * A batchable model with two inputs whose rows come back recognisably:
 * `tokens` float32 [batch, seq, 2] → `pooled` [batch, 2] = mean over seq;
 * `ids` int64 [batch, 3] → `ids_out` = Identity(ids).
 */
export function rowsModel(): ModelSpec {
  return {
    graphName: 'rows',
    inputs: [
      { name: 'tokens', type: 'float32', shape: ['batch', 'seq', 2] },
      { name: 'ids', type: 'int64', shape: ['batch', 3] },
    ],
    outputs: [
      { name: 'pooled', type: 'float32', shape: ['batch', 2] },
      { name: 'ids_out', type: 'int64', shape: ['batch', 3] },
    ],
    nodes: [
      {
        op: 'ReduceMean',
        inputs: ['tokens'],
        outputs: ['pooled'],
        attributes: { axes: { ints: [1] }, keepdims: { int: 0 } },
      },
      { op: 'Identity', inputs: ['ids'], outputs: ['ids_out'] },
    ],
  };
}

/**
 * `x` float32 [batch, 4] reshaped to [-1, 3]: runs when the element count divides by 3 (batch 3,
 * 6, …) and fails at run time otherwise. Its output's dim 0 is not the batch.
 */
export function reshapeModel(): ModelSpec {
  return {
    graphName: 'reshape',
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', 4] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['m', 3] }],
    initializers: [{ name: 'target', type: 'int64', dims: [2], values: [-1, 3] }],
    nodes: [{ op: 'Reshape', inputs: ['x', 'target'], outputs: ['y'] }],
  };
}

/** `a` float32 [n, k1] × `b` float32 [k2, 2]: fails at run time when k1 ≠ k2. */
export function matMulModel(): ModelSpec {
  return {
    graphName: 'matmul',
    inputs: [
      { name: 'a', type: 'float32', shape: ['n', 'k1'] },
      { name: 'b', type: 'float32', shape: ['k2', 2] },
    ],
    outputs: [{ name: 'c', type: 'float32', shape: ['n', 2] }],
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['c'] }],
  };
}

/** `x` float32 [batch, 512] through `k` chained MatMuls with one [512, 512] weight (1/512 each). */
export function slowModel(k: number): ModelSpec {
  const size = 512;
  return {
    graphName: `slow-${k}`,
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', size] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', size] }],
    initializers: [
      {
        name: 'w',
        type: 'float32',
        dims: [size, size],
        values: new Float32Array(size * size).fill(1 / size),
      },
    ],
    nodes: Array.from({ length: k }, (_, i) => ({
      op: 'MatMul',
      inputs: [i === 0 ? 'x' : `h${i}`, 'w'],
      outputs: [i === k - 1 ? 'y' : `h${i + 1}`],
    })),
  };
}

/** `x` float32 [n] → `y` float16 (Cast): onnxruntime's own float → half rounding. */
export function castToHalfModel(): ModelSpec {
  return {
    graphName: 'to-half',
    inputs: [{ name: 'x', type: 'float32', shape: ['n'] }],
    outputs: [{ name: 'y', type: 'float16', shape: ['n'] }],
    nodes: [
      { op: 'Cast', inputs: ['x'], outputs: ['y'], attributes: { to: { int: ELEMENT_TYPES.float16 } } },
    ],
  };
}

/** `x` float16 [n] → `y` float64 (Cast): onnxruntime's own half → number decoding. */
export function castFromHalfModel(): ModelSpec {
  return {
    graphName: 'from-half',
    inputs: [{ name: 'x', type: 'float16', shape: ['n'] }],
    outputs: [{ name: 'y', type: 'float64', shape: ['n'] }],
    nodes: [
      { op: 'Cast', inputs: ['x'], outputs: ['y'], attributes: { to: { int: ELEMENT_TYPES.float64 } } },
    ],
  };
}

/** An operator onnxruntime does not have: inspection passes, session creation fails. */
export function unknownOpModel(): ModelSpec {
  return {
    graphName: 'unknown-op',
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', 2] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', 2] }],
    nodes: [{ op: 'NoSuchOperator', inputs: ['x'], outputs: ['y'] }],
  };
}

/** Writes a model description into `dir` as `<name>.onnx` and returns the path. */
export function writeModel(dir: string, name: string, spec: ModelSpec): string {
  const file = path.join(dir, `${name}.onnx`);
  fs.writeFileSync(file, encodeModel(spec));
  return file;
}

/**
 * A small dense layer whose every output row depends on its own input row only:
 * `x` float32 [batch, 4] → `y` float32 [batch, 3] = x · W + b, with weights that are not exact
 * in binary (so rounding is exercised) and distinct per column (so swapped values show).
 */
export function affineModel(): ModelSpec {
  return {
    graphName: 'affine',
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', 4] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', 3] }],
    initializers: [
      {
        name: 'w',
        type: 'float32',
        dims: [4, 3],
        values: [0.1, -1.7, 3.3, 2.9, 0.01, -0.6, -4.1, 1.3, 0.7, 0.37, -2.2, 5.9],
      },
      { name: 'b', type: 'float32', dims: [3], values: [0.5, -0.25, 1.1] },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w'], outputs: ['xw'] },
      { op: 'Add', inputs: ['xw', 'b'], outputs: ['y'] },
    ],
  };
}

/**
 * A request for {@link slowModel} (`x` float32 [rows, 512], all 0.25) as binary tensor data: its
 * body and headers. Decoded inline by the server (a small JSON header), so it is queued as soon as
 * it has arrived.
 */
export function slowBinaryRequest(rows: number): { body: Buffer; headers: Record<string, string> } {
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        { name: 'x', shape: [rows, 512], datatype: 'FP32', parameters: { binary_data_size: rows * 2048 } },
      ],
    }),
  );
  const data = new Float32Array(rows * 512).fill(0.25);
  return {
    body: Buffer.concat([header, Buffer.from(data.buffer)]),
    headers: { 'Inference-Header-Content-Length': String(header.length) },
  };
}
