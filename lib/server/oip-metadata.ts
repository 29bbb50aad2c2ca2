/**
 * The Open Inference Protocol's metadata answers: server metadata (`GET /v2`) and model metadata
 * (`GET /v2/models/{name}[/versions/{version}]`), from the model's inspected signature.
 */
import { type ModelInfo, type TensorSignature, type ValueSignature } from '../model';
import { oipDatatype } from '../runtime/oip-datatypes';

/** The protocol extensions the server supports, as reported in server metadata. */
export const OIP_EXTENSIONS: readonly string[] = Object.freeze(['binary_tensor_data']);

/** The server's name in server metadata. */
export const OIP_SERVER_NAME = 'modelfab';

/** `$metadata_server_response`. */
export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

/** `$metadata_tensor`: a model input or output. */
export interface TensorMetadata {
  name: string;
  datatype: string;
  /** Declared dims; -1 for a symbolic or unknown dimension. */
  shape: number[];
}

/** `$metadata_model_response`. */
export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: 'onnxruntime_onnx';
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** Server metadata: `{ name: 'modelfab', version, extensions }`. */
export function serverMetadata(version: string): ServerMetadata {
  return { name: OIP_SERVER_NAME, version, extensions: [...OIP_EXTENSIONS] };
}

function tensorMetadata(signature: TensorSignature): TensorMetadata {
  return {
    name: signature.name,
    datatype: oipDatatype(signature.elementType),
    // A value whose rank the model does not declare: one unknown dimension, the closest the
    // protocol's shape can say "unknown".
    shape:
      signature.shape === undefined ? [-1] : signature.shape.map((d) => (typeof d === 'number' ? d : -1)),
  };
}

function tensorsOf(values: readonly ValueSignature[]): TensorMetadata[] {
  const out: TensorMetadata[] = [];
  for (const v of values) if (v.isTensor) out.push(tensorMetadata(v));
  return out;
}

/**
 * Model metadata for `model` served as `name`, version `version`: its tensor inputs and outputs in
 * graph order with their protocol datatypes and declared shapes, symbolic dimensions as -1 (and
 * a value of undeclared rank as `[-1]`). Values that are not tensors (sequences, maps) are left
 * out: the protocol carries tensors only.
 */
export function modelMetadata(model: ModelInfo, name: string, version: string): ModelMetadata {
  return {
    name,
    versions: [version],
    platform: 'onnxruntime_onnx',
    inputs: tensorsOf(model.inputs),
    outputs: tensorsOf(model.outputs),
  };
}
