// Over ~400 lines on purpose: one wire-format decoder, a function per onnx.proto message it reads, sharing the reader and its error context.
/**
 * Decodes the parts of an ONNX `ModelProto` (onnx/onnx.proto) that modelfab reports, straight
 * from the wire format. Initializer data, node bodies (but for the value of a Constant node, its
 * weights in models exported that way) and everything else are skipped without being copied. The result is the file's content, uninterpreted; `inspect-model` checks it.
 */
import { type FieldTag, ProtobufError, ProtobufReader, WIRE_TYPE_NAMES, WireType } from './protobuf-reader';

/** A declared dimension: a size, a symbolic name, or undefined when the file gives neither. */
export type DimProto = bigint | string | undefined;

/** The declared type of a graph input or output. */
export type TypeProtoSummary =
  | { readonly kind: 'tensor'; readonly elemType: number; readonly shape: readonly DimProto[] | undefined }
  | { readonly kind: 'sequence' | 'map' | 'optional' | 'sparse-tensor' | 'opaque' | 'unknown' };

/** A graph input or output (`ValueInfoProto`). */
export interface ValueInfoSummary {
  readonly name: string;
  readonly type: TypeProtoSummary;
}

/** An initializer (`TensorProto`) or sparse initializer (`SparseTensorProto`, named by its values). */
export interface InitializerSummary {
  readonly name: string;
  /** The (dense) dimensions. */
  readonly dims: readonly bigint[];
  readonly sparse: boolean;
}

/** The value of a `Constant` node: its output's name and the (dense) dims of its value. */
export interface ConstantSummary {
  readonly name: string;
  /** The dimensions: a tensor's (dense for `sparse_value`), [] for `value_float`/`value_int`, [n] for a list. */
  readonly dims: readonly bigint[];
}

/** The decoded parts of `GraphProto`. */
export interface GraphSummary {
  name: string;
  nodeCount: number;
  readonly initializers: InitializerSummary[];
  /** The values of the graph's `Constant` nodes (default domain), weights by another name. */
  readonly constants: ConstantSummary[];
  readonly inputs: ValueInfoSummary[];
  readonly outputs: ValueInfoSummary[];
}

/** The decoded parts of `ModelProto`; fields absent from the file are undefined or empty. */
export interface ModelProtoSummary {
  readonly irVersion: bigint | undefined;
  readonly opsetImports: readonly { readonly domain: string; readonly version: bigint }[];
  readonly producerName: string;
  readonly producerVersion: string;
  readonly domain: string;
  readonly modelVersion: bigint;
  readonly docString: string;
  readonly graph: GraphSummary | undefined;
}

/**
 * Why the bytes could not be decoded. `not-onnx`: the first field is not one a ModelProto has.
 * `truncated`: a top-level field runs past the end of the input. `corrupt`: anything else.
 */
export type ModelDecodeFailure = 'not-onnx' | 'truncated' | 'corrupt';

/** A decoding failure with where it happened. */
export class ModelDecodeError extends Error {
  override readonly name = 'ModelDecodeError';

  constructor(
    readonly failure: ModelDecodeFailure,
    /** What went wrong, lower-case, including the byte offset. */
    readonly detail: string,
    /** Absolute byte offset of the unreadable item. */
    readonly offset: number,
    /** For `truncated`: what was cut short (`the graph field`), where it starts, how long the input needed to be. */
    readonly truncation?: {
      readonly field: string;
      readonly fieldOffset: number;
      readonly requiredSize: number;
    },
  ) {
    super(detail);
  }
}

/** The top-level ModelProto fields, by number: name and wire type. */
const MODEL_FIELDS: ReadonlyMap<number, { readonly name: string; readonly wireType: WireType }> = new Map([
  [1, { name: 'ir_version', wireType: WireType.VARINT }],
  [2, { name: 'producer_name', wireType: WireType.LEN }],
  [3, { name: 'producer_version', wireType: WireType.LEN }],
  [4, { name: 'domain', wireType: WireType.LEN }],
  [5, { name: 'model_version', wireType: WireType.VARINT }],
  [6, { name: 'doc_string', wireType: WireType.LEN }],
  [7, { name: 'graph', wireType: WireType.LEN }],
  [8, { name: 'opset_import', wireType: WireType.LEN }],
  [14, { name: 'metadata_props', wireType: WireType.LEN }],
  [20, { name: 'training_info', wireType: WireType.LEN }],
  [25, { name: 'functions', wireType: WireType.LEN }],
  [26, { name: 'configuration', wireType: WireType.LEN }],
]);

/** A ProtobufError that happened inside a named part of the model (`graph.input[1].type`). */
class LocatedProtobufError extends Error {
  constructor(
    readonly where: string,
    readonly protobufError: ProtobufError,
  ) {
    super(`${protobufError.message} (in ${where})`);
  }
}

/** Runs a decoder, labelling a ProtobufError it throws with `where` (the innermost label wins). */
function within<T>(where: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof ProtobufError) throw new LocatedProtobufError(where, err);
    throw err;
  }
}

/**
 * Decodes a ModelProto.
 *
 * `ir_version` (field 1) is required and is the first field both in field-number order (C++
 * protobuf) and in onnx.proto's declaration order (protobufjs), so a real model starts with the
 * `ir_version` key (byte 0x08). Bytes that do not start that way and fail to decode are reported
 * as `not-onnx` rather than as a damaged model.
 * @throws ModelDecodeError when the bytes are not a readable ModelProto.
 */
export function decodeModelProto(bytes: Uint8Array): ModelProtoSummary {
  const startsWithIrVersion = bytes[0] === 0x08;
  try {
    return decodeModelFields(new ProtobufReader(bytes));
  } catch (err) {
    if (err instanceof ModelDecodeError && err.failure !== 'not-onnx' && !startsWithIrVersion) {
      throw new ModelDecodeError(
        'not-onnx',
        `${err.detail}, and the file does not start with an ir_version field as onnx models do`,
        err.offset,
      );
    }
    throw err;
  }
}

function decodeModelFields(r: ProtobufReader): ModelProtoSummary {
  let irVersion: bigint | undefined;
  const opsetImports: { domain: string; version: bigint }[] = [];
  let producerName = '';
  let producerVersion = '';
  let domain = '';
  let modelVersion = 0n;
  let docString = '';
  let graph: GraphSummary | undefined;
  let fieldsRead = 0;

  while (!r.atEnd) {
    const tag = readFirstOrNextTag(r, fieldsRead);
    const field = MODEL_FIELDS.get(tag.fieldNumber);
    if (field && tag.wireType !== field.wireType) {
      const detail = `field ${tag.fieldNumber} at byte offset ${tag.offset} has wire type ${WIRE_TYPE_NAMES[tag.wireType]}, but a ModelProto's ${field.name} is ${WIRE_TYPE_NAMES[field.wireType]}`;
      throw new ModelDecodeError(fieldsRead === 0 ? 'not-onnx' : 'corrupt', detail, tag.offset);
    }
    if (!field && fieldsRead === 0) {
      throw new ModelDecodeError(
        'not-onnx',
        `the first field (number ${tag.fieldNumber}, ${WIRE_TYPE_NAMES[tag.wireType]}) is not a ModelProto field`,
        tag.offset,
      );
    }
    try {
      switch (tag.fieldNumber) {
        case 1:
          irVersion = r.readInt64();
          break;
        case 2:
          producerName = r.readString();
          break;
        case 3:
          producerVersion = r.readString();
          break;
        case 4:
          domain = r.readString();
          break;
        case 5:
          modelVersion = r.readInt64();
          break;
        case 6:
          docString = r.readString();
          break;
        case 7: {
          const sub = r.readMessage('graph');
          graph ??= { name: '', nodeCount: 0, initializers: [], constants: [], inputs: [], outputs: [] };
          decodeGraph(sub, graph);
          break;
        }
        case 8: {
          const where = `opset_import[${opsetImports.length}]`;
          const sub = r.readMessage(where);
          opsetImports.push(within(where, () => decodeOpset(sub)));
          break;
        }
        default:
          r.skipField(tag);
      }
    } catch (err) {
      throw toDecodeError(err, tag, field?.name ?? `field ${tag.fieldNumber}`);
    }
    fieldsRead++;
  }
  return { irVersion, opsetImports, producerName, producerVersion, domain, modelVersion, docString, graph };
}

/** Reads a top-level key; failing to read the very first one means the input is not ONNX. */
function readFirstOrNextTag(r: ProtobufReader, fieldsRead: number): FieldTag {
  try {
    return r.readTag();
  } catch (err) {
    if (!(err instanceof ProtobufError)) throw err;
    if (fieldsRead === 0) {
      throw new ModelDecodeError(
        'not-onnx',
        `the first bytes are not a protobuf field key (${err.message})`,
        0,
      );
    }
    if (err.kind === 'overrun' && err.atEndOfInput) {
      throw new ModelDecodeError(
        'truncated',
        `the input ends inside a field key at byte offset ${err.offset}`,
        err.offset,
        { field: 'a field key', fieldOffset: err.offset, requiredSize: err.requiredEnd ?? err.offset + 1 },
      );
    }
    throw new ModelDecodeError('corrupt', `${err.message} (a top-level field key)`, err.offset);
  }
}

/** Classifies an error raised while reading a top-level field's value. */
function toDecodeError(err: unknown, tag: FieldTag, fieldName: string): unknown {
  if (err instanceof ProtobufError && err.kind === 'overrun' && err.atEndOfInput) {
    return new ModelDecodeError(
      'truncated',
      `${fieldName} (field ${tag.fieldNumber}) starting at byte offset ${tag.offset} runs past the end of the input`,
      err.offset,
      {
        field: `the ${fieldName} field`,
        fieldOffset: tag.offset,
        requiredSize: err.requiredEnd ?? err.limit + 1,
      },
    );
  }
  if (err instanceof ProtobufError) {
    return new ModelDecodeError('corrupt', `${err.message} (in ${fieldName})`, err.offset);
  }
  if (err instanceof LocatedProtobufError) {
    return new ModelDecodeError('corrupt', err.message, err.protobufError.offset);
  }
  return err;
}

function decodeOpset(r: ProtobufReader): { domain: string; version: bigint } {
  let domain = '';
  let version = 0n;
  while (!r.atEnd) {
    const tag = r.readTag();
    if (tag.fieldNumber === 1) {
      r.expectWireType(tag, WireType.LEN, 'domain');
      domain = r.readString();
    } else if (tag.fieldNumber === 2) {
      r.expectWireType(tag, WireType.VARINT, 'version');
      version = r.readInt64();
    } else {
      r.skipField(tag);
    }
  }
  return { domain, version };
}

/** Decodes a GraphProto into `into` (a repeated graph field merges, as protobuf specifies). */
function decodeGraph(r: ProtobufReader, into: GraphSummary): void {
  while (!r.atEnd) {
    const tag = within('graph', () => r.readTag());
    switch (tag.fieldNumber) {
      case 1: {
        // node: counted; decoded only as far as a Constant's value
        const where = `graph.node[${into.nodeCount}]`;
        within('graph', () => r.expectWireType(tag, WireType.LEN, 'node'));
        const constant = within(where, () => decodeConstantNode(r.readMessage(where)));
        if (constant !== undefined) into.constants.push(constant);
        into.nodeCount++;
        break;
      }
      case 2:
        within('graph', () => r.expectWireType(tag, WireType.LEN, 'name'));
        into.name = within('graph.name', () => r.readString());
        break;
      case 5: {
        const where = `graph.initializer[${into.initializers.length}]`;
        within('graph', () => r.expectWireType(tag, WireType.LEN, 'initializer'));
        const tensor = within(where, () => decodeTensorHeader(r.readMessage('initializer')));
        into.initializers.push({ ...tensor, sparse: false });
        break;
      }
      case 11:
      case 12: {
        const list = tag.fieldNumber === 11 ? into.inputs : into.outputs;
        const where = `graph.${tag.fieldNumber === 11 ? 'input' : 'output'}[${list.length}]`;
        within('graph', () =>
          r.expectWireType(tag, WireType.LEN, tag.fieldNumber === 11 ? 'input' : 'output'),
        );
        list.push(within(where, () => decodeValueInfo(r.readMessage(where))));
        break;
      }
      case 15: {
        const where = `graph.sparse_initializer[${into.initializers.length}]`;
        within('graph', () => r.expectWireType(tag, WireType.LEN, 'sparse_initializer'));
        into.initializers.push(within(where, () => decodeSparseTensorHeader(r.readMessage(where))));
        break;
      }
      default:
        within('graph', () => r.skipField(tag));
    }
  }
}

/** The attributes of a Constant node that hold its value. */
const CONSTANT_VALUES = new Set([
  'value',
  'sparse_value',
  'value_float',
  'value_floats',
  'value_int',
  'value_ints',
]);

/**
 * The value of a NodeProto that is a `Constant` of the default domain (its first output and its
 * value's dims), or undefined for any other node. Tensor data is skipped, not copied.
 */
function decodeConstantNode(r: ProtobufReader): ConstantSummary | undefined {
  let output: string | undefined;
  let opType = '';
  let domain = '';
  let dims: bigint[] | undefined;
  while (!r.atEnd) {
    const tag = r.readTag();
    if (tag.fieldNumber === 2 && output === undefined) {
      r.expectWireType(tag, WireType.LEN, 'output');
      output = r.readString();
    } else if (tag.fieldNumber === 4) {
      r.expectWireType(tag, WireType.LEN, 'op_type');
      opType = r.readString();
    } else if (tag.fieldNumber === 7) {
      r.expectWireType(tag, WireType.LEN, 'domain');
      domain = r.readString();
    } else if (tag.fieldNumber === 5) {
      r.expectWireType(tag, WireType.LEN, 'attribute');
      dims = decodeConstantAttribute(r.readMessage('attribute')) ?? dims;
    } else {
      r.skipField(tag);
    }
  }
  if (opType !== 'Constant' || (domain !== '' && domain !== 'ai.onnx') || dims === undefined)
    return undefined;
  return { name: output ?? '', dims };
}

/** The dims of an AttributeProto's value when it is one of a Constant's value attributes, else undefined. */
function decodeConstantAttribute(r: ProtobufReader): bigint[] | undefined {
  let name = '';
  let dims: bigint[] | undefined;
  let listLength = 0;
  let scalar = false;
  while (!r.atEnd) {
    const tag = r.readTag();
    switch (tag.fieldNumber) {
      case 1:
        r.expectWireType(tag, WireType.LEN, 'name');
        name = r.readString();
        break;
      case 2: // f
      case 3: // i
        r.skipField(tag);
        scalar = true;
        break;
      case 5: // t
        r.expectWireType(tag, WireType.LEN, 't');
        dims = decodeTensorHeader(r.readMessage('t')).dims;
        break;
      case 7: // floats: packed (4 bytes each) or one fixed32 per value
        if (tag.wireType === WireType.LEN) {
          const { start, end } = r.readLengthDelimited('floats');
          listLength += Math.floor((end - start) / 4);
        } else {
          r.skipField(tag);
          listLength++;
        }
        break;
      case 8: {
        // ints: packed or one varint per value
        const ints: bigint[] = [];
        r.readRepeatedInt64(tag, ints);
        listLength += ints.length;
        break;
      }
      case 22: // sparse_tensor
        r.expectWireType(tag, WireType.LEN, 'sparse_tensor');
        dims = [...decodeSparseTensorHeader(r.readMessage('sparse_tensor')).dims];
        break;
      default:
        r.skipField(tag);
    }
  }
  if (!CONSTANT_VALUES.has(name)) return undefined;
  if (name === 'value_floats' || name === 'value_ints') return [BigInt(listLength)];
  if (name === 'value_float' || name === 'value_int') return scalar ? [] : undefined;
  return dims;
}

/** Reads a TensorProto's name and dims; its data fields are skipped, not copied. */
function decodeTensorHeader(r: ProtobufReader): { name: string; dims: bigint[] } {
  let name = '';
  const dims: bigint[] = [];
  while (!r.atEnd) {
    const tag = r.readTag();
    if (tag.fieldNumber === 1) {
      r.readRepeatedInt64(tag, dims);
    } else if (tag.fieldNumber === 8) {
      r.expectWireType(tag, WireType.LEN, 'name');
      name = r.readString();
    } else {
      r.skipField(tag);
    }
  }
  return { name, dims };
}

/** Reads a SparseTensorProto's name (its values' name) and dense dims. */
function decodeSparseTensorHeader(r: ProtobufReader): InitializerSummary {
  let name = '';
  const dims: bigint[] = [];
  while (!r.atEnd) {
    const tag = r.readTag();
    if (tag.fieldNumber === 1) {
      r.expectWireType(tag, WireType.LEN, 'values');
      name = decodeTensorHeader(r.readMessage('values')).name;
    } else if (tag.fieldNumber === 3) {
      r.readRepeatedInt64(tag, dims);
    } else {
      r.skipField(tag);
    }
  }
  return { name, dims, sparse: true };
}

function decodeValueInfo(r: ProtobufReader): ValueInfoSummary {
  let name = '';
  let type: TypeProtoSummary = { kind: 'unknown' };
  while (!r.atEnd) {
    const tag = r.readTag();
    if (tag.fieldNumber === 1) {
      r.expectWireType(tag, WireType.LEN, 'name');
      name = r.readString();
    } else if (tag.fieldNumber === 2) {
      r.expectWireType(tag, WireType.LEN, 'type');
      type = decodeType(r.readMessage('type'));
    } else {
      r.skipField(tag);
    }
  }
  return { name, type };
}

/** The TypeProto `value` oneof members other than tensor_type, by field number. */
const NON_TENSOR_KINDS: ReadonlyMap<
  number,
  Exclude<TypeProtoSummary['kind'], 'tensor' | 'unknown'>
> = new Map([
  [4, 'sequence'],
  [5, 'map'],
  [7, 'opaque'],
  [8, 'sparse-tensor'],
  [9, 'optional'],
] as const);

function decodeType(r: ProtobufReader): TypeProtoSummary {
  // `value` is a oneof: the last member on the wire wins.
  let type: TypeProtoSummary = { kind: 'unknown' };
  while (!r.atEnd) {
    const tag = r.readTag();
    const nonTensor = NON_TENSOR_KINDS.get(tag.fieldNumber);
    if (tag.fieldNumber === 1) {
      r.expectWireType(tag, WireType.LEN, 'tensor_type');
      type = decodeTensorType(r.readMessage('tensor_type'));
    } else if (nonTensor) {
      r.expectWireType(tag, WireType.LEN, nonTensor);
      r.skipField(tag);
      type = { kind: nonTensor };
    } else {
      r.skipField(tag);
    }
  }
  return type;
}

function decodeTensorType(r: ProtobufReader): TypeProtoSummary {
  let elemType = 0;
  let shape: DimProto[] | undefined;
  while (!r.atEnd) {
    const tag = r.readTag();
    if (tag.fieldNumber === 1) {
      r.expectWireType(tag, WireType.VARINT, 'elem_type');
      elemType = Number(r.readInt64());
    } else if (tag.fieldNumber === 2) {
      r.expectWireType(tag, WireType.LEN, 'shape');
      shape = decodeShape(r.readMessage('shape'));
    } else {
      r.skipField(tag);
    }
  }
  return { kind: 'tensor', elemType, shape };
}

function decodeShape(r: ProtobufReader): DimProto[] {
  const dims: DimProto[] = [];
  while (!r.atEnd) {
    const tag = r.readTag();
    if (tag.fieldNumber === 1) {
      r.expectWireType(tag, WireType.LEN, 'dim');
      dims.push(decodeDimension(r.readMessage('dim')));
    } else {
      r.skipField(tag);
    }
  }
  return dims;
}

function decodeDimension(r: ProtobufReader): DimProto {
  // `value` is a oneof of dim_value and dim_param: the last one on the wire wins.
  let dim: DimProto;
  while (!r.atEnd) {
    const tag = r.readTag();
    if (tag.fieldNumber === 1) {
      r.expectWireType(tag, WireType.VARINT, 'dim_value');
      dim = r.readInt64();
    } else if (tag.fieldNumber === 2) {
      r.expectWireType(tag, WireType.LEN, 'dim_param');
      dim = r.readString();
    } else {
      r.skipField(tag);
    }
  }
  return dim;
}
