/**
 * The kinds of value a server setting takes (a count, a port, milliseconds, a file path, a
 * sha256…), each once: what a good value is, for messages; how one is read from text (a flag, a
 * `MODELFAB_*` variable); and how a value given as such (an option, the serving config file) is
 * checked. The settings table (`server-setting-table.ts`) gives each setting one of them.
 */
import { show } from './errors';
import { formatMemory, parseMemoryBytes, QuantityError } from './quantity';

/** How messages describe a setting's good values. */
export interface SettingWords {
  /** What a good value is, for messages: `'an integer of at least 1'`. */
  readonly must: string;
  /** A good value, for the fix in messages: `'a value such as 2'`. */
  readonly suggest: string;
}

/** What values a setting takes, and how it reads them. */
export interface SettingRule<T> extends SettingWords {
  /** The value's placeholder in the help: `N`, `FILE`. */
  readonly placeholder: string;
  /** The value a trimmed text (a flag, a variable) stands for, or undefined when it is not a good one. */
  readonly fromText: (text: string) => T | undefined;
  /** The value, normalized, when `value` (an option, from the config file) is a good one, else undefined. */
  readonly accept: (value: unknown) => T | undefined;
  /** How the help shows a value. @default String */
  readonly format?: (value: T) => string;
}

/** The fix that suggests `example`: `'a value such as 2'`. */
export function suchAs(example: string): string {
  return `a value such as ${example}`;
}

/** What is wrong with a value: `'--workers must be an integer of at least 1, received "0"'`. */
export function settingProblem(name: string, rule: SettingWords, received: unknown): string {
  return `${name} must be ${rule.must}, received ${show(received)}`;
}

/** The message for a bad value given explicitly (an option, a flag), named as the caller names it. */
export function explicitSettingProblem(name: string, rule: SettingWords, received: unknown): string {
  return `${settingProblem(name, rule, received)}; pass ${rule.suggest}`;
}

const INTEGER = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;
const SHA256 = /^[0-9a-fA-F]{64}$/;

function numberRule(
  must: string,
  placeholder: string,
  example: string,
  syntax: RegExp,
  ok: (value: number) => boolean,
): SettingRule<number> {
  const accept = (value: unknown): number | undefined =>
    typeof value === 'number' && ok(value) ? value : undefined;
  return {
    must,
    suggest: suchAs(example),
    placeholder,
    accept,
    fromText: (text) => (syntax.test(text) ? accept(Number(text)) : undefined),
  };
}

function textRule(
  must: string,
  placeholder: string,
  suggest: string,
  ok: (text: string) => boolean,
  normalize: (text: string) => string = (text) => text,
): SettingRule<string> {
  const accept = (value: unknown): string | undefined => {
    if (typeof value !== 'string') return undefined;
    const text = value.trim();
    return ok(text) ? normalize(text) : undefined;
  };
  return { must, suggest, placeholder, accept, fromText: accept };
}

const isCount = (value: number): boolean => Number.isSafeInteger(value) && value >= 1;
const isNonNegative = (value: number): boolean => Number.isFinite(value) && value >= 0;
const isNameLike = (text: string): boolean => text !== '' && !text.includes('/');

/** An integer of at least 1 (workers, threads, batch rows, queue places). */
export const COUNT = numberRule('an integer of at least 1', 'N', '2', INTEGER, isCount);

/** A TCP port; 0 picks a free one. */
export const PORT = numberRule(
  'a port number from 0 to 65535 (0: any free port)',
  'PORT',
  '8080',
  INTEGER,
  (value) => Number.isSafeInteger(value) && value <= 65535 && value >= 0,
);

/** A duration in milliseconds, fractions allowed. */
export const MILLISECONDS = numberRule(
  'a non-negative number of milliseconds',
  'MS',
  '5',
  DECIMAL,
  isNonNegative,
);

/** A duration in seconds, fractions allowed. */
export const SECONDS = numberRule(
  'a non-negative number of seconds',
  'SECONDS',
  '20',
  DECIMAL,
  isNonNegative,
);

/** A number greater than 0, fractions allowed (CPUs). */
export const POSITIVE = numberRule(
  'a positive number',
  'N',
  '2',
  DECIMAL,
  (value) => Number.isFinite(value) && value > 0,
);

/** A size in bytes: a whole number, or as text also a Kubernetes quantity (`16Mi`). */
export const BYTES: SettingRule<number> = {
  ...COUNT,
  must: 'a positive whole number of bytes, or a quantity such as 16Mi',
  suggest: suchAs('16777216'),
  placeholder: 'BYTES',
  fromText: (text) => {
    try {
      return COUNT.accept(parseMemoryBytes(text));
    } catch (error) {
      if (error instanceof QuantityError) return undefined;
      throw error;
    }
  },
  format: formatMemory,
};

/** A path to a file, relative to the working directory; `example` names one. */
export function filePath(example: string): SettingRule<string> {
  return textRule('a file path', 'FILE', suchAs(example), (text) => text !== '');
}

/** The model's name in URLs (`/v2/models/{name}`). */
export const MODEL_NAME = textRule('a non-empty name without "/"', 'NAME', suchAs('iris'), isNameLike);

/** The model's version in URLs (`/v2/models/{name}/versions/{version}`). */
export const MODEL_VERSION = textRule('a non-empty version without "/"', 'VERSION', suchAs('1'), isNameLike);

/** A sha256 digest as hex, in either case; the value is lower-case. */
export const SHA256_HEX = textRule(
  "the model's sha256 as 64 hex digits",
  'HEX',
  'the digest `modelfab inspect` prints',
  (text) => SHA256.test(text),
  (text) => text.toLowerCase(),
);

/**
 * One of a few words (`values`), as written; the message lists them.
 * @param placeholder the value's placeholder in the help, e.g. `PROVIDER`
 */
export function oneOf<T extends string>(values: readonly T[], placeholder: string): SettingRule<T> {
  const accept = (value: unknown): T | undefined =>
    typeof value === 'string' && (values as readonly string[]).includes(value.trim())
      ? (value.trim() as T)
      : undefined;
  return {
    must: `one of ${values.join(', ')}`,
    suggest: suchAs(values[0]),
    placeholder,
    accept,
    fromText: accept,
  };
}

/** An address to listen on. */
export const ADDRESS = textRule(
  'a host name or ip address',
  'ADDRESS',
  suchAs('127.0.0.1 or 0.0.0.0'),
  (text) => text !== '',
);
