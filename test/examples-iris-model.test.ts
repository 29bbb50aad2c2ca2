/**
 * The Iris example model (examples/iris/train.ts and its committed outputs in examples/iris/model):
 * training is reproducible byte for byte, the ONNX file runs in onnxruntime with the accuracy and
 * the outputs the training script recorded, and the train/eval split is a proper stratified split.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LABELS,
  TRAINING,
  argmax,
  loadIris,
  mulberry32,
  shuffle,
  stratifiedSplit,
} from '../examples/iris/train';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'examples', 'iris', 'train.ts');
const MODEL_DIR = path.join(ROOT, 'examples', 'iris', 'model');
const FILES = ['iris.onnx', 'eval.jsonl', 'expected.jsonl', 'labels.json', 'metrics.json'];

interface EvalRow {
  inputs: { input: number[] };
  label: number;
}

interface ExpectedRow {
  inputs: { input: number[] };
  outputs: { probabilities: number[]; label: number };
}

/** Parses a JSON-lines file of the committed model folder. */
function readJsonLines<T>(name: string): T[] {
  return fs
    .readFileSync(path.join(MODEL_DIR, name), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as T);
}

describe('iris training', () => {
  let outDir: string;
  let stdout: string;

  beforeAll(() => {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-iris-'));
    const run = spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, outDir], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(run.status, `train.ts failed: ${run.stderr}`).toBe(0);
    stdout = run.stdout;
  });

  afterAll(() => {
    fs.rmSync(outDir, { recursive: true, force: true });
  });

  it('writes exactly the committed files', () => {
    expect(fs.readdirSync(outDir).sort()).toEqual([...FILES].sort());
    expect(fs.readdirSync(MODEL_DIR).sort()).toEqual([...FILES].sort());
  });

  it.each(FILES)('reproduces %s byte for byte', (name) => {
    const fresh = fs.readFileSync(path.join(outDir, name));
    const committed = fs.readFileSync(path.join(MODEL_DIR, name));
    expect(
      fresh.equals(committed),
      `${name} differs from a fresh run; regenerate with npm run iris:train`,
    ).toBe(true);
  });

  it('prints a summary with the accuracy and the file sizes', () => {
    expect(stdout).toMatch(/accuracy: train \d+\.\d\d%, eval \d+\.\d\d%/);
    for (const name of FILES) expect(stdout).toMatch(new RegExp(`${name.replace('.', '\\.')}\\s+\\d+ bytes`));
  });
});

describe('iris.onnx in onnxruntime', () => {
  const evalRows = readJsonLines<EvalRow>('eval.jsonl');
  const expectedRows = readJsonLines<ExpectedRow>('expected.jsonl');
  let probabilities: number[][];
  let labels: number[];

  beforeAll(async () => {
    const session = await ort.InferenceSession.create(path.join(MODEL_DIR, 'iris.onnx'));
    expect(session.inputNames).toEqual(['input']);
    expect(session.outputNames).toEqual(['probabilities', 'label']);
    const input = Float32Array.from(evalRows.flatMap((r) => r.inputs.input));
    const out = await session.run({ input: new ort.Tensor('float32', input, [evalRows.length, 4]) });
    expect(out.probabilities.type).toBe('float32');
    expect(out.probabilities.dims).toEqual([evalRows.length, LABELS.length]);
    expect(out.label.type).toBe('int64');
    expect(out.label.dims).toEqual([evalRows.length]);
    const p = out.probabilities.data as Float32Array;
    probabilities = evalRows.map((_, i) => Array.from(p.subarray(i * 3, i * 3 + 3)));
    labels = Array.from(out.label.data as BigInt64Array, Number);
    await session.release();
  });

  it('classifies the held-out rows with top-1 accuracy of at least 0.9', () => {
    const correct = labels.filter((label, i) => label === evalRows[i].label).length;
    expect(correct / evalRows.length).toBeGreaterThanOrEqual(0.9);
  });

  it('outputs label = argmax(probabilities), and probabilities that sum to 1', () => {
    probabilities.forEach((p, i) => {
      expect(labels[i]).toBe(argmax(p));
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    });
  });

  it("matches the training script's float64 outputs within atol 1e-5", () => {
    expect(expectedRows.map((r) => r.inputs.input)).toEqual(evalRows.map((r) => r.inputs.input));
    expectedRows.forEach((row, i) => {
      expect(labels[i]).toBe(row.outputs.label);
      row.outputs.probabilities.forEach((want, k) => {
        expect(Math.abs(probabilities[i][k] - want)).toBeLessThanOrEqual(1e-5);
      });
    });
  });
});

describe('iris train/eval split', () => {
  const data = loadIris();
  const split = stratifiedSplit(data.labels, TRAINING.trainFraction, TRAINING.seed);

  it('maps the classes to 0, 1, 2 in label order', () => {
    expect(data.features).toHaveLength(150);
    expect(LABELS.map((_, c) => data.labels.filter((l) => l === c).length)).toEqual([50, 50, 50]);
    expect(JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'labels.json'), 'utf8'))).toEqual([...LABELS]);
  });

  it('is disjoint and covers every row', () => {
    const train = new Set(split.train);
    expect(train.size).toBe(split.train.length);
    expect(split.eval.filter((i) => train.has(i))).toEqual([]);
    expect([...split.train, ...split.eval].sort((a, b) => a - b)).toEqual(data.labels.map((_, i) => i));
  });

  it('is stratified: 35 train and 15 eval rows of each class', () => {
    const perClass = (rows: number[]): number[] =>
      LABELS.map((_, c) => rows.filter((i) => data.labels[i] === c).length);
    expect(perClass(split.train)).toEqual([35, 35, 35]);
    expect(perClass(split.eval)).toEqual([15, 15, 15]);
  });

  it('depends only on the seed', () => {
    expect(stratifiedSplit(data.labels, TRAINING.trainFraction, TRAINING.seed)).toEqual(split);
    expect(stratifiedSplit(data.labels, TRAINING.trainFraction, TRAINING.seed + 1)).not.toEqual(split);
  });

  it('is the split the committed eval.jsonl and metrics.json were made from', () => {
    const rows = readJsonLines<EvalRow>('eval.jsonl');
    expect(rows).toEqual(
      split.eval.map((i) => ({ inputs: { input: data.features[i] }, label: data.labels[i] })),
    );
    const metrics = JSON.parse(fs.readFileSync(path.join(MODEL_DIR, 'metrics.json'), 'utf8')) as {
      seed: number;
      split: { train: number; eval: number };
      evalAccuracy: number;
    };
    expect(metrics.seed).toBe(TRAINING.seed);
    expect(metrics.split).toMatchObject({ train: split.train.length, eval: split.eval.length });
    expect(metrics.evalAccuracy).toBeGreaterThanOrEqual(0.9);
  });

  it('shuffles with a seeded mulberry32 Fisher–Yates permutation', () => {
    const random = mulberry32(TRAINING.seed);
    const draws = Array.from({ length: 1000 }, random);
    expect(draws.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(Array.from({ length: 1000 }, mulberry32(TRAINING.seed))).toEqual(draws);
    const items = Array.from({ length: 20 }, (_, i) => i);
    const shuffled = shuffle(items, mulberry32(7));
    expect([...shuffled].sort((a, b) => a - b)).toEqual(items);
    expect(shuffled).not.toEqual(items);
  });
});
