import { describe, expect, it } from 'vitest';
import {
  formatCpu,
  formatMemory,
  parseCpuMillis,
  parseMemoryBytes,
  parseQuantityNanos,
  QuantityError,
} from '../lib/core';

describe('parseCpuMillis', () => {
  it.each([
    ['1', 1000],
    ['2', 2000],
    ['500m', 500],
    ['0.5', 500],
    ['.25', 250],
    ['1.5', 1500],
    ['1500m', 1500],
    ['2e0', 2000],
    ['1e-3', 1],
    ['250000u', 250],
    ['100000000n', 100],
    ['+3', 3000],
  ])('%s is %d millicores', (input, millis) => {
    expect(parseCpuMillis(input)).toBe(millis);
  });

  it.each(['', 'abc', '1.5x', '500 m', '0', '-1', '0.0005', '1m5', '1Mi5', 'm', '1.2.3'])(
    'rejects %j',
    (input) => {
      expect(() => parseCpuMillis(input)).toThrow(QuantityError);
    },
  );
});

describe('parseMemoryBytes', () => {
  it.each([
    ['512Mi', 512 * 2 ** 20],
    ['2Gi', 2 * 2 ** 30],
    ['1.5Gi', 1610612736],
    ['1G', 1e9],
    ['129M', 129e6],
    ['129e6', 129e6],
    ['128974848', 128974848],
    ['1Ki', 1024],
    ['1k', 1000],
    ['0.5Ki', 512],
    ['1Ti', 2 ** 40],
  ])('%s is %d bytes', (input, bytes) => {
    expect(parseMemoryBytes(input)).toBe(bytes);
  });

  it.each(['512MB', '512mi', '1.5', '0.1Ki', 'Gi', '-1Gi', '0', '1 Gi', '100m'])('rejects %j', (input) => {
    expect(() => parseMemoryBytes(input)).toThrow(QuantityError);
  });

  it('rejects values past 2^53 bytes rather than rounding them', () => {
    expect(() => parseMemoryBytes('9Ei')).toThrow(/too large/);
  });
});

describe('parseQuantityNanos', () => {
  it('keeps exact values where floating point would round', () => {
    expect(parseQuantityNanos('0.1')).toBe(100_000_000n);
    expect(parseQuantityNanos('0.3')).toBe(parseQuantityNanos('300m'));
    expect(parseQuantityNanos('1.1Gi')).toBe((11n * 2n ** 30n * 1_000_000_000n) / 10n);
  });
});

describe('formatCpu / formatMemory', () => {
  it.each([
    [1000, '1'],
    [500, '500m'],
    [1500, '1500m'],
    [16000, '16'],
  ])('formatCpu(%d) = %s', (millis, text) => {
    expect(formatCpu(millis)).toBe(text);
  });

  it.each([
    [512 * 2 ** 20, '512Mi'],
    [1610612736, '1536Mi'],
    [2 ** 30, '1Gi'],
    [1e9, '1G'],
    [129e6, '129M'],
    [1000, '1k'],
    [1023, '1023'],
  ])('formatMemory(%d) = %s', (bytes, text) => {
    expect(formatMemory(bytes)).toBe(text);
  });

  it.each(['1', '250m', '3.5', '0.001', '64'])('round-trips cpu %s exactly', (input) => {
    expect(parseCpuMillis(formatCpu(parseCpuMillis(input)))).toBe(parseCpuMillis(input));
  });

  it.each(['512Mi', '1.5Gi', '1G', '129e6', '7', '1000001'])('round-trips memory %s exactly', (input) => {
    expect(parseMemoryBytes(formatMemory(parseMemoryBytes(input)))).toBe(parseMemoryBytes(input));
  });

  it('refuses to format non-positive or fractional amounts', () => {
    expect(() => formatCpu(0)).toThrow(QuantityError);
    expect(() => formatMemory(1.5)).toThrow(QuantityError);
  });
});
