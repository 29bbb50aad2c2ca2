/**
 * Models for testing how the server treats hostile or degenerate inputs, written into a directory
 * with the deterministic ONNX builder: a silero-shaped stateful model, a model with symbolic
 * spatial dims, a model with inputs of several element types, and the smallest model found whose
 * input makes onnxruntime-node (1.30, CPU) abort the process natively.
 *
 * Native aborts found with onnxruntime-node 1.30 on CPU (each kills the whole process, also from a
 * worker thread; the same with 1, 2 or 4 intra-op threads and with graph optimisations on or off):
 * LSTM with batch 0 (SIGABRT), LSTM with sequence_lens and batch 0 (SIGSEGV), LSTM whose input has
 * rank below 3 (SIGABRT, when the model leaves the rank undeclared), GRU with batch 0 or sequence
 * length 0 (SIGABRT), ConvTranspose 1-d with length 0 (SIGSEGV), InstanceNormalization with a
 * spatial dim 0 (SIGSEGV), RoiAlign with spatial dims 0 (SIGSEGV), DFT with a signal length 0
 * (SIGFPE), TopK with a zero-sized dim other than its axis (SIGFPE), integer Div of the minimum
 * value by -1 (SIGFPE).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ELEMENT_TYPES, type ModelSpec, encodeModel } from '../../tools/onnx/model-builder';

function write(dir: string, name: string, spec: ModelSpec): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, encodeModel(spec));
  return file;
}

/** `n` deterministic weights in [-scale, scale], not exact in binary and not periodic over small strides. */
function weights(n: number, scale: number): number[] {
  return Array.from({ length: n }, (_, i) => ((((i * 7919) % 101) - 50) / 50) * scale);
}

/** The LSTM hidden size of {@link statefulScalarModel}, as in silero VAD's `state`. */
const STATE_SIZE = 128;

/**
 * A silero-VAD-shaped stateful model:
 * `input` float32 [batch, samples], `state` float32 [2, batch, 128], `sr` int64 [] →
 * `output` float32 [batch, 1] (a probability), `stateN` float32 [2, batch, 128].
 *
 * The graph: `input` unsqueezed to [batch, 1, samples], reflect-padded by 16 at the end, a strided
 * Conv (8 filters of 32, stride 16) with Relu, a mean over time, scaled by `sr / 16000`, then one
 * LSTM step (hidden size 128) whose initial h and c are `state[0]` and `state[1]`; `stateN` is the
 * new h and c, `output` is Sigmoid of a dense layer over the new h. Runs on batch 1, samples 512,
 * sr 16000 with finite outputs.
 *
 * Inputs that abort onnxruntime natively (SIGABRT, exit code 134, "terminate called without an
 * active exception"): `input` of batch 0 with at least 17 samples together with `state` of batch 0,
 * whatever `sr`, e.g. `input` [0, 512] with `state` [2, 0, 128] and sr 16000, or `input` [0, 256]
 * with `state` [2, 0, 128] and sr 8000 (the LSTM with batch 0). Inputs that only throw: samples 0
 * to 16 (the reflect Pad, also with batch 0), batches that differ between `input` and `state` (the
 * LSTM's initial_h check), `sr` of shape [0]. onnxruntime accepts `sr` of shape [1] for the
 * declared scalar and runs normally.
 */
export function statefulScalarModel(dir: string): string {
  const hidden = STATE_SIZE;
  const features = 8;
  const kernel = 32;
  return write(dir, 'stateful-scalar.onnx', {
    graphName: 'stateful-scalar',
    inputs: [
      { name: 'input', type: 'float32', shape: ['batch', 'samples'] },
      { name: 'state', type: 'float32', shape: [2, 'batch', hidden] },
      { name: 'sr', type: 'int64', shape: [] },
    ],
    outputs: [
      { name: 'output', type: 'float32', shape: ['batch', 1] },
      { name: 'stateN', type: 'float32', shape: [2, 'batch', hidden] },
    ],
    initializers: [
      { name: 'axis0', type: 'int64', dims: [1], values: [0] },
      { name: 'axis1', type: 'int64', dims: [1], values: [1] },
      { name: 'pads', type: 'int64', dims: [6], values: [0, 0, 0, 0, 0, 16] },
      {
        name: 'conv_w',
        type: 'float32',
        dims: [features, 1, kernel],
        values: weights(features * kernel, 0.5),
      },
      { name: 'conv_b', type: 'float32', dims: [features], values: weights(features, 0.1) },
      { name: 'sr_ref', type: 'float32', dims: [], values: [16000] },
      { name: 'split', type: 'int64', dims: [2], values: [1, 1] },
      {
        name: 'lstm_w',
        type: 'float32',
        dims: [1, 4 * hidden, features],
        values: weights(4 * hidden * features, 0.3),
      },
      {
        name: 'lstm_r',
        type: 'float32',
        dims: [1, 4 * hidden, hidden],
        values: weights(4 * hidden * hidden, 0.05),
      },
      { name: 'lstm_b', type: 'float32', dims: [1, 8 * hidden], values: weights(8 * hidden, 0.1) },
      { name: 'out_w', type: 'float32', dims: [hidden, 1], values: weights(hidden, 0.2) },
      { name: 'out_b', type: 'float32', dims: [1], values: [0.1] },
    ],
    nodes: [
      { op: 'Unsqueeze', inputs: ['input', 'axis1'], outputs: ['signal'] },
      {
        op: 'Pad',
        inputs: ['signal', 'pads'],
        outputs: ['padded'],
        attributes: { mode: { string: 'reflect' } },
      },
      {
        op: 'Conv',
        inputs: ['padded', 'conv_w', 'conv_b'],
        outputs: ['frames'],
        attributes: { kernel_shape: { ints: [kernel] }, strides: { ints: [16] } },
      },
      { op: 'Relu', inputs: ['frames'], outputs: ['activations'] },
      {
        op: 'ReduceMean',
        inputs: ['activations'],
        outputs: ['pooled'],
        attributes: { axes: { ints: [2] }, keepdims: { int: 0 } },
      },
      {
        op: 'Cast',
        inputs: ['sr'],
        outputs: ['sr_float'],
        attributes: { to: { int: ELEMENT_TYPES.float32 } },
      },
      { op: 'Div', inputs: ['sr_float', 'sr_ref'], outputs: ['sr_ratio'] },
      { op: 'Mul', inputs: ['pooled', 'sr_ratio'], outputs: ['scaled'] },
      { op: 'Unsqueeze', inputs: ['scaled', 'axis0'], outputs: ['step'] },
      { op: 'Split', inputs: ['state', 'split'], outputs: ['h0', 'c0'], attributes: { axis: { int: 0 } } },
      {
        op: 'LSTM',
        inputs: ['step', 'lstm_w', 'lstm_r', 'lstm_b', '', 'h0', 'c0'],
        outputs: ['', 'hN', 'cN'],
        attributes: { hidden_size: { int: hidden } },
      },
      { op: 'Concat', inputs: ['hN', 'cN'], outputs: ['stateN'], attributes: { axis: { int: 0 } } },
      { op: 'Squeeze', inputs: ['hN', 'axis0'], outputs: ['h'] },
      { op: 'MatMul', inputs: ['h', 'out_w'], outputs: ['logit_w'] },
      { op: 'Add', inputs: ['logit_w', 'out_b'], outputs: ['logit'] },
      { op: 'Sigmoid', inputs: ['logit'], outputs: ['output'] },
    ],
  });
}

/**
 * Symbolic spatial dims: `image` float32 [batch, 3, height, width] through a 3×3 Conv with padding
 * 1 (4 filters of fixed weights), Relu, a global average pool and Flatten → `logits` float32
 * [batch, 4]. Runs on any height and width of at least 1. No input aborts onnxruntime natively:
 * batch 0 gives an empty [0, 4]; a height or width of 0 throws ("Invalid input shape").
 */
export function spatialModel(dir: string): string {
  return write(dir, 'spatial.onnx', {
    graphName: 'spatial',
    inputs: [{ name: 'image', type: 'float32', shape: ['batch', 3, 'height', 'width'] }],
    outputs: [{ name: 'logits', type: 'float32', shape: ['batch', 4] }],
    initializers: [
      { name: 'conv_w', type: 'float32', dims: [4, 3, 3, 3], values: weights(4 * 3 * 3 * 3, 0.5) },
      { name: 'conv_b', type: 'float32', dims: [4], values: [0.1, -0.2, 0.3, 0.05] },
    ],
    nodes: [
      {
        op: 'Conv',
        inputs: ['image', 'conv_w', 'conv_b'],
        outputs: ['features'],
        attributes: { kernel_shape: { ints: [3, 3] }, pads: { ints: [1, 1, 1, 1] } },
      },
      { op: 'Relu', inputs: ['features'], outputs: ['activations'] },
      { op: 'GlobalAveragePool', inputs: ['activations'], outputs: ['pooled'] },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['logits'], attributes: { axis: { int: 1 } } },
    ],
  });
}

/**
 * Inputs of three element types: `ids` int64 [batch, seq] (indices into a 16 × 4 embedding table,
 * valid from -16 to 15), `mask` bool [batch, seq], `scale` float16 [] →
 * `pooled` float32 [batch, 4] = scale × the mean of the embeddings where mask is true (0 where it
 * is false everywhere), `count` int64 [batch] = the number of true mask entries per row.
 * An id out of range throws ("indices element out of data bounds"); no input found aborts natively.
 */
export function multiInputModel(dir: string): string {
  return write(dir, 'multi-input.onnx', {
    graphName: 'multi-input',
    inputs: [
      { name: 'ids', type: 'int64', shape: ['batch', 'seq'] },
      { name: 'mask', type: 'bool', shape: ['batch', 'seq'] },
      { name: 'scale', type: 'float16', shape: [] },
    ],
    outputs: [
      { name: 'pooled', type: 'float32', shape: ['batch', 4] },
      { name: 'count', type: 'int64', shape: ['batch'] },
    ],
    initializers: [
      { name: 'table', type: 'float32', dims: [16, 4], values: weights(16 * 4, 1) },
      { name: 'seq_axis', type: 'int64', dims: [1], values: [1] },
      { name: 'feature_axis', type: 'int64', dims: [1], values: [2] },
      { name: 'one', type: 'float32', dims: [], values: [1] },
    ],
    nodes: [
      { op: 'Gather', inputs: ['table', 'ids'], outputs: ['embedded'], attributes: { axis: { int: 0 } } },
      {
        op: 'Cast',
        inputs: ['mask'],
        outputs: ['weight'],
        attributes: { to: { int: ELEMENT_TYPES.float32 } },
      },
      { op: 'Unsqueeze', inputs: ['weight', 'feature_axis'], outputs: ['weight3'] },
      { op: 'Mul', inputs: ['embedded', 'weight3'], outputs: ['masked'] },
      {
        op: 'ReduceSum',
        inputs: ['masked', 'seq_axis'],
        outputs: ['summed'],
        attributes: { keepdims: { int: 0 } },
      },
      {
        op: 'ReduceSum',
        inputs: ['weight', 'seq_axis'],
        outputs: ['weight_sum'],
        attributes: { keepdims: { int: 1 } },
      },
      { op: 'Max', inputs: ['weight_sum', 'one'], outputs: ['denominator'] },
      { op: 'Div', inputs: ['summed', 'denominator'], outputs: ['mean'] },
      {
        op: 'Cast',
        inputs: ['scale'],
        outputs: ['scale32'],
        attributes: { to: { int: ELEMENT_TYPES.float32 } },
      },
      { op: 'Mul', inputs: ['mean', 'scale32'], outputs: ['pooled'] },
      { op: 'Cast', inputs: ['mask'], outputs: ['flags'], attributes: { to: { int: ELEMENT_TYPES.int64 } } },
      {
        op: 'ReduceSum',
        inputs: ['flags', 'seq_axis'],
        outputs: ['count'],
        attributes: { keepdims: { int: 0 } },
      },
    ],
  });
}

/**
 * The input of {@link abortingModel} that aborts onnxruntime-node natively: `x` float32 [1, 0, 1]
 * (one time step, batch 0). The process dies with SIGABRT (exit code 134 from a shell) after
 * printing "terminate called without an active exception"; no JavaScript error is thrown.
 */
export const ABORTING_INPUT = {
  name: 'x',
  type: 'float32',
  dims: [1, 0, 1],
  signal: 'SIGABRT',
  exitCode: 134,
} as const;

/**
 * The smallest model found that onnxruntime-node aborts on: one LSTM (hidden size 1, no initial
 * state) over `x` float32 [seq, batch, 1] → `y` float32 [1, batch, 1] (the last hidden state).
 * Runs on any batch of at least 1 and any seq (seq 0 gives zeros). Feeding {@link ABORTING_INPUT},
 * `x` [1, 0, 1] (batch 0), kills the process with SIGABRT; so does any other `x` with batch 0.
 */
export function abortingModel(dir: string): string {
  return write(dir, 'aborting-lstm.onnx', {
    graphName: 'aborting-lstm',
    inputs: [{ name: 'x', type: 'float32', shape: ['seq', 'batch', 1] }],
    outputs: [{ name: 'y', type: 'float32', shape: [1, 'batch', 1] }],
    initializers: [
      { name: 'w', type: 'float32', dims: [1, 4, 1], values: [0.5, -0.25, 0.75, 0.1] },
      { name: 'r', type: 'float32', dims: [1, 4, 1], values: [0.2, 0.3, -0.4, 0.6] },
    ],
    nodes: [
      {
        op: 'LSTM',
        inputs: ['x', 'w', 'r'],
        outputs: ['', 'y'],
        attributes: { hidden_size: { int: 1 } },
      },
    ],
  });
}
