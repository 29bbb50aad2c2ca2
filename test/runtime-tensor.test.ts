/**
 * lib/runtime tensors: JSON conversion for every element type (float16 rounding and int64 range
 * at their edges), the row operations of the batcher, and float16 against onnxruntime's own
 * Cast, exhaustively for decoding.
 */
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InputValidationError,
  type TensorData,
  concatAlongDim0,
  elementCount,
  halfBitsFromNumber,
  numberFromHalfBits,
  splitAlongDim0,
  tensorFromJson,
  tensorToJson,
} from '../lib/runtime';
import { fromOrtTensor, toOrtTensor } from '../lib/runtime/ort-tensor';
import { makeTempDir, removeDir, seededBytes } from './support/fixture-models';
import { castFromHalfModel, castToHalfModel, writeModel } from './support/runtime-fixtures';

describe('elementCount', () => {
  it('multiplies the dims, 1 for a scalar', () => {
    expect(elementCount([])).toBe(1);
    expect(elementCount([2, 3, 4])).toBe(24);
    expect(elementCount([0, 5])).toBe(0);
  });

  it.each([[[2, -1]], [[1.5]], [[Number.NaN]]])('rejects %j', (dims) => {
    expect(() => elementCount(dims)).toThrow(/^invalid tensor dims .* is not a non-negative integer$/);
  });
});

describe('tensorFromJson', () => {
  const cases: Array<[string, unknown[], string, unknown[]]> = [
    ['float32', [1.5, -2, 0], 'Float32Array', [1.5, -2, 0]],
    ['float64', [0.1, -1e300, 2 ** -1074], 'Float64Array', [0.1, -1e300, 2 ** -1074]],
    ['int8', [-128, 127, 0], 'Int8Array', [-128, 127, 0]],
    ['uint8', [0, 255, 7], 'Uint8Array', [0, 255, 7]],
    ['int16', [-32768, 32767, 1], 'Int16Array', [-32768, 32767, 1]],
    ['uint16', [0, 65535, 2], 'Uint16Array', [0, 65535, 2]],
    ['int32', [-2147483648, 2147483647, 3], 'Int32Array', [-2147483648, 2147483647, 3]],
    ['uint32', [0, 4294967295, 4], 'Uint32Array', [0, 4294967295, 4]],
    [
      'int64',
      ['-9223372036854775808', '9223372036854775807', 9007199254740991],
      'BigInt64Array',
      [-(2n ** 63n), 2n ** 63n - 1n, 9007199254740991n],
    ],
    ['uint64', ['18446744073709551615', 0, '+12'], 'BigUint64Array', [2n ** 64n - 1n, 0n, 12n]],
    ['bool', [true, false, 1], 'Uint8Array', [1, 0, 1]],
    ['string', ['a', '', 'ü'], 'Array', ['a', '', 'ü']],
  ];

  it.each(cases)('%s', (type, values, dataClass, expected) => {
    const t = tensorFromJson(type as TensorData['type'], values, [1, 3]);
    expect(t.type).toBe(type);
    expect(t.dims).toEqual([1, 3]);
    expect(t.data.constructor.name).toBe(dataClass);
    expect(Array.from(t.data as ArrayLike<unknown>)).toEqual(expected);
  });

  it('accepts bigints for int64', () => {
    expect(Array.from(tensorFromJson('int64', [5n, -5n], [2]).data as BigInt64Array)).toEqual([5n, -5n]);
  });

  it('rounds float16 to nearest even, from the double', () => {
    const values = [
      1, // 0x3c00
      -2, // 0xc000
      65504, // the largest half
      65519, // rounds down to 65504
      2 ** -24, // the smallest subnormal
      2 ** -25, // the tie between 0 and 2^-24 rounds to even: 0
      3 * 2 ** -25, // the tie between 2^-24 and 2^-23 rounds to even: 2^-23
      1 + 2 ** -11, // the tie between 1 and 1 + 2^-10 rounds to even: 1
      1 + 3 * 2 ** -11, // the tie rounds up to even: 1 + 2^-9
      1 + 2 ** -11 + 2 ** -40, // just over the tie: up (a float32 step would round to the tie first)
      2 ** -14 - 2 ** -25, // the largest subnormal tie, rounds up to the smallest normal
      -0,
      Infinity,
      -Infinity,
      Number.NaN,
      1e-10,
    ];
    const t = tensorFromJson('float16', values, [values.length]);
    expect(t.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(t.data as Uint16Array, (b) => b.toString(16))).toEqual(
      [
        0x3c00, 0xc000, 0x7bff, 0x7bff, 0x0001, 0x0000, 0x0002, 0x3c00, 0x3c02, 0x3c01, 0x0400, 0x8000,
        0x7c00, 0xfc00, 0x7e00, 0x0000,
      ].map((b) => b.toString(16)),
    );
  });

  const errors: Array<[string, unknown[], number[], string]> = [
    ['float32', [1, 'abc'], [2], 'element 1 of a float32 tensor must be a number, received "abc"'],
    ['float16', [null], [1], 'element 0 of a float16 tensor must be a number, received null'],
    [
      'float16',
      [1, 65520],
      [2],
      'element 1 of a float16 tensor is 65520, beyond the largest float16 (±65504), where it would become Infinity; scale it into range',
    ],
    [
      'float32',
      [1e39],
      [1],
      'element 0 of a float32 tensor is 1e+39, beyond the largest float32 (±3.4028234663852886e+38), where it would become Infinity; scale it into range',
    ],
    ['uint8', [0, 300], [2], 'element 1 of a uint8 tensor must be an integer from 0 to 255, received 300'],
    ['int8', [1.5], [1], 'element 0 of an int8 tensor must be an integer from -128 to 127, received 1.5'],
    [
      'int32',
      ['7'],
      [1],
      'element 0 of an int32 tensor must be an integer from -2147483648 to 2147483647, received "7"',
    ],
    [
      'int64',
      ['9223372036854775808'],
      [1],
      'element 0 of an int64 tensor must be an integer from -9223372036854775808 to 9223372036854775807 (a number up to 2^53, or a numeric string), received "9223372036854775808"',
    ],
    [
      'int64',
      [9007199254740992],
      [1],
      'element 0 of an int64 tensor is 9007199254740992, beyond 2^53, where json numbers lose precision; send it as a string',
    ],
    [
      'int64',
      [0, '1e3'],
      [2],
      'element 1 of an int64 tensor must be an integer from -9223372036854775808 to 9223372036854775807 (a number up to 2^53, or a numeric string), received "1e3"',
    ],
    [
      'uint64',
      [-1],
      [1],
      'element 0 of a uint64 tensor must be an integer from 0 to 18446744073709551615 (a number up to 2^53, or a numeric string), received -1',
    ],
    ['bool', [true, 2], [2], 'element 1 of a bool tensor must be true, false, 1 or 0, received 2'],
    ['string', ['a', 5], [2], 'element 1 of a string tensor must be a string, received 5'],
    ['float32', [1, 2, 3], [2, 2], 'a tensor of dims [2, 2] needs 4 values, received 3'],
    ['float32', [], [-1], 'invalid tensor dims [-1]: -1 is not a non-negative integer'],
    [
      'bfloat16',
      [1],
      [1],
      'element type bfloat16 cannot be fed to onnxruntime-node; it feeds float32, uint8, int8, uint16, int16, int32, int64, string, bool, float16, float64, uint32, uint64',
    ],
  ];

  it.each(errors)('%s %j %j → %s', (type, values, dims, message) => {
    const attempt = () => tensorFromJson(type as TensorData['type'], values, dims);
    expect(attempt).toThrow(InputValidationError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect((error as Error).message).toBe(message);
    }
  });

  it('rejects values that are not an array', () => {
    expect(() => tensorFromJson('float32', { 0: 1 } as unknown as unknown[], [1])).toThrow(
      'tensor values must be a flat array, received {"0":1}',
    );
  });
});

describe('tensorToJson', () => {
  it('writes int64 and uint64 as numbers when safe, else as strings', () => {
    const int64 = BigInt64Array.from([0n, -(2n ** 53n) + 1n, 2n ** 53n - 1n, 2n ** 53n, -(2n ** 63n)]);
    expect(tensorToJson({ type: 'int64', dims: [5], data: int64 })).toEqual([
      0,
      -9007199254740991,
      9007199254740991,
      '9007199254740992',
      '-9223372036854775808',
    ]);
    const uint64 = BigUint64Array.from([7n, 2n ** 64n - 1n]);
    expect(tensorToJson({ type: 'uint64', dims: [2], data: uint64 })).toEqual([7, '18446744073709551615']);
  });

  it('decodes float16, writes bools as booleans', () => {
    expect(
      tensorToJson({ type: 'float16', dims: [4], data: Uint16Array.from([0x3c00, 0xc000, 0x7c00, 0x0001]) }),
    ).toEqual([1, -2, Infinity, 2 ** -24]);
    expect(tensorToJson({ type: 'bool', dims: [2], data: Uint8Array.from([1, 0]) })).toEqual([true, false]);
  });

  const roundTrips: Array<[string, unknown[]]> = [
    ['float32', [0.5, -1, 3]],
    ['float64', [0.1, 1e-300, -7]],
    ['float16', [0.5, -65504, 2 ** -24]],
    ['int8', [-128, 0, 127]],
    ['uint8', [0, 1, 255]],
    ['int16', [-32768, 0, 32767]],
    ['uint16', [0, 1, 65535]],
    ['int32', [-2147483648, 0, 2147483647]],
    ['uint32', [0, 1, 4294967295]],
    ['int64', ['-9223372036854775808', 0, '9223372036854775807']],
    ['uint64', [0, 9007199254740991, '18446744073709551615']],
    ['bool', [true, false, true]],
    ['string', ['x', '', 'yz']],
  ];

  it.each(roundTrips)('round-trips %s', (type, values) => {
    const tensor = tensorFromJson(type as TensorData['type'], values, [3]);
    expect(tensorToJson(tensor)).toEqual(values);
  });
});

describe('float16 against onnxruntime', () => {
  let dir: string;
  let toHalf: ort.InferenceSession;
  let fromHalf: ort.InferenceSession;

  beforeAll(async () => {
    dir = makeTempDir('modelfab-runtime-tensor-');
    toHalf = await ort.InferenceSession.create(writeModel(dir, 'to-half', castToHalfModel()));
    fromHalf = await ort.InferenceSession.create(writeModel(dir, 'from-half', castFromHalfModel()));
  });

  afterAll(async () => {
    await toHalf.release();
    await fromHalf.release();
    removeDir(dir);
  });

  it('decodes every one of the 65,536 bit patterns as onnxruntime does', async () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const { y } = await fromHalf.run({
      x: toOrtTensor({ type: 'float16', dims: [bits.length], data: bits }),
    });
    const expected = y.data as Float64Array;
    for (let i = 0; i < bits.length; i++) {
      const ours = numberFromHalfBits(i);
      if (Number.isNaN(expected[i])) expect(ours).toBeNaN();
      else if (ours !== expected[i]) expect({ bits: i, ours }).toEqual({ bits: i, ours: expected[i] });
    }
  });

  it('rounds float32 values to half as onnxruntime does', async () => {
    // 20,000 seeded float32 bit patterns (every magnitude, subnormals, infinities, NaNs) plus ties.
    const random = new Float32Array(seededBytes(42, 80_000).buffer);
    const ties = Float32Array.from([
      65520,
      65519,
      2 ** -25,
      3 * 2 ** -25,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      -0,
      2 ** -14 - 2 ** -25,
    ]);
    const values = Float32Array.from([...random, ...ties]);
    const { y } = await toHalf.run({ x: new ort.Tensor('float32', values, [values.length]) });
    const expected = y.data as Uint16Array;
    for (let i = 0; i < values.length; i++) {
      const ours = halfBitsFromNumber(values[i]);
      if (Number.isNaN(values[i])) expect((ours & 0x7c00) === 0x7c00 && (ours & 0x3ff) !== 0).toBe(true);
      else if (ours !== expected[i])
        expect({ value: values[i], ours }).toEqual({ value: values[i], ours: expected[i] });
    }
  });
});

describe('concatAlongDim0 and splitAlongDim0', () => {
  it('stacks and splits numbers, bigints and strings', () => {
    const a: TensorData = { type: 'float32', dims: [1, 2], data: Float32Array.from([1, 2]) };
    const b: TensorData = { type: 'float32', dims: [2, 2], data: Float32Array.from([3, 4, 5, 6]) };
    const stacked = concatAlongDim0([a, b]);
    expect(stacked.dims).toEqual([3, 2]);
    expect(Array.from(stacked.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    const [a2, b2] = splitAlongDim0(stacked, [1, 2]);
    expect(a2).toEqual(a);
    expect(b2).toEqual(b);

    const ids = concatAlongDim0([
      { type: 'int64', dims: [1], data: BigInt64Array.from([1n]) },
      { type: 'int64', dims: [1], data: BigInt64Array.from([2n]) },
    ]);
    expect(ids).toEqual({ type: 'int64', dims: [2], data: BigInt64Array.from([1n, 2n]) });
    const words = concatAlongDim0([
      { type: 'string', dims: [1, 1], data: ['x'] },
      { type: 'string', dims: [2, 1], data: ['y', 'z'] },
    ]);
    expect(words).toEqual({ type: 'string', dims: [3, 1], data: ['x', 'y', 'z'] });
    expect(splitAlongDim0(words, [2, 1]).map((t) => t.data)).toEqual([['x', 'y'], ['z']]);
  });

  it('gives each part its own copy', () => {
    const whole: TensorData = { type: 'int32', dims: [2], data: Int32Array.from([1, 2]) };
    const [first] = splitAlongDim0(whole, [1, 1]);
    (first.data as Int32Array)[0] = 9;
    expect(Array.from(whole.data as Int32Array)).toEqual([1, 2]);
    expect(Array.from(concatAlongDim0([whole]).data as Int32Array)).toEqual([1, 2]);
    expect(concatAlongDim0([whole]).data).not.toBe(whole.data);
  });

  it('refuses tensors that cannot be stacked or split', () => {
    const x: TensorData = { type: 'float32', dims: [1, 2], data: new Float32Array(2) };
    expect(() => concatAlongDim0([])).toThrow('concatAlongDim0 needs at least one tensor, received none');
    expect(() => concatAlongDim0([x, { type: 'float64', dims: [1, 2], data: new Float64Array(2) }])).toThrow(
      'tensor 1 is float64; tensor 0 is float32; cannot concatenate',
    );
    expect(() => concatAlongDim0([x, { type: 'float32', dims: [1, 3], data: new Float32Array(3) }])).toThrow(
      'tensor 1 has dims [1, 3]; tensor 0 has [1, 2]; only dimension 0 may differ',
    );
    expect(() => concatAlongDim0([{ type: 'float32', dims: [], data: new Float32Array(1) }])).toThrow(
      'cannot concatenate scalars along dimension 0',
    );
    expect(() => splitAlongDim0(x, [2])).toThrow(
      'row counts [2] add up to 2, but dimension 0 of [1, 2] is 1',
    );
  });
});

describe('toOrtTensor and fromOrtTensor', () => {
  it('share the data without copying', () => {
    const data = Uint16Array.from([0x3c00]);
    const tensor = toOrtTensor({ type: 'float16', dims: [1], data });
    expect(tensor.type).toBe('float16');
    expect(tensor.data).toBe(data);
    expect(fromOrtTensor(tensor)).toEqual({ type: 'float16', dims: [1], data });
    expect(() => toOrtTensor({ type: 'bfloat16', dims: [1], data })).toThrow(
      'element type bfloat16 cannot be fed to onnxruntime-node',
    );
  });
});
