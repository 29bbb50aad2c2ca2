/**
 * {@link TensorData} to and from onnxruntime-node tensors, without copying: both sides hold the
 * same typed arrays. Kept apart from tensor.ts so that importing tensors does not load the native
 * addon (the main thread never needs it).
 */
import { Tensor } from 'onnxruntime-node';
import { type TensorData, isFeedableElementType } from './tensor';

/** An onnxruntime-node tensor over the same data (no copy). */
export function toOrtTensor(tensor: TensorData): Tensor {
  const { type } = tensor;
  if (!isFeedableElementType(type)) {
    throw new TypeError(`element type ${type} cannot be fed to onnxruntime-node`);
  }
  return new Tensor(type, tensor.data, tensor.dims);
}

/** A plain {@link TensorData} over an onnxruntime-node tensor's data (no copy). */
export function fromOrtTensor(tensor: Tensor): TensorData {
  return {
    type: tensor.type,
    dims: tensor.dims,
    data: tensor.data,
  };
}
