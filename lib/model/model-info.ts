/**
 * What modelfab knows about an ONNX model file without running it: identity (path, digest,
 * size), provenance (IR version, opsets, producer), size (parameters, nodes) and the IO
 * signature, reported the way onnxruntime-node reports it in `session.inputMetadata`.
 */

/**
 * Tensor element types by the names onnxruntime-node uses (`Tensor.Type`). onnxruntime-node 1.30
 * can feed and fetch the first thirteen; the rest are named after their ONNX `DataType` (lower
 * case) so a model that uses them can still be inspected and reported.
 */
export type ElementType =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'string'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64'
  | 'complex64'
  | 'complex128'
  | 'bfloat16'
  | 'float8e4m3fn'
  | 'float8e4m3fnuz'
  | 'float8e5m2'
  | 'float8e5m2fnuz'
  | 'uint4'
  | 'int4'
  | 'float4e2m1'
  | 'float8e8m0'
  | 'uint2'
  | 'int2';

/**
 * One dimension of a tensor shape: a fixed size, or a symbolic dimension kept by its name
 * (`'batch'`). A dimension with neither a size nor a name (or a negative size) is the empty
 * string `''`, exactly as onnxruntime-node reports it.
 */
export type Dim = number | string;

/** A tensor input or output of the model. */
export interface TensorSignature {
  readonly name: string;
  /** Always true: mirrors onnxruntime-node's `TensorValueMetadata.isTensor`. */
  readonly isTensor: true;
  readonly elementType: ElementType;
  /**
   * The declared dimensions; `[]` for a scalar; `undefined` when the model does not declare the
   * rank. (onnxruntime-node reports an undeclared rank as `[]`, the same as a scalar.)
   */
  readonly shape: readonly Dim[] | undefined;
  /**
   * True when dimension 0 exists and is symbolic or unknown (a string, `''` included), i.e. a
   * batch dimension the server may stack requests along.
   */
  readonly batchDim: boolean;
}

/**
 * What a non-tensor value is: a sequence, map, optional or sparse tensor (ONNX `TypeProto`
 * kinds), an opaque value, or `unknown` when the model declares no type for it.
 */
export type NonTensorKind = 'sequence' | 'map' | 'optional' | 'sparse-tensor' | 'opaque' | 'unknown';

/** An input or output that is not a dense tensor. onnxruntime-node reports these with `isTensor: false`. */
export interface NonTensorSignature {
  readonly name: string;
  readonly isTensor: false;
  readonly kind: NonTensorKind;
  /** Always false: only tensors are batched. */
  readonly batchDim: false;
}

/** A model input or output; narrow on `isTensor`. */
export type ValueSignature = TensorSignature | NonTensorSignature;

/** An operator set the model imports. */
export interface OpsetImport {
  /** The operator domain; the default domain (written `''` or `'ai.onnx'` in files) is always `'ai.onnx'`. */
  readonly domain: string;
  readonly version: number;
}

/** Everything `inspectModel` reports about a model file. */
export interface ModelInfo {
  /** Absolute path of the file. */
  readonly path: string;
  /** SHA-256 of the file's bytes, lower-case hex. */
  readonly sha256: string;
  readonly sizeBytes: number;
  /** ONNX IR version (`ModelProto.ir_version`). */
  readonly irVersion: number;
  /** Operator sets in file order, the default domain named `'ai.onnx'`. */
  readonly opsetImports: readonly OpsetImport[];
  /** `''` when the file does not say. */
  readonly producerName: string;
  /** `''` when the file does not say. */
  readonly producerVersion: string;
  /** The model's namespace (`ModelProto.domain`), `''` when not set. */
  readonly domain: string;
  /** `ModelProto.model_version`, 0 when not set. */
  readonly modelVersion: number;
  /** `ModelProto.doc_string`, `''` when not set. */
  readonly docString: string;
  readonly graphName: string;
  /** Nodes of the main graph (nodes inside subgraphs such as If/Loop bodies are not counted). */
  readonly nodeCount: number;
  /**
   * Elements of all initializers and `Constant` node values of the main graph (exporters put
   * weights in either): the product of each one's dims (1 for a scalar, n for a list of n). A
   * sparse initializer or `sparse_value` counts its dense element count (the product of its
   * `dims`), which is what onnxruntime materializes, not its stored non-zero values.
   * Initializers and constants inside subgraphs are not counted.
   */
  readonly parameterCount: number;
  /**
   * The inputs a caller must feed, in graph order: graph inputs that are also initializers
   * (IR < 4 style constants, which onnxruntime lets a caller override but does not list) are
   * left out, as onnxruntime-node leaves them out of `inputNames`.
   */
  readonly inputs: readonly ValueSignature[];
  readonly outputs: readonly ValueSignature[];
  /**
   * True when the model has at least one input and every input and output is a tensor with a
   * batch dimension 0 ({@link TensorSignature.batchDim}), so requests can be stacked along dim 0
   * and the outputs split back. The symbols need not match (exporters often name the output's
   * batch dim differently). A value whose rank is not declared makes the model not batchable.
   */
  readonly batchable: boolean;
}
