/**
 * Config keys and commands in Pulumi's own syntax: `modelfab:gate.accuracy.min`, and the
 * `pulumi config set|rm` line that sets or removes one, quoted for a shell.
 */
import { type PropShape } from '../lib/core';

/** The config namespace the program reads: the project's name in `Pulumi.yaml`. */
export const CONFIG_NAMESPACE = 'modelfab';

/** A config key's shape: a prop's, or a secret read with `config.requireSecret`. */
export type Shape = PropShape | { readonly kind: 'secret' };

export type Segment = string | number;

/** `modelfab:gate.accuracy.min`, `modelfab:ingress.hosts[0]`, `modelfab:labels["app.kubernetes.io/part-of"]`. */
export function configKey(segments: readonly Segment[]): string {
  const [top, ...rest] = segments;
  return `${CONFIG_NAMESPACE}:${String(top)}${rest
    .map((s) =>
      typeof s === 'number'
        ? `[${s}]`
        : /^[A-Za-z_][A-Za-z0-9_]*$/.test(s)
          ? `.${s}`
          : `[${JSON.stringify(s)}]`,
    )
    .join('')}`;
}

/** A shell word: quoted unless it is plain. */
export function word(value: string): string {
  // A leading ~ stays unquoted, so the shell expands it to the home directory.
  return /^~?[A-Za-z0-9_./:@%+=,-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The command that sets the scalar at `segments` to `example`. */
export function setCommand(segments: readonly Segment[], example: string): string {
  return segments.length === 1
    ? `pulumi config set ${configKey(segments)} ${word(example)}`
    : `pulumi config set --path ${word(configKey(segments))} ${word(example)}`;
}

/** The command that sets some field under `segments`, shaped as `shape`. */
export function setSomething(segments: readonly Segment[], shape: Shape): string {
  switch (shape.kind) {
    case 'string':
    case 'number':
    case 'boolean':
      return setCommand(segments, shape.example);
    case 'object': {
      const field = shape.required?.[0] ?? Object.keys(shape.fields)[0];
      return setSomething([...segments, field], shape.fields[field]);
    }
    case 'map':
      return setSomething([...segments, shape.exampleKey], shape.values);
    case 'list':
      return setSomething([...segments, 0], shape.items);
    case 'flag-or-object':
      return setCommand(segments, 'true');
    case 'secret':
      return `pulumi config set --secret ${configKey(segments)}`;
    case 'opaque':
      return removeCommand(segments); // no stack key is opaque: the program passes such values itself
  }
}

/** The command that removes the key at `segments`. */
export function removeCommand(segments: readonly Segment[]): string {
  return segments.length === 1
    ? `pulumi config rm ${configKey(segments)}`
    : `pulumi config rm --path ${word(configKey(segments))}`;
}

/** What a value of `shape` is, for messages. */
export function describe(shape: Shape): string {
  switch (shape.kind) {
    case 'object':
      return `an object with ${Object.keys(shape.fields).join(', ')}`;
    case 'map':
      return 'an object of names to values';
    case 'list':
      return 'a list';
    case 'flag-or-object':
      return `true, false or an object with ${Object.keys(shape.object.fields).join(', ')}`;
    default:
      return `a ${shape.kind}`;
  }
}
