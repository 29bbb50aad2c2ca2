/**
 * The gate's input props, resolved: every value checked with the prop, the value and the fix.
 * (Thresholds and budgets are checked in the construct's bad-input tables.)
 */
import { describe, expect, it } from 'vitest';
import { type GateProps, ModelfabValidationError, PropsChecker, resolveGate } from '../lib/core';

function resolve(gate: GateProps) {
  return resolveGate(new PropsChecker('prod/iris'), gate, '/models');
}

describe('gate.inputValues', () => {
  it('keeps a value per input, and stays out of the spec (and so the cache key) when empty', () => {
    expect(resolve({ inputValues: { sr: 16000, state: 0 } }).inputValues).toEqual({ sr: 16000, state: 0 });
    expect(resolve({}).inputValues).toBeUndefined();
    expect('inputValues' in resolve({ inputValues: {} })).toBe(false);
  });

  it.each<[string, GateProps, string]>([
    [
      'a value that is not a number',
      { inputValues: { sr: '16000' as never } },
      '[prod/iris] gate.inputValues["sr"] must be a finite number, got "16000"; the value every element of that input gets, e.g. { sr: 16000 }',
    ],
    [
      'an infinite value',
      { inputValues: { sr: Number.POSITIVE_INFINITY } },
      '[prod/iris] gate.inputValues["sr"] must be a finite number, got Infinity; the value every element of that input gets, e.g. { sr: 16000 }',
    ],
    [
      'not an object',
      { inputValues: [16000] as never },
      '[prod/iris] gate.inputValues must be an object, got [16000]',
    ],
    [
      'values and a dataset',
      { inputValues: { sr: 16000 }, inputDataset: 'requests.jsonl' },
      `[prod/iris] gate.inputValues {"sr":16000} and gate.inputDataset are both set, but the dataset's rows are whole requests; put the values in the dataset, or remove inputDataset`,
    ],
  ])('%s is refused with the prop, the value and the fix', (_, gate, message) => {
    let error: unknown;
    try {
      resolve(gate);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelfabValidationError);
    expect((error as Error).message).toBe(message);
  });
});

describe('gate.budgetSeconds', () => {
  it('takes 3 to 3600 seconds', () => {
    expect(resolve({ budgetSeconds: 3 }).budgetSeconds).toBe(3);
    expect(resolve({}).budgetSeconds).toBe(20);
  });

  it.each([0.2, 2.5, 0, -1, 3601, Number.NaN])(
    'refuses %s, saying why a budget has a floor',
    (budgetSeconds) => {
      expect(() => resolve({ budgetSeconds })).toThrow(ModelfabValidationError);
      expect(() => resolve({ budgetSeconds })).toThrow(
        `[prod/iris] gate.budgetSeconds must be a number from 3 to 3600, got ${String(budgetSeconds)}; seconds, e.g. 20: the gate starts the served model at least twice (its search and its operating point), which a budget under 3 s cannot hold`,
      );
    },
  );
});

describe('gate.requestEncoding', () => {
  it('is JSON unless told binary, and stays out of the spec (and so the cache key) for JSON', () => {
    expect('requestEncoding' in resolve({})).toBe(false);
    expect('requestEncoding' in resolve({ requestEncoding: 'json' })).toBe(false);
    expect(resolve({ requestEncoding: 'binary' }).requestEncoding).toBe('binary');
  });

  it('refuses an encoding the server does not speak, with the value and the choices', () => {
    expect(() => resolve({ requestEncoding: 'protobuf' as never })).toThrow(
      `[prod/iris] gate.requestEncoding "protobuf" is not one of 'json', 'binary'; say how the service's clients send tensors`,
    );
  });
});
