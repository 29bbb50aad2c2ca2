/**
 * The quality gate's props, declared on InferenceService (the gate depends on the resources the
 * model gets). The same in every engine.
 */
import { listProp, mapProp, numberProp, objectProp, stringProp } from './props-shape';

/** Accuracy on a labelled JSONL dataset: one `{ "inputs": {...}, "label": ... }` per line. */
export interface AccuracyGateProps {
  /** JSONL file of labelled rows (relative paths from the current directory). */
  readonly dataset: string;
  /**
   * `top1` and `topk` for classifiers (the label is a class index), `mae` and `rmse` for regressors
   * (the label is a number or a list of numbers).
   * @default 'top1'
   */
  readonly metric?: 'top1' | 'topk' | 'mae' | 'rmse';
  /**
   * k for `topk`.
   * @default 5
   */
  readonly k?: number;
  /**
   * The output scored: class scores `[batch, classes]` for top-k, predictions for mae/rmse.
   * @default - the first float output
   */
  readonly output?: string;
  /**
   * Lowest acceptable value (top1/topk, a fraction from 0 to 1).
   * @default - no lower bound
   */
  readonly min?: number;
  /**
   * Highest acceptable value (mae/rmse).
   * @default - no upper bound
   */
  readonly max?: number;
}

/** Output parity with the training framework: a JSONL of `{ "inputs": {...}, "outputs": {...} }`. */
export interface ParityGateProps {
  readonly dataset: string;
  /**
   * Absolute tolerance: an element passes when |ours − expected| ≤ atol + rtol × |expected| (numpy.allclose).
   * @default 1e-4
   */
  readonly atol?: number;
  /**
   * Relative tolerance.
   * @default 1e-3
   */
  readonly rtol?: number;
}

export interface GateProps {
  /** @default - not checked */
  readonly latencyP50Ms?: number;
  /** @default - not checked */
  readonly latencyP95Ms?: number;
  /**
   * p99 latency bound of one request; also the bound throughput is measured at.
   * @default - not checked; throughput is then measured at a bound of 100 ms
   */
  readonly latencyP99Ms?: number;
  /**
   * Lowest acceptable throughput of one replica, requests per second, while p99 stays within the bound.
   * @default - not checked
   */
  readonly minThroughputRps?: number;
  /** @default - not checked */
  readonly accuracy?: AccuracyGateProps;
  /** @default - not checked */
  readonly parity?: ParityGateProps;
  /**
   * Peak resident memory of the benchmark process, MiB.
   * @default - not checked (the pod's memory limit still applies)
   */
  readonly maxMemoryMb?: number;
  /**
   * Session creation plus first inference, ms.
   * @default - not checked
   */
  readonly maxColdStartMs?: number;
  /**
   * Model file size, MiB.
   * @default - not checked
   */
  readonly maxModelSizeMb?: number;
  /**
   * Values for symbolic dimensions, per input (`{ x: [1, 3, 224, 224] }`). Required when an input has
   * a symbolic dimension other than the batch dimension; the batch dimension defaults to 1.
   * @default {}
   */
  readonly inputShapes?: Readonly<Record<string, readonly number[]>>;
  /**
   * A fixed value for every element of an input, instead of random data: what a model needs in
   * order to run, such as a sample rate (`{ sr: 16000 }`), a zeroed recurrent state (`{ state: 0 }`)
   * or a shape tensor. Integer inputs take integers in their type's range, bool inputs 0 or 1.
   * Inputs not named stay random. Not with `inputDataset`, whose rows are whole requests.
   * @default - seeded random values for every input
   */
  readonly inputValues?: Readonly<Record<string, number>>;
  /**
   * JSONL of real inputs (`{ "inputs": {...} }` per line) to benchmark with instead of seeded random data.
   * @default - seeded random data
   */
  readonly inputDataset?: string;
  /**
   * How the gate's requests carry their tensors, as the service's clients send them: Open Inference
   * Protocol JSON, or the binary tensor data extension (`Inference-Header-Content-Length`), which
   * costs the server far less per element for large inputs.
   * @default 'json'
   */
  readonly requestEncoding?: 'json' | 'binary';
  /**
   * Seconds one gate may spend measuring, from 3 to 3600: the model in process (cold start, a
   * diagnostic, correctness), the load generator's ceiling, the search over serving settings on the
   * served path and the latency at the operating rate. The gate stops within it (about ±10%) and
   * spends it where a decision is still open; a threshold it could not decide in time fails as
   * not shown, with how much more to give.
   * @default 20
   */
  readonly budgetSeconds?: number;
  /**
   * Largest batch setting the throughput search tries (powers of two up to this), when dim 0 is a batch dim.
   * @default 32
   */
  readonly maxBatchSize?: number;
  /**
   * Seed of the random inputs and the Poisson arrivals.
   * @default 1
   */
  readonly seed?: number;
}

/** What the service must carry; the capacity plan sizes replicas from the gate's measured throughput. */
export interface SloProps {
  /** Requests per second the whole service must serve. */
  readonly targetRps: number;
  /**
   * Fraction of each replica's measured capacity to plan for, leaving headroom for bursts.
   * @default 0.7
   */
  readonly targetUtilization?: number;
}

/** The shape of {@link GateProps}: every key, and an example of each value. */
export const GATE_PROPS_SHAPE = objectProp<GateProps>({
  latencyP50Ms: numberProp('10'),
  latencyP95Ms: numberProp('15'),
  latencyP99Ms: numberProp('20'),
  minThroughputRps: numberProp('300'),
  accuracy: objectProp<AccuracyGateProps>(
    {
      dataset: stringProp('examples/iris/model/eval.jsonl'),
      metric: stringProp('top1'),
      k: numberProp('5'),
      output: stringProp('probabilities'),
      min: numberProp('0.9'),
      max: numberProp('0.5'),
    },
    ['dataset'],
  ),
  parity: objectProp<ParityGateProps>(
    {
      dataset: stringProp('examples/iris/model/expected.jsonl'),
      atol: numberProp('0.00001'),
      rtol: numberProp('0.0001'),
    },
    ['dataset'],
  ),
  maxMemoryMb: numberProp('512'),
  maxColdStartMs: numberProp('2000'),
  maxModelSizeMb: numberProp('100'),
  inputShapes: mapProp(listProp(numberProp('1')), 'input'),
  inputValues: mapProp(numberProp('16000'), 'sr'),
  inputDataset: stringProp('examples/iris/model/eval.jsonl'),
  requestEncoding: stringProp('binary'),
  budgetSeconds: numberProp('20'),
  maxBatchSize: numberProp('32'),
  seed: numberProp('1'),
});

/** The shape of {@link SloProps}. */
export const SLO_PROPS_SHAPE = objectProp<SloProps>(
  { targetRps: numberProp('2000'), targetUtilization: numberProp('0.7') },
  ['targetRps'],
);
