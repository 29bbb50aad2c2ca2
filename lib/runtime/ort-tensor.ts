/**
 * {@link TensorData} to and from onnxruntime-node tensors, without copying: both sides hold the
 * same typed arrays. onnxruntime-node is loaded on first use, not on import, so a process that
 * imports the runtime but never runs inference (synth) does not load its native addon.
 */
import type * as Ort from 'onnxruntime-node';
import { type TensorData, isFeedableElementType } from './tensor';

/** onnxruntime-node, loaded on first use. */
export function onnxruntime(): typeof Ort {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('onnxruntime-node') as typeof Ort;
}

/** An onnxruntime-node tensor over the same data (no copy). */
export function toOrtTensor(tensor: TensorData): Ort.Tensor {
  const { type } = tensor;
  if (!isFeedableElementType(type)) {
    throw new TypeError(`element type ${type} cannot be fed to onnxruntime-node`);
  }
  return new (onnxruntime().Tensor)(type, tensor.data, tensor.dims);
}

/** A plain {@link TensorData} over an onnxruntime-node tensor's data (no copy). */
export function fromOrtTensor(tensor: Ort.Tensor): TensorData {
  return {
    type: tensor.type,
    dims: tensor.dims,
    data: tensor.data,
  };
}
