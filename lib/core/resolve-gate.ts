/** GateProps and SloProps → GateSpec and SloSpec. Pure: dataset files are read by the gate. */
import * as path from 'node:path';
import { show } from './errors';
import { type GateProps } from './gate-props';
import { type GateSpec, type SloSpec } from './gate-spec';
import { type InferenceServiceProps } from './inference-service-props';
import { type PropsChecker } from './props-checker';

/** The smallest gate budget: a served model started for the search and for the operating point, measured. */
export const MIN_GATE_BUDGET_SECONDS = 3;

export const GATE_DEFAULTS = {
  /** Bound throughput is measured at when no latencyP99Ms is declared. */
  latencyBoundMs: 100,
  budgetSeconds: 20,
  maxBatchSize: 32,
  seed: 1,
  topK: 5,
  atol: 1e-4,
  rtol: 1e-3,
  targetUtilization: 0.7,
} as const;

function optionalPositive(
  check: PropsChecker,
  prop: string,
  value: unknown,
  fix: string,
): number | undefined {
  return value === undefined ? undefined : check.positive(prop, value, fix);
}

function dataset(check: PropsChecker, prop: string, value: unknown, cwd: string): string {
  return path.resolve(
    cwd,
    check.string(prop, value, "set it to the path of a .jsonl file, e.g. 'model/eval.jsonl'"),
  );
}

/** Resolves the gate props; every message names the `gate.*` prop and the value received. */
export function resolveGate(check: PropsChecker, gate: GateProps, cwd: string): GateSpec {
  check.record('gate', gate);
  const d = GATE_DEFAULTS;
  const latencyFix = 'a latency in milliseconds, e.g. 25';
  const spec: {
    -readonly [K in keyof GateSpec]: GateSpec[K];
  } = {
    latencyBoundMs: d.latencyBoundMs,
    inputShapes: {},
    budgetSeconds: check.between(
      'gate.budgetSeconds',
      gate.budgetSeconds ?? d.budgetSeconds,
      MIN_GATE_BUDGET_SECONDS,
      3600,
      `seconds, e.g. 20: the gate starts the served model at least twice (its search and its operating point), which a budget under ${MIN_GATE_BUDGET_SECONDS} s cannot hold`,
    ),
    maxBatchSize: check.integer(
      'gate.maxBatchSize',
      gate.maxBatchSize ?? d.maxBatchSize,
      1,
      4096,
      'the largest batch to try, e.g. 32',
    ),
    seed: check.integer('gate.seed', gate.seed ?? d.seed, 0, 2 ** 31 - 1, 'any non-negative integer'),
  };
  for (const key of ['latencyP50Ms', 'latencyP95Ms', 'latencyP99Ms'] as const) {
    const value = optionalPositive(check, `gate.${key}`, gate[key], latencyFix);
    if (value !== undefined) spec[key] = value;
  }
  if (spec.latencyP99Ms !== undefined) spec.latencyBoundMs = spec.latencyP99Ms;
  for (const key of ['minThroughputRps', 'maxMemoryMb', 'maxColdStartMs', 'maxModelSizeMb'] as const) {
    const value = optionalPositive(check, `gate.${key}`, gate[key], 'a positive number');
    if (value !== undefined) spec[key] = value;
  }
  if (gate.accuracy !== undefined) {
    check.record('gate.accuracy', gate.accuracy);
    const a = gate.accuracy;
    const metric = a.metric ?? 'top1';
    if (!['top1', 'topk', 'mae', 'rmse'].includes(metric)) {
      check.fail(
        'gate.accuracy.metric',
        `gate.accuracy.metric ${show(metric)} is not one of 'top1', 'topk', 'mae', 'rmse'`,
      );
    }
    const classifier = metric === 'top1' || metric === 'topk';
    if (classifier && a.max !== undefined) {
      check.fail(
        'gate.accuracy.max',
        `gate.accuracy.max ${show(a.max)} does not apply to ${metric}, a fraction where higher is better; use gate.accuracy.min`,
      );
    }
    if (!classifier && a.min !== undefined) {
      check.fail(
        'gate.accuracy.min',
        `gate.accuracy.min ${show(a.min)} does not apply to ${metric}, an error where lower is better; use gate.accuracy.max`,
      );
    }
    if (a.min !== undefined)
      check.positive('gate.accuracy.min', a.min, 'a fraction such as 0.9', 1, -Number.MIN_VALUE);
    if (a.max !== undefined)
      check.positive(
        'gate.accuracy.max',
        a.max,
        'the largest acceptable error, e.g. 0.5',
        Number.MAX_VALUE,
        -Number.MIN_VALUE,
      );
    if (a.output !== undefined)
      check.string('gate.accuracy.output', a.output, 'the name of the output to score');
    spec.accuracy = {
      dataset: dataset(check, 'gate.accuracy.dataset', a.dataset, cwd),
      metric,
      k:
        metric === 'top1'
          ? 1
          : check.integer('gate.accuracy.k', a.k ?? d.topK, 1, 1000, 'how many top classes count, e.g. 5'),
      ...(a.output !== undefined ? { output: a.output } : {}),
      ...(a.min !== undefined ? { min: a.min } : {}),
      ...(a.max !== undefined ? { max: a.max } : {}),
    };
  }
  if (gate.parity !== undefined) {
    check.record('gate.parity', gate.parity);
    const p = gate.parity;
    const tolerance = (prop: 'atol' | 'rtol') =>
      check.positive(
        `gate.parity.${prop}`,
        p[prop] ?? d[prop],
        'a non-negative tolerance such as 1e-4',
        Number.MAX_VALUE,
        -Number.MIN_VALUE,
      );
    spec.parity = {
      dataset: dataset(check, 'gate.parity.dataset', p.dataset, cwd),
      atol: tolerance('atol'),
      rtol: tolerance('rtol'),
    };
  }
  const shapes: Record<string, readonly number[]> = {};
  for (const [input, dims] of Object.entries(check.record('gate.inputShapes', gate.inputShapes ?? {}))) {
    if (!Array.isArray(dims) || dims.some((dim) => !Number.isInteger(dim) || (dim as number) < 1)) {
      check.fail(
        'gate.inputShapes',
        `gate.inputShapes[${show(input)}] must be a list of positive integers, got ${show(dims)}`,
      );
    }
    shapes[input] = [...(dims as number[])];
  }
  spec.inputShapes = shapes;
  if (gate.inputDataset !== undefined)
    spec.inputDataset = dataset(check, 'gate.inputDataset', gate.inputDataset, cwd);
  const encoding = gate.requestEncoding ?? 'json';
  if (encoding !== 'json' && encoding !== 'binary') {
    check.fail(
      'gate.requestEncoding',
      `gate.requestEncoding ${show(encoding)} is not one of 'json', 'binary'; say how the service's clients send tensors`,
    );
  }
  if (encoding === 'binary') spec.requestEncoding = 'binary';
  if (gate.inputValues !== undefined) {
    const values: Record<string, number> = {};
    for (const [input, value] of Object.entries(check.record('gate.inputValues', gate.inputValues))) {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        check.fail(
          'gate.inputValues',
          `gate.inputValues[${show(input)}] must be a finite number, got ${show(value)}; the value every element of that input gets, e.g. { sr: 16000 }`,
        );
      }
      values[input] = value;
    }
    if (spec.inputDataset !== undefined && Object.keys(values).length > 0) {
      check.fail(
        'gate.inputValues',
        `gate.inputValues ${show(values)} and gate.inputDataset are both set, but the dataset's rows are whole requests; put the values in the dataset, or remove inputDataset`,
      );
    }
    if (Object.keys(values).length > 0) spec.inputValues = values;
  }
  return spec;
}

/**
 * The key a derived SLO carries what it is under (see {@link SloSpec.origin}; {@link derivedSlo}
 * sets it): a MultiCloudDeployment puts each target's share there, a canary its weight. A symbol, so it is no prop: a user can neither
 * set it nor misspell it, and the unknown-prop checks, which list string keys, never see it.
 */
const SLO_ORIGIN: unique symbol = Symbol('modelfab.sloOrigin');

/** SLO props that may carry {@link SLO_ORIGIN}. */
type SloPropsWithOrigin = NonNullable<InferenceServiceProps['slo']> & { readonly [SLO_ORIGIN]?: string };

/** SLO props derived from another SLO, carrying what they are (`origin`) for capacity messages. */
export function derivedSlo(
  slo: NonNullable<InferenceServiceProps['slo']>,
  origin: string,
): NonNullable<InferenceServiceProps['slo']> {
  const derived: SloPropsWithOrigin = { ...slo, [SLO_ORIGIN]: origin };
  return derived;
}

/** Resolves the SLO; it needs a gate, because the plan divides by measured throughput. */
export function resolveSlo(check: PropsChecker, props: InferenceServiceProps): SloSpec {
  const slo = check.record('slo', props.slo);
  if (props.gate === undefined) {
    check.fail(
      'slo',
      `slo ${show(props.slo)} needs a gate: replicas are planned from the throughput the gate measures; add gate: {} (or gate thresholds)`,
    );
  }
  return {
    targetRps: check.positive(
      'slo.targetRps',
      slo.targetRps,
      'requests per second for the whole service, e.g. 2000',
    ),
    targetUtilization: check.positive(
      'slo.targetUtilization',
      slo.targetUtilization ?? GATE_DEFAULTS.targetUtilization,
      'a fraction of measured capacity, e.g. 0.7',
      1,
    ),
    ...(typeof (props.slo as SloPropsWithOrigin)[SLO_ORIGIN] === 'string'
      ? { origin: (props.slo as SloPropsWithOrigin)[SLO_ORIGIN] }
      : {}),
  };
}

/**
 * The gate props that resolve (with {@link resolveGate} from `cwd`) to `spec`: the inverse of
 * resolveGate, for a command line that must measure the same gate elsewhere (`modelfab bench
 * --gate`). Dataset paths are made relative to `cwd` (POSIX separators), and settings equal to
 * their default are left out.
 */
export function gatePropsOf(spec: GateSpec, cwd: string): GateProps {
  const d = GATE_DEFAULTS;
  const file = (absolute: string) => path.relative(cwd, absolute).split(path.sep).join('/') || '.';
  const props: { -readonly [K in keyof GateProps]: GateProps[K] } = {};
  for (const key of [
    'latencyP50Ms',
    'latencyP95Ms',
    'latencyP99Ms',
    'minThroughputRps',
    'maxMemoryMb',
    'maxColdStartMs',
    'maxModelSizeMb',
  ] as const) {
    if (spec[key] !== undefined) props[key] = spec[key];
  }
  if (spec.accuracy) {
    const a = spec.accuracy;
    props.accuracy = {
      dataset: file(a.dataset),
      metric: a.metric,
      ...(a.metric === 'topk' ? { k: a.k } : {}),
      ...(a.output !== undefined ? { output: a.output } : {}),
      ...(a.min !== undefined ? { min: a.min } : {}),
      ...(a.max !== undefined ? { max: a.max } : {}),
    };
  }
  if (spec.parity) {
    props.parity = { dataset: file(spec.parity.dataset), atol: spec.parity.atol, rtol: spec.parity.rtol };
  }
  if (Object.keys(spec.inputShapes).length > 0) props.inputShapes = spec.inputShapes;
  if (spec.inputValues !== undefined) props.inputValues = spec.inputValues;
  if (spec.inputDataset !== undefined) props.inputDataset = file(spec.inputDataset);
  if (spec.requestEncoding !== undefined) props.requestEncoding = spec.requestEncoding;
  if (spec.budgetSeconds !== d.budgetSeconds) props.budgetSeconds = spec.budgetSeconds;
  if (spec.maxBatchSize !== d.maxBatchSize) props.maxBatchSize = spec.maxBatchSize;
  if (spec.seed !== d.seed) props.seed = spec.seed;
  return props;
}
