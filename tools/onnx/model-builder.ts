/**
 * Writes ONNX models from a plain description. Development tooling only (the Iris example's
 * training script and the test fixtures); it is not part of the published library.
 *
 * Encoding is deterministic: the same description always gives the same bytes.
 */
import { onnx } from 'onnx-proto';

/** ONNX element types by the names onnxruntime-node uses for them. */
export const ELEMENT_TYPES = {
  float32: onnx.TensorProto.DataType.FLOAT,
  uint8: onnx.TensorProto.DataType.UINT8,
  int8: onnx.TensorProto.DataType.INT8,
  uint16: onnx.TensorProto.DataType.UINT16,
  int16: onnx.TensorProto.DataType.INT16,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  string: onnx.TensorProto.DataType.STRING,
  bool: onnx.TensorProto.DataType.BOOL,
  float16: onnx.TensorProto.DataType.FLOAT16,
  float64: onnx.TensorProto.DataType.DOUBLE,
  uint32: onnx.TensorProto.DataType.UINT32,
  uint64: onnx.TensorProto.DataType.UINT64,
} as const;

export type ElementTypeName = keyof typeof ELEMENT_TYPES;

/** A graph input or output. `shape` entries are fixed sizes or symbolic names; omit it for unknown rank. */
export interface ValueSpec {
  readonly name: string;
  readonly type: ElementTypeName;
  readonly shape?: ReadonlyArray<number | string>;
}

export type AttributeValue =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly string: string };

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly domain?: string;
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

/** A constant tensor stored in the graph. Values are written little-endian into raw_data. */
export interface InitializerSpec {
  readonly name: string;
  readonly type: 'float32' | 'float64' | 'int32' | 'int64' | 'bool';
  readonly dims: readonly number[];
  readonly values: ArrayLike<number>;
}

export interface ModelSpec {
  readonly inputs: readonly ValueSpec[];
  readonly outputs: readonly ValueSpec[];
  readonly nodes: readonly NodeSpec[];
  readonly initializers?: readonly InitializerSpec[];
  /** @default 'modelfab-graph' */
  readonly graphName?: string;
  /** Default-domain opset. @default 13 */
  readonly opset?: number;
  /** @default 8 */
  readonly irVersion?: number;
  /** @default 'modelfab-tools' */
  readonly producerName?: string;
  /** @default '1' */
  readonly producerVersion?: string;
  readonly docString?: string;
}

function valueInfo(value: ValueSpec): onnx.IValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType: ELEMENT_TYPES[value.type] };
  if (value.shape) {
    tensorType.shape = {
      dim: value.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
    };
  }
  return { name: value.name, type: { tensorType } };
}

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('int' in value) return { name, type: T.INT, i: value.int };
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  if ('ints' in value) return { name, type: T.INTS, ints: [...value.ints] };
  if ('floats' in value) return { name, type: T.FLOATS, floats: [...value.floats] };
  return { name, type: T.STRING, s: Buffer.from(value.string, 'utf8') };
}

function rawData(init: InitializerSpec): Uint8Array {
  const n = init.values.length;
  const expected = init.dims.reduce((a, b) => a * b, 1);
  if (n !== expected) {
    throw new Error(`initializer ${init.name}: ${n} values for dims [${init.dims.join(', ')}] (${expected})`);
  }
  switch (init.type) {
    case 'float32':
      return new Uint8Array(Float32Array.from(init.values).buffer);
    case 'float64':
      return new Uint8Array(Float64Array.from(init.values).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(init.values).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from(Array.from(init.values, (v) => BigInt(v))).buffer);
    case 'bool':
      return Uint8Array.from(init.values, (v) => (v ? 1 : 0));
  }
}

/** Encodes a model description as ONNX protobuf bytes. */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: spec.irVersion ?? 8,
    producerName: spec.producerName ?? 'modelfab-tools',
    producerVersion: spec.producerVersion ?? '1',
    docString: spec.docString ?? '',
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }],
    graph: {
      name: spec.graphName ?? 'modelfab-graph',
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map((init) => ({
        name: init.name,
        dataType: ELEMENT_TYPES[init.type],
        dims: [...init.dims],
        rawData: rawData(init),
      })),
      node: spec.nodes.map((node, i) => ({
        opType: node.op,
        name: node.name ?? `${node.op.toLowerCase()}_${i}`,
        domain: node.domain ?? '',
        input: [...node.inputs],
        output: [...node.outputs],
        attribute: Object.entries(node.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
