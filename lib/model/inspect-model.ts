/**
 * Reads an ONNX model file and reports what modelfab needs to know about it, synchronously (it
 * runs inside cdk8s construct constructors) and without onnxruntime.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  type DimProto,
  type GraphSummary,
  ModelDecodeError,
  type ModelProtoSummary,
  type ValueInfoSummary,
  decodeModelProto,
} from './decode-model-proto';
import { MAX_KNOWN_ELEMENT_TYPE_CODE, elementTypeOfCode } from './element-types';
import { ModelFileError } from './errors';
import { type Dim, type ModelInfo, type OpsetImport, type ValueSignature } from './model-info';
import { sniffFormat } from './sniff-format';

/**
 * The newest ONNX IR version modelfab accepts: the newest onnxruntime-node 1.30 loads. Newer
 * models are reported as `unsupported` here rather than failing later in the runtime.
 */
export const MAX_SUPPORTED_IR_VERSION = 13;

/** The name of the default operator domain, which files write as `''` or `'ai.onnx'`. */
export const DEFAULT_OPSET_DOMAIN = 'ai.onnx';

/**
 * Inspects an ONNX model file: digest, size, IR version, opsets, producer, parameter and node
 * counts, and the IO signature as onnxruntime-node reports it.
 *
 * @param modelPath the file; a relative path resolves from the current directory
 * @throws ModelFileError when the file is missing, unreadable, empty, truncated, corrupt, not an
 *   onnx model, has no graph or is a model modelfab cannot handle; `code` says which.
 */
export function inspectModel(modelPath: string): ModelInfo {
  const absolute = path.resolve(modelPath);
  const bytes = readModelFile(modelPath, absolute);
  const proto = decode(bytes, absolute);
  return describeModel(proto, {
    path: absolute,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    sizeBytes: bytes.length,
  });
}

/** Reads the whole file, turning every way that can fail into a ModelFileError. */
function readModelFile(received: string, absolute: string): Buffer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(absolute);
  } catch (err) {
    throw fileSystemError(err, received, absolute);
  }
  if (stat.isDirectory()) {
    throw new ModelFileError(
      'not-a-file',
      absolute,
      `model path is a directory, not a file: ${absolute}; pass the .onnx file inside it`,
    );
  }
  if (!stat.isFile()) {
    throw new ModelFileError(
      'not-a-file',
      absolute,
      `model path is not a regular file: ${absolute}; pass an .onnx file`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(absolute);
  } catch (err) {
    throw fileSystemError(err, received, absolute);
  }
  if (bytes.length === 0) {
    throw new ModelFileError(
      'empty',
      absolute,
      `model file is empty (0 bytes): ${absolute}; export or download the model again`,
    );
  }
  return bytes;
}

function fileSystemError(err: unknown, received: string, absolute: string): ModelFileError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    const relative = path.isAbsolute(received)
      ? ''
      : `; relative paths resolve from the current directory, ${process.cwd()}`;
    return new ModelFileError(
      'missing',
      absolute,
      `model file not found: ${absolute} (received ${JSON.stringify(received)}${relative}); check the path`,
    );
  }
  if (code === 'EISDIR') {
    return new ModelFileError(
      'not-a-file',
      absolute,
      `model path is a directory, not a file: ${absolute}; pass the .onnx file inside it`,
    );
  }
  if (code === 'ERR_FS_FILE_TOO_LARGE' || err instanceof RangeError) {
    return new ModelFileError(
      'unsupported',
      absolute,
      `model file is too large to read (over 2 GiB): ${absolute}; onnx models that big keep their weights in external data files, which modelfab does not support yet`,
    );
  }
  const reason = err instanceof Error ? err.message : String(err);
  const fix = code === 'EACCES' || code === 'EPERM' ? 'check its permissions' : 'check the file and the disk';
  return new ModelFileError('unreadable', absolute, `cannot read model file ${absolute}: ${reason}; ${fix}`);
}

/** Decodes the ModelProto, turning decoding failures into ModelFileErrors. */
function decode(bytes: Uint8Array, absolute: string): ModelProtoSummary {
  try {
    return decodeModelProto(bytes);
  } catch (err) {
    if (!(err instanceof ModelDecodeError)) throw err;
    switch (err.failure) {
      case 'not-onnx':
        throw notOnnx(absolute, bytes, err.detail);
      case 'truncated': {
        const t = err.truncation!;
        throw new ModelFileError(
          'truncated',
          absolute,
          `model file is truncated: ${absolute}: ${t.field} at byte offset ${t.fieldOffset} extends to byte ${t.requiredSize}, but the file ends at byte offset ${bytes.length} (expected at least ${t.requiredSize} bytes, got ${bytes.length}); copy or download the model again`,
          bytes.length,
        );
      }
      case 'corrupt':
        throw corrupt(absolute, err.detail, err.offset);
    }
  }
}

function notOnnx(absolute: string, bytes: Uint8Array, detail: string): ModelFileError {
  const format = sniffFormat(bytes);
  const looksLike = format ? ` (it looks like ${format})` : '';
  return new ModelFileError(
    'not-onnx',
    absolute,
    `not an onnx model: ${absolute}${looksLike}: ${detail}; pass an onnx model file (a binary protobuf ModelProto, usually *.onnx)`,
  );
}

function corrupt(absolute: string, detail: string, offset?: number): ModelFileError {
  return new ModelFileError(
    'corrupt',
    absolute,
    `model file is corrupt: ${absolute}: ${detail}; export the model again, or check it with onnx.checker.check_model`,
    offset,
  );
}

/** Checks the decoded model and builds its ModelInfo. */
function describeModel(
  proto: ModelProtoSummary,
  file: { readonly path: string; readonly sha256: string; readonly sizeBytes: number },
): ModelInfo {
  const absolute = file.path;
  const { irVersion, graph } = proto;
  if (irVersion === undefined && graph === undefined) {
    throw new ModelFileError(
      'not-onnx',
      absolute,
      `not an onnx model: ${absolute}: it has neither an ir_version nor a graph; pass an onnx model file (a binary protobuf ModelProto, usually *.onnx)`,
    );
  }
  if (irVersion === undefined || irVersion < 1n) {
    const received =
      irVersion === undefined ? 'no ir_version' : `ir_version ${irVersion}, which is not a valid ir version`;
    throw corrupt(absolute, `it has ${received} (onnx ir versions start at 1)`);
  }
  if (irVersion > BigInt(MAX_SUPPORTED_IR_VERSION)) {
    throw new ModelFileError(
      'unsupported',
      absolute,
      `onnx ir_version ${irVersion} is newer than modelfab supports (up to ${MAX_SUPPORTED_IR_VERSION}, as onnxruntime 1.30): ${absolute}; export the model with an older onnx version or upgrade modelfab`,
    );
  }
  if (graph === undefined) {
    throw new ModelFileError(
      'no-graph',
      absolute,
      `onnx model has no graph: ${absolute} declares ir_version ${irVersion} but no graph, so there is nothing to run; export the model again with its graph`,
    );
  }
  return {
    ...file,
    irVersion: Number(irVersion),
    opsetImports: describeOpsets(proto.opsetImports, absolute),
    producerName: proto.producerName,
    producerVersion: proto.producerVersion,
    domain: proto.domain,
    modelVersion: Number(proto.modelVersion),
    docString: proto.docString,
    graphName: graph.name,
    nodeCount: graph.nodeCount,
    parameterCount: countParameters(graph, absolute),
    ...describeSignature(graph, absolute),
  };
}

function describeOpsets(opsets: ModelProtoSummary['opsetImports'], absolute: string): readonly OpsetImport[] {
  if (opsets.length === 0) {
    throw corrupt(
      absolute,
      'it imports no operator set (opset_import is empty; every onnx model must import one)',
    );
  }
  return opsets.map(({ domain, version }) => {
    if (version < 1n || version > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw corrupt(
        absolute,
        `opset_import ${JSON.stringify(domain)} has version ${version}, which is not valid`,
      );
    }
    return { domain: domain === '' ? DEFAULT_OPSET_DOMAIN : domain, version: Number(version) };
  });
}

/** Sums the (dense) element counts of the main graph's initializers. */
function countParameters(graph: GraphSummary, absolute: string): number {
  let total = 0;
  const values = [
    ...graph.initializers.map((init) => ({
      ...init,
      kind: init.sparse ? 'sparse initializer' : 'initializer',
    })),
    ...graph.constants.map((constant) => ({ ...constant, kind: 'Constant node' })),
  ];
  for (const value of values) {
    let elements = 1n;
    for (const d of value.dims) {
      if (d < 0n) {
        throw corrupt(
          absolute,
          `${value.kind} ${JSON.stringify(value.name)} has a negative dimension (dims [${value.dims.join(', ')}])`,
        );
      }
      elements *= d;
    }
    total += Number(elements);
  }
  return total;
}

function describeSignature(
  graph: GraphSummary,
  absolute: string,
): Pick<ModelInfo, 'inputs' | 'outputs' | 'batchable'> {
  if (graph.outputs.length === 0) {
    throw corrupt(absolute, `its graph ${JSON.stringify(graph.name)} has no outputs`);
  }
  const constants = new Set(graph.initializers.map((i) => i.name));
  const inputs = graph.inputs
    .filter((v) => !constants.has(v.name))
    .map((v) => describeValue(v, 'input', absolute));
  const outputs = graph.outputs.map((v) => describeValue(v, 'output', absolute));
  const batchable = inputs.length > 0 && [...inputs, ...outputs].every((v) => v.batchDim);
  return { inputs, outputs, batchable };
}

function describeValue(value: ValueInfoSummary, role: 'input' | 'output', absolute: string): ValueSignature {
  const { name, type } = value;
  if (type.kind !== 'tensor') return { name, isTensor: false, kind: type.kind, batchDim: false };
  const elementType = elementTypeOfCode(type.elemType);
  if (type.elemType === 0) {
    throw corrupt(
      absolute,
      `${role} ${JSON.stringify(name)} is a tensor without an element type (elem_type 0)`,
    );
  }
  if (elementType === undefined) {
    throw new ModelFileError(
      'unsupported',
      absolute,
      `${role} ${JSON.stringify(name)} of ${absolute} has element type code ${type.elemType}, which modelfab does not know (it knows 1 to ${MAX_KNOWN_ELEMENT_TYPE_CODE}); export the model with a standard onnx element type`,
    );
  }
  const shape = type.shape?.map((d) => toDim(d, `${role} ${JSON.stringify(name)}`, absolute));
  const batchDim = shape !== undefined && shape.length > 0 && typeof shape[0] === 'string';
  return { name, isTensor: true, elementType, shape, batchDim };
}

/** A declared dimension as onnxruntime-node reports it: unknown and negative sizes become `''`. */
function toDim(dim: DimProto, where: string, absolute: string): Dim {
  if (dim === undefined || typeof dim === 'string') return dim ?? '';
  if (dim < 0n) return '';
  if (dim > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw corrupt(absolute, `${where} has a dimension of ${dim}, larger than any tensor can be`);
  }
  return Number(dim);
}
