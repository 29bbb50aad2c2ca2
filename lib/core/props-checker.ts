import { ModelfabValidationError, show } from './errors';
import { isLabelValue, isQualifiedName } from './names';
import { type ObjectShape, unknownProps } from './props-shape';

/** Checks one construct's props; every failure names the construct path, the prop and the value. */
export class PropsChecker {
  constructor(private readonly constructPath: string) {}

  fail(prop: string, detail: string): never {
    throw new ModelfabValidationError(this.constructPath, prop, detail);
  }

  /**
   * Fails on the first key of `props` that `shape` does not know, naming the nearest known one:
   * `autoscalling is not a prop of InferenceService; did you mean autoscaling?`,
   * `gate.latencyP99ms is not a prop of InferenceService; did you mean gate.latencyP99Ms?`.
   * @param owner the construct's name (`InferenceService`)
   * @param noun what the engine calls them: `prop` (cdk8s) or `arg` (Pulumi)
   */
  knownProps(props: unknown, shape: ObjectShape, owner: string, noun: 'prop' | 'arg' = 'prop'): void {
    const [unknown] = unknownProps(props, shape);
    if (unknown === undefined) return;
    const at = unknown.parent === '' ? '' : `${unknown.parent}.`;
    const fix =
      unknown.suggestion !== undefined
        ? `did you mean ${at}${unknown.suggestion}?`
        : `remove it (known${at === '' ? '' : ` in ${unknown.parent}`}: ${unknown.known.join(', ')})`;
    this.fail(
      unknown.path,
      `${unknown.path} is not ${noun === 'arg' ? 'an' : 'a'} ${noun} of ${owner}; ${fix}`,
    );
  }

  integer(prop: string, value: unknown, min: number, max: number, fix: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(prop, `${prop} must be an integer from ${min} to ${max}, got ${show(value)}; ${fix}`);
    }
    return value;
  }

  /** A finite number from `min` to `max`, both inclusive. */
  between(prop: string, value: unknown, min: number, max: number, fix: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      this.fail(prop, `${prop} must be a number from ${min} to ${max}, got ${show(value)}; ${fix}`);
    }
    return value;
  }

  /** A finite number above `above` (exclusive) and at most `max`. */
  positive(prop: string, value: unknown, fix: string, max = Number.MAX_VALUE, above = 0): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= above || value > max) {
      const range =
        max === Number.MAX_VALUE ? `greater than ${above}` : `greater than ${above} and at most ${max}`;
      this.fail(prop, `${prop} must be a number ${range}, got ${show(value)}; ${fix}`);
    }
    return value;
  }

  string(prop: string, value: unknown, fix: string): string {
    if (typeof value !== 'string' || value.length === 0) {
      this.fail(prop, `${prop} must be a non-empty string, got ${show(value)}; ${fix}`);
    }
    return value;
  }

  record(prop: string, value: unknown): Readonly<Record<string, unknown>> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(prop, `${prop} must be an object, got ${show(value)}`);
    }
    return value as Record<string, unknown>;
  }

  labels(prop: string, value: unknown): Record<string, string> {
    const labels: Record<string, string> = {};
    for (const [key, v] of Object.entries(this.record(prop, value))) {
      if (!isQualifiedName(key)) {
        this.fail(
          prop,
          `${prop} has an invalid label key ${show(key)}; use an optional dns prefix and '/' then at most 63 alphanumerics, '-', '_' or '.'`,
        );
      }
      if (typeof v !== 'string' || !isLabelValue(v)) {
        this.fail(
          prop,
          `${prop}[${show(key)}] has an invalid label value ${show(v)}; use at most 63 alphanumerics, '-', '_' or '.', alphanumeric at both ends`,
        );
      }
      labels[key] = v;
    }
    return labels;
  }
}
