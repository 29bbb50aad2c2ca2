/**
 * A small reader for the protobuf binary wire format
 * (https://protobuf.dev/programming-guides/encoding/), enough to walk an ONNX ModelProto without
 * generated code. Every read is bounds-checked against the reader's limit and fails with a
 * {@link ProtobufError} that says what was being read and at which byte offset.
 *
 * Length-delimited payloads are never copied: {@link ProtobufReader.readMessage} returns a reader
 * over the same buffer and {@link ProtobufReader.skipField} only moves the position, so walking a
 * model of hundreds of MB costs time in the number of fields visited, not in bytes.
 */

/** Protobuf wire types. 3 and 4 are the deprecated groups; 6 and 7 are invalid. */
export const WireType = {
  VARINT: 0,
  I64: 1,
  LEN: 2,
  SGROUP: 3,
  EGROUP: 4,
  I32: 5,
} as const;

/** A valid wire type number. */
export type WireType = (typeof WireType)[keyof typeof WireType];

/** Human names of the wire types, for messages. */
export const WIRE_TYPE_NAMES: Readonly<Record<WireType, string>> = {
  0: 'varint',
  1: 'fixed64',
  2: 'length-delimited',
  3: 'start-group',
  4: 'end-group',
  5: 'fixed32',
};

/** The largest field number protobuf allows (2^29 - 1). */
export const MAX_FIELD_NUMBER = 0x1fffffff;

/** How deeply nested groups may be skipped before the input is considered malformed. */
const MAX_GROUP_DEPTH = 64;

/** A field key: its number, wire type and the offset of the key's first byte. */
export interface FieldTag {
  readonly fieldNumber: number;
  readonly wireType: WireType;
  /** Absolute byte offset of the tag in the buffer. */
  readonly offset: number;
}

/**
 * Why a read failed. `overrun`: the bytes needed lie past the reader's limit (for the root reader,
 * past the end of the input, which usually means the input was cut short). `malformed`: the
 * bytes cannot be protobuf (an invalid wire type, field number 0, a varint over 10 bytes, …).
 */
export type ProtobufErrorKind = 'overrun' | 'malformed';

/** A failed read, with the absolute byte offset where the unreadable item starts. */
export class ProtobufError extends Error {
  override readonly name = 'ProtobufError';

  constructor(
    readonly kind: ProtobufErrorKind,
    /** What went wrong, lower-case, without the offset. */
    readonly detail: string,
    /** Absolute byte offset of the item that could not be read. */
    readonly offset: number,
    /** For `overrun`: the absolute offset the item needed to extend to. */
    readonly requiredEnd: number | undefined,
    /** The limit of the reader that failed (absolute offset). */
    readonly limit: number,
    /** True when the limit is the end of the whole input rather than of an enclosing message. */
    readonly atEndOfInput: boolean,
  ) {
    super(`${detail} at byte offset ${offset}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A cursor over `bytes[start, end)`. Readers made by {@link readMessage} share the buffer and
 * report absolute offsets.
 */
export class ProtobufReader {
  private pos: number;
  /** False for the reader over the whole input; true for readers of embedded messages. */
  private child = false;

  /**
   * @param bytes the whole input
   * @param start absolute offset of the first byte to read @default 0
   * @param end absolute offset one past the last byte to read @default bytes.length
   */
  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    private readonly end = bytes.length,
  ) {
    if (
      !Number.isInteger(start) ||
      !Number.isInteger(end) ||
      start < 0 ||
      end > bytes.length ||
      start > end
    ) {
      throw new RangeError(`invalid reader range [${start}, ${end}) for ${bytes.length} bytes`);
    }
    this.pos = start;
  }

  /** Absolute offset of the next byte to read. */
  get offset(): number {
    return this.pos;
  }

  /** Absolute offset one past the last readable byte. */
  get limit(): number {
    return this.end;
  }

  /** True when every byte up to the limit has been consumed. */
  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  /** Reads a field key. Rejects field number 0, numbers over 2^29-1 and wire types 6 and 7. */
  readTag(): FieldTag {
    const offset = this.pos;
    const key = this.readVarintNumber('field key');
    const fieldNumber = Math.floor(key / 8);
    const wireType = key % 8;
    if (wireType > WireType.I32) {
      throw this.malformed(`invalid wire type ${wireType} (field ${fieldNumber})`, offset);
    }
    if (fieldNumber === 0 || fieldNumber > MAX_FIELD_NUMBER) {
      throw this.malformed(`invalid field number ${fieldNumber}`, offset);
    }
    return { fieldNumber, wireType: wireType as WireType, offset };
  }

  /** Reads a varint as an unsigned 64-bit integer. */
  readVarint(): bigint {
    const start = this.pos;
    let result = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.byteAt(start + i, 'varint', start);
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) {
        if (i === 9 && b > 1) throw this.malformed('varint overflows 64 bits', start);
        this.pos = start + i + 1;
        return result;
      }
    }
    throw this.malformed('varint longer than 10 bytes', start);
  }

  /**
   * Reads a varint that must fit in a JavaScript safe integer (lengths, keys, counts). Negative
   * int64 values (10-byte varints) are rejected; read those with {@link readInt64}.
   */
  readVarintNumber(what = 'varint'): number {
    const start = this.pos;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byteAt(start + i, what, start);
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (result > Number.MAX_SAFE_INTEGER) {
          throw this.malformed(`${what} ${result} is larger than 2^53`, start);
        }
        this.pos = start + i + 1;
        return result;
      }
      scale *= 128;
    }
    throw this.malformed(`${what} longer than 10 bytes`, start);
  }

  /** Reads a varint as a signed 64-bit integer (protobuf int64, two's complement). */
  readInt64(): bigint {
    return BigInt.asIntN(64, this.readVarint());
  }

  /** Reads a little-endian unsigned 32-bit integer (fixed32). */
  readFixed32(): number {
    const start = this.take(4, 'fixed32');
    const b = this.bytes;
    return (b[start] | (b[start + 1] << 8) | (b[start + 2] << 16)) + b[start + 3] * 0x1000000;
  }

  /** Reads a little-endian unsigned 64-bit integer (fixed64). */
  readFixed64(): bigint {
    const low = this.readFixed32();
    const high = this.readFixed32();
    return (BigInt(high) << 32n) | BigInt(low);
  }

  /** Reads a length prefix and returns the absolute range of the payload, bounds-checked. */
  readLengthDelimited(what = 'length-delimited field'): { readonly start: number; readonly end: number } {
    const prefixOffset = this.pos;
    const length = this.readVarintNumber(`${what} length`);
    const start = this.pos;
    if (length > this.end - start) {
      throw this.overrun(`${what} of ${length} bytes`, prefixOffset, start + length);
    }
    this.pos = start + length;
    return { start, end: start + length };
  }

  /** Reads a length-delimited payload without copying it. */
  readBytes(): Uint8Array {
    const { start, end } = this.readLengthDelimited('bytes');
    return this.bytes.subarray(start, end);
  }

  /** Reads a length-delimited UTF-8 string; invalid UTF-8 is malformed. */
  readString(): string {
    const offset = this.pos;
    const { start, end } = this.readLengthDelimited('string');
    try {
      return utf8.decode(this.bytes.subarray(start, end));
    } catch {
      throw this.malformed('string is not valid utf-8', offset);
    }
  }

  /** Reads a length-delimited embedded message and returns a reader bounded to it. */
  readMessage(what = 'embedded message'): ProtobufReader {
    const { start, end } = this.readLengthDelimited(what);
    return new ProtobufReader(this.bytes, start, end).asChild();
  }

  /**
   * Reads the values of a repeated int64 field whose tag was just read, packed (one
   * length-delimited run of varints) or not (one varint), appending them to `into`.
   */
  readRepeatedInt64(tag: FieldTag, into: bigint[]): void {
    if (tag.wireType === WireType.VARINT) {
      into.push(this.readInt64());
      return;
    }
    if (tag.wireType !== WireType.LEN) {
      throw this.malformed(
        `field ${tag.fieldNumber} is an int64 but has wire type ${WIRE_TYPE_NAMES[tag.wireType]}`,
        tag.offset,
      );
    }
    const packed = this.readMessage(`packed field ${tag.fieldNumber}`);
    while (!packed.atEnd) into.push(packed.readInt64());
  }

  /** Skips the value of a field whose tag was just read. */
  skipField(tag: FieldTag, depth = 0): void {
    switch (tag.wireType) {
      case WireType.VARINT:
        this.skipVarint();
        return;
      case WireType.I64:
        this.take(8, 'fixed64');
        return;
      case WireType.LEN:
        this.readLengthDelimited(`field ${tag.fieldNumber}`);
        return;
      case WireType.I32:
        this.take(4, 'fixed32');
        return;
      case WireType.SGROUP:
        this.skipGroup(tag, depth);
        return;
      case WireType.EGROUP:
        throw this.malformed(`unexpected end-group (field ${tag.fieldNumber})`, tag.offset);
    }
  }

  /** Checks that a field just read has the wire type its schema gives it, naming the field if not. */
  expectWireType(tag: FieldTag, expected: WireType, fieldName: string): void {
    if (tag.wireType !== expected) {
      throw this.malformed(
        `field ${fieldName} (${tag.fieldNumber}) has wire type ${WIRE_TYPE_NAMES[tag.wireType]}, expected ${WIRE_TYPE_NAMES[expected]}`,
        tag.offset,
      );
    }
  }

  private asChild(): this {
    this.child = true;
    return this;
  }

  private skipVarint(): void {
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.byteAt(start + i, 'varint', start) < 0x80) {
        this.pos = start + i + 1;
        return;
      }
    }
    throw this.malformed('varint longer than 10 bytes', start);
  }

  private skipGroup(start: FieldTag, depth: number): void {
    if (depth >= MAX_GROUP_DEPTH) throw this.malformed('groups nested too deeply', start.offset);
    for (;;) {
      const tag = this.readTag();
      if (tag.wireType === WireType.EGROUP) {
        if (tag.fieldNumber !== start.fieldNumber) {
          throw this.malformed(
            `end-group for field ${tag.fieldNumber} closes the group of field ${start.fieldNumber}`,
            tag.offset,
          );
        }
        return;
      }
      this.skipField(tag, depth + 1);
    }
  }

  /** Advances past `n` bytes and returns where they start, or fails if they pass the limit. */
  private take(n: number, what: string): number {
    const start = this.pos;
    if (n > this.end - start) throw this.overrun(`${what} of ${n} bytes`, start, start + n);
    this.pos = start + n;
    return start;
  }

  private byteAt(index: number, what: string, itemStart: number): number {
    if (index >= this.end) throw this.overrun(what, itemStart, index + 1);
    return this.bytes[index];
  }

  private overrun(what: string, offset: number, requiredEnd: number): ProtobufError {
    const available = this.end - offset;
    return new ProtobufError(
      'overrun',
      `${what} runs past the end of ${this.child ? 'its enclosing message' : 'the input'} (needs ${requiredEnd - offset} bytes, ${available} left)`,
      offset,
      requiredEnd,
      this.end,
      !this.child && this.end === this.bytes.length,
    );
  }

  private malformed(detail: string, offset: number): ProtobufError {
    return new ProtobufError('malformed', detail, offset, undefined, this.end, false);
  }
}
