/**
 * The gate's datasets: JSON-lines files with one row per line, read with line numbers so every
 * problem is reported as `file:line: what is wrong`. Rows are parsed into flat row-major tensors;
 * matching them to the model's inputs (names, dtypes, shapes, a leading batch dim) is the caller's job.
 *
 * - labelled (accuracy): `{ "inputs": { "x": [...] }, "label": 2 }` or `"label": [0.5, 1.5]`
 * - parity: `{ "inputs": { "x": [...] }, "outputs": { "y": [...] } }`
 * - inputs (benchmark data): `{ "inputs": { "x": [...] } }`
 */
import fs from 'node:fs';
import { show } from '../core';

/** A dataset that cannot be used. The message is `file:line: problem` (or `file: problem` for the whole file). */
export class DatasetError extends Error {
  override readonly name = 'DatasetError';

  constructor(
    /** The dataset file as given. */
    readonly file: string,
    /** 1-based line of the problem; undefined when the problem is the whole file. */
    readonly line: number | undefined,
    /** The problem, lower-case, with the value received. */
    readonly detail: string,
  ) {
    super(line === undefined ? `${file}: ${detail}` : `${file}:${line}: ${detail}`);
  }
}

/** One element of a JSON tensor. */
export type JsonScalar = number | boolean | string;

/** A tensor written as (nested) JSON arrays: its elements flat, row-major, and its dims from the nesting. */
export interface JsonTensor {
  /** Elements in row-major order; all numbers, all booleans or all strings. */
  readonly values: JsonScalar[];
  /** Length at each nesting level; `[]` for a scalar, `[0]` for `[]`. */
  readonly dims: number[];
}

/** A parsed line of a JSONL file. */
export interface JsonlLine {
  /** 1-based line number in the file. */
  readonly line: number;
  readonly value: unknown;
}

/** A row of model inputs, by input name. */
export interface InputRow {
  readonly line: number;
  readonly inputs: Record<string, JsonTensor>;
}

/** A row of an accuracy dataset: inputs and the expected class index or value(s). */
export interface LabelledRow extends InputRow {
  readonly label: number | number[];
}

/** A row of a parity dataset: inputs and the outputs the training framework produced, by output name. */
export interface ParityRow extends InputRow {
  readonly outputs: Record<string, JsonTensor>;
}

/** Options of {@link readLabelledDataset}. */
export interface LabelledDatasetOptions {
  /**
   * `class`: every label must be a class index, an integer >= 0 (top1/topk). `value`: a number or a
   * flat list of numbers (mae/rmse). `any`: either.
   * @default 'any'
   */
  readonly label?: 'class' | 'value' | 'any';
}

/**
 * Reads a JSONL file: one JSON value per non-blank line, with its 1-based line number.
 *
 * @throws DatasetError when the file is missing or unreadable, has no rows, or a line is not valid JSON
 */
export function readJsonl(path: string): JsonlLine[] {
  return parseJsonl(readDatasetText(path), path);
}

/**
 * Parses JSONL text (see {@link readJsonl}); `file` names it in errors. Blank lines are skipped; a
 * UTF-8 byte order mark and Windows line endings are accepted.
 *
 * @throws DatasetError when there are no rows or a line is not valid JSON
 */
export function parseJsonl(text: string, file: string): JsonlLine[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const rows: JsonlLine[] = [];
  lines.forEach((source, index) => {
    if (source.trim() === '') return;
    const line = index + 1;
    try {
      rows.push({ line, value: JSON.parse(source) as unknown });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new DatasetError(file, line, `invalid json: ${reason}; each line must be one json object`);
    }
  });
  if (rows.length === 0) {
    throw new DatasetError(file, undefined, 'dataset is empty; write one json object per line');
  }
  return rows;
}

/**
 * Reads an accuracy dataset: `{ "inputs": {...}, "label": ... }` per line.
 *
 * @throws DatasetError naming the file and line of the first problem
 */
export function readLabelledDataset(path: string, options: LabelledDatasetOptions = {}): LabelledRow[] {
  const kind = options.label ?? 'any';
  return readJsonl(path).map(({ line, value }) => {
    const row = rowObject(value, path, line);
    return { line, inputs: tensorMap(row, 'inputs', path, line), label: parseLabel(row, kind, path, line) };
  });
}

/**
 * Reads a parity dataset: `{ "inputs": {...}, "outputs": {...} }` per line.
 *
 * @throws DatasetError naming the file and line of the first problem
 */
export function readParityDataset(path: string): ParityRow[] {
  return readJsonl(path).map(({ line, value }) => {
    const row = rowObject(value, path, line);
    const inputs = tensorMap(row, 'inputs', path, line);
    if (!('outputs' in row)) {
      throw new DatasetError(
        path,
        line,
        'missing "outputs": a parity row needs the expected outputs by name, e.g. {"inputs": {...}, "outputs": {"y": [...]}}',
      );
    }
    return { line, inputs, outputs: tensorMap(row, 'outputs', path, line) };
  });
}

/**
 * Reads a dataset of benchmark inputs: `{ "inputs": {...} }` per line (other keys are ignored).
 *
 * @throws DatasetError naming the file and line of the first problem
 */
export function readInputDataset(path: string): InputRow[] {
  return readJsonl(path).map(({ line, value }) => ({
    line,
    inputs: tensorMap(rowObject(value, path, line), 'inputs', path, line),
  }));
}

/**
 * Parses a (nested) JSON array or a scalar of numbers, booleans or strings into a flat tensor.
 *
 * @param where how to name the value in errors (`inputs.x`)
 * @throws Error (a plain one, lower-case; the readers wrap it with file and line) when the value is
 *   not a tensor, nests raggedly or mixes element kinds
 */
export function parseJsonTensor(value: unknown, where: string): JsonTensor {
  const dims: number[] = [];
  for (let level: unknown = value; Array.isArray(level); level = level[0]) {
    dims.push(level.length);
    if (level.length === 0) break;
  }
  const values: JsonScalar[] = [];
  let kind: string | undefined;
  const walk = (node: unknown, depth: number, at: string): void => {
    if (depth < dims.length) {
      if (!Array.isArray(node)) {
        throw new Error(
          `ragged nested array: ${where}${at} is ${show(node)}, expected an array of ${dims[depth]}`,
        );
      }
      if (node.length !== dims[depth]) {
        throw new Error(
          `ragged nested array: ${where}${at} has ${node.length} elements, expected ${dims[depth]} like its siblings`,
        );
      }
      node.forEach((child, i) => walk(child, depth + 1, `${at}[${i}]`));
      return;
    }
    if (Array.isArray(node)) {
      throw new Error(`ragged nested array: ${where}${at} is an array where its siblings are not`);
    }
    if (typeof node !== 'number' && typeof node !== 'boolean' && typeof node !== 'string') {
      throw new Error(
        `${where}${at} must be a number, boolean or string (or nested arrays of them), received ${show(node)}`,
      );
    }
    if (kind === undefined) kind = typeof node;
    else if (typeof node !== kind) {
      throw new Error(
        `${where}${at} is a ${typeof node} but earlier elements are ${kind}s; a tensor has one type`,
      );
    }
    values.push(node);
  };
  walk(value, 0, '');
  return { values, dims };
}

/** Reads the file, turning file-system failures into DatasetErrors. */
function readDatasetText(path: string): string {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DatasetError(path, undefined, 'dataset file not found; check the path');
    if (code === 'EISDIR')
      throw new DatasetError(path, undefined, 'dataset path is a directory, not a jsonl file');
    const reason = err instanceof Error ? err.message : String(err);
    throw new DatasetError(path, undefined, `cannot read dataset: ${reason}`);
  }
}

/** The line's value as an object, or a DatasetError. */
function rowObject(value: unknown, file: string, line: number): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new DatasetError(
      file,
      line,
      `each line must be a json object like {"inputs": {...}}, received ${show(value)}`,
    );
  }
  return value as Record<string, unknown>;
}

/** `row[key]` as tensors by name (`inputs` or `outputs`). */
function tensorMap(
  row: Record<string, unknown>,
  key: 'inputs' | 'outputs',
  file: string,
  line: number,
): Record<string, JsonTensor> {
  const map = row[key];
  if (map === undefined) {
    throw new DatasetError(file, line, `missing "${key}": each row needs {"${key}": {"<name>": [...]}}`);
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new DatasetError(
      file,
      line,
      `"${key}" must be an object of tensors by name like {"x": [1, 2]}, received ${show(map)}`,
    );
  }
  const names = Object.keys(map);
  if (names.length === 0) throw new DatasetError(file, line, `"${key}" is empty; name at least one tensor`);
  const tensors: Record<string, JsonTensor> = {};
  for (const name of names) {
    try {
      tensors[name] = parseJsonTensor((map as Record<string, unknown>)[name], `${key}.${name}`);
    } catch (err) {
      throw new DatasetError(file, line, (err as Error).message);
    }
  }
  return tensors;
}

/** The row's label, checked against the kind the metric needs. */
function parseLabel(
  row: Record<string, unknown>,
  kind: 'class' | 'value' | 'any',
  file: string,
  line: number,
): number | number[] {
  const label = row.label;
  const wanted =
    kind === 'class'
      ? 'a class index (an integer >= 0)'
      : kind === 'value'
        ? 'a number or a list of numbers'
        : 'a class index or a number or a list of numbers';
  if (label === undefined) throw new DatasetError(file, line, `missing "label": expected ${wanted}`);
  if (typeof label === 'number' && (kind !== 'class' || (Number.isInteger(label) && label >= 0)))
    return label;
  if (kind !== 'class' && isNumberList(label)) return [...label];
  throw new DatasetError(file, line, `"label" must be ${wanted}, received ${show(label)}`);
}

function isNumberList(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number');
}
