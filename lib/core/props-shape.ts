/**
 * The shape of a props group, described once beside its interface: which keys exist, which are
 * objects, maps or lists, and an example value for each (what a fix suggests). Every reader
 * derives from it: the constructs reject unknown keys with the nearest known name
 * ({@link unknownProps}), and the Pulumi stack program checks and converts its config keys
 * (stacks/stack-config.ts). Value rules (ranges, quantities, names) stay with the resolvers, whose
 * messages say what each value means.
 */

/** The shape of one prop's value. */
export type PropShape =
  | { readonly kind: 'string'; readonly example: string }
  | { readonly kind: 'number'; readonly example: string }
  | { readonly kind: 'boolean'; readonly example: string }
  | ObjectShape
  | { readonly kind: 'map'; readonly values: PropShape; readonly exampleKey: string }
  | { readonly kind: 'list'; readonly items: PropShape }
  /** `true`/`false`, or an object of options. */
  | { readonly kind: 'flag-or-object'; readonly object: ObjectShape }
  /** A value only the engine knows (a construct, a resource): never walked. */
  | { readonly kind: 'opaque' };

/** An object with known fields. */
export interface ObjectShape {
  readonly kind: 'object';
  readonly fields: Readonly<Record<string, PropShape>>;
  /** Fields that must be set. */
  readonly required: readonly string[];
}

export const stringProp = (example: string): PropShape => ({ kind: 'string', example });
export const numberProp = (example: string): PropShape => ({ kind: 'number', example });
export const booleanProp = (example: string): PropShape => ({ kind: 'boolean', example });
export const mapProp = (values: PropShape, exampleKey: string): PropShape => ({
  kind: 'map',
  values,
  exampleKey,
});
export const listProp = (items: PropShape): PropShape => ({ kind: 'list', items });
export const opaqueProp: PropShape = { kind: 'opaque' };

/**
 * An object's fields. Given the props type it describes (`objectProp<GateProps>(…)`), the fields
 * must be exactly that type's keys: a prop added to an interface without its shape, or a shape
 * left behind when a prop is removed, fails to compile. An engine's args extend the shared props
 * by spreading their `fields`.
 */
export function objectProp<T = Record<string, unknown>>(
  fields: { readonly [K in keyof Required<T>]: PropShape },
  required: readonly (keyof T & string)[] = [],
): ObjectShape & { readonly fields: { readonly [K in keyof Required<T>]: PropShape } } {
  return { kind: 'object', fields, required };
}

/** A prop that is not in its shape, where it was found, and the nearest known name. */
export interface UnknownProp {
  /** Dotted path of the unknown key (`gate.latencyP99ms`, `networkPolicy.allowFrom[0].podLabel`). */
  readonly path: string;
  /** The object's path (`gate`), or '' at the top. */
  readonly parent: string;
  readonly key: string;
  /** The known key nearest to `key`, when one is close enough to be a typo. */
  readonly suggestion?: string;
  readonly known: readonly string[];
}

/**
 * Every key of `value` that `shape` does not know, depth first. Values that are not objects where
 * an object belongs are left to the resolvers, which say what they must be; `undefined` values are
 * ignored (an optional prop left out), and an engine's deferred values (a Pulumi Output) are not
 * walked.
 */
export function unknownProps(value: unknown, shape: PropShape, parent = ''): UnknownProp[] {
  const found: UnknownProp[] = [];
  const walk = (v: unknown, s: PropShape, at: string): void => {
    switch (s.kind) {
      case 'object':
      case 'flag-or-object': {
        const object = s.kind === 'object' ? s : s.object;
        if (!isPlainObject(v)) return;
        const known = Object.keys(object.fields);
        for (const [key, child] of Object.entries(v)) {
          const fieldShape = object.fields[key];
          const path = at === '' ? key : `${at}.${key}`;
          if (fieldShape === undefined) {
            const suggestion = nearestName(key, known);
            found.push({ path, parent: at, key, known, ...(suggestion ? { suggestion } : {}) });
          } else if (child !== undefined) {
            walk(child, fieldShape, path);
          }
        }
        return;
      }
      case 'map':
        if (!isPlainObject(v)) return;
        for (const [key, child] of Object.entries(v)) walk(child, s.values, `${at}[${JSON.stringify(key)}]`);
        return;
      case 'list':
        if (!Array.isArray(v)) return;
        v.forEach((item, i) => walk(item, s.items, `${at}[${i}]`));
        return;
      default:
        return;
    }
  };
  walk(value, shape, parent);
  return found;
}

/** A plain object literal (not an array, a class instance such as a construct, or a Pulumi Output). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The known name nearest to `name`: the same name in another case, else the one fewest edits away
 * (insertions, deletions, substitutions, swaps of neighbours), when that is at most a third of the
 * name's length (at least one edit). Undefined when nothing is that close.
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const sameCase = known.find((k) => k.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal string alignment distance: Levenshtein plus swaps of neighbouring characters. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
