/**
 * lib/model/protobuf-reader: the wire format, checked against protobufjs's writer (onnx-proto's
 * dependency) and against hand-written bytes for the malformed cases.
 */
import { Writer } from 'protobufjs/minimal';
import { describe, expect, it } from 'vitest';
import { ProtobufError, ProtobufReader, WireType } from '../lib/model/protobuf-reader';

function reader(bytes: readonly number[] | Uint8Array): ProtobufReader {
  return new ProtobufReader(Uint8Array.from(bytes));
}

/** Runs `read` and returns the ProtobufError it throws. */
function failure(read: () => unknown): ProtobufError {
  try {
    read();
  } catch (err) {
    if (err instanceof ProtobufError) return err;
    throw err;
  }
  throw new Error('expected a ProtobufError');
}

describe('varints', () => {
  it.each([0, 1, 127, 128, 300, 16_384, 2 ** 31 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER])(
    'reads %d',
    (value) => {
      const bytes = Writer.create().uint64(value).finish();
      expect(reader(bytes).readVarintNumber()).toBe(value);
      expect(reader(bytes).readVarint()).toBe(BigInt(value));
    },
  );

  it('reads full 64-bit values and negative int64s (10 bytes, two’s complement)', () => {
    const max = Writer.create().uint64('18446744073709551615').finish();
    expect(max).toHaveLength(10);
    expect(reader(max).readVarint()).toBe(2n ** 64n - 1n);
    expect(reader(max).readInt64()).toBe(-1n);
    expect(reader(Writer.create().int64(-5).finish()).readInt64()).toBe(-5n);
    expect(reader(Writer.create().int64('-9223372036854775808').finish()).readInt64()).toBe(-(2n ** 63n));
  });

  it('refuses a value past 2^53 where a number is needed, and varints over 64 bits', () => {
    const big = Writer.create().uint64('9007199254740993').finish();
    expect(failure(() => reader(big).readVarintNumber('length')).detail).toContain('larger than 2^53');
    const eleven = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    expect(failure(() => reader(eleven).readVarint()).kind).toBe('malformed');
    const overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
    expect(failure(() => reader(overflow).readVarint()).detail).toContain('overflows 64 bits');
  });

  it('fails with an overrun at the end of the input', () => {
    const error = failure(() => reader([0x96]).readVarint());
    expect(error).toMatchObject({ kind: 'overrun', offset: 0, atEndOfInput: true });
  });
});

describe('fixed-width and length-delimited values', () => {
  it('reads fixed32 and fixed64 little-endian', () => {
    const bytes = Writer.create().fixed32(0xdeadbeef).fixed64('1311768467463790320').finish();
    const r = reader(bytes);
    expect(r.readFixed32()).toBe(0xdeadbeef);
    expect(r.readFixed64()).toBe(1311768467463790320n);
    expect(r.atEnd).toBe(true);
  });

  it('bounds-checks fixed32 and fixed64', () => {
    expect(failure(() => reader([1, 2, 3]).readFixed32())).toMatchObject({ kind: 'overrun', requiredEnd: 4 });
    expect(failure(() => reader([1, 2, 3, 4, 5, 6, 7]).readFixed64())).toMatchObject({ kind: 'overrun' });
  });

  it('reads strings and bytes without copying', () => {
    const bytes = Writer.create()
      .string('héllo')
      .bytes(Uint8Array.from([1, 2, 3]))
      .finish();
    const r = new ProtobufReader(bytes);
    expect(r.readString()).toBe('héllo');
    const payload = r.readBytes();
    expect([...payload]).toEqual([1, 2, 3]);
    expect(payload.buffer).toBe(bytes.buffer);
  });

  it('refuses invalid utf-8 and a length past the end', () => {
    expect(failure(() => reader([2, 0xc3, 0x28]).readString()).detail).toContain('not valid utf-8');
    const error = failure(() => reader([10, 1, 2, 3]).readBytes());
    expect(error).toMatchObject({
      kind: 'overrun',
      offset: 0,
      requiredEnd: 11,
      limit: 4,
      atEndOfInput: true,
    });
  });

  it('bounds embedded messages: an overrun inside one is not the end of the input', () => {
    // field 1, LEN 3: [ field 2 LEN 5 … ] — the inner length passes the outer message's end.
    const bytes = [0x0a, 0x03, 0x12, 0x05, 0x41, 0x42, 0x43, 0x44, 0x45];
    const r = reader(bytes);
    expect(r.readTag()).toMatchObject({ fieldNumber: 1, wireType: WireType.LEN });
    const inner = r.readMessage();
    expect(r.offset).toBe(5);
    inner.readTag();
    expect(failure(() => inner.readBytes())).toMatchObject({
      kind: 'overrun',
      limit: 5,
      atEndOfInput: false,
    });
  });

  it('reads repeated int64 packed and unpacked', () => {
    const packed = Writer.create()
      .uint32((1 << 3) | 2)
      .fork()
      .int64(3)
      .int64(-1)
      .int64(4)
      .ldelim()
      .finish();
    const unpacked = Writer.create()
      .uint32(1 << 3)
      .int64(7)
      .finish();
    const values: bigint[] = [];
    for (const bytes of [packed, unpacked]) {
      const r = reader(bytes);
      r.readRepeatedInt64(r.readTag(), values);
    }
    expect(values).toEqual([3n, -1n, 4n, 7n]);
  });
});

describe('tags and skipping', () => {
  it('reads keys and skips every wire type', () => {
    const bytes = Writer.create()
      .uint32((1 << 3) | 0)
      .uint64(1234567)
      .uint32((2 << 3) | 1)
      .fixed64(9)
      .uint32((3 << 3) | 2)
      .bytes(new Uint8Array(100))
      .uint32((4 << 3) | 5)
      .fixed32(7)
      .uint32((5 << 3) | 3) // a group holding a varint field and a nested group
      .uint32((6 << 3) | 0)
      .uint32(1)
      .uint32((7 << 3) | 3)
      .uint32((7 << 3) | 4)
      .uint32((5 << 3) | 4)
      .uint32((9 << 3) | 0)
      .uint32(42)
      .finish();
    const r = reader(bytes);
    const seen: number[] = [];
    for (;;) {
      const tag = r.readTag();
      if (tag.fieldNumber === 9) break;
      seen.push(tag.fieldNumber);
      r.skipField(tag);
    }
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(r.readVarintNumber()).toBe(42);
    expect(r.atEnd).toBe(true);
  });

  it.each([
    ['wire type 6', [0x0e], 'invalid wire type 6'],
    ['wire type 7', [0x0f], 'invalid wire type 7'],
    ['field number 0', [0x00], 'invalid field number 0'],
  ])('refuses %s', (_name, bytes, detail) => {
    expect(failure(() => reader(bytes).readTag())).toMatchObject({ kind: 'malformed', offset: 0 });
    expect(failure(() => reader(bytes).readTag()).detail).toContain(detail);
  });

  it('refuses a stray end-group and a mismatched one', () => {
    const stray = reader([0x0c]);
    expect(failure(() => stray.skipField(stray.readTag())).detail).toContain('unexpected end-group');
    const mismatched = reader([0x0b, 0x14]);
    expect(failure(() => mismatched.skipField(mismatched.readTag())).detail).toContain(
      'closes the group of field 1',
    );
  });

  it('bounds-checks skips', () => {
    const r = reader([0x09, 1, 2, 3]); // field 1 fixed64 with 3 bytes left
    expect(failure(() => r.skipField(r.readTag()))).toMatchObject({
      kind: 'overrun',
      offset: 1,
      requiredEnd: 9,
    });
  });

  it('names the field when a wire type is not the schema’s', () => {
    const r = reader([0x08, 0x01]);
    const tag = r.readTag();
    expect(failure(() => r.expectWireType(tag, WireType.LEN, 'name')).detail).toBe(
      'field name (1) has wire type varint, expected length-delimited',
    );
  });

  it('rejects a range outside the buffer', () => {
    expect(() => new ProtobufReader(new Uint8Array(4), 2, 8)).toThrow(RangeError);
  });
});
