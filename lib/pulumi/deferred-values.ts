/**
 * Values of an InferenceService's args that usually come from other resources (a namespace, an
 * image reference, secret names, ingress hosts) may be Pulumi Inputs, known only when those
 * resources are. The shared pipeline checks and renders plain values, so each deferred value
 * stands in as a placeholder the checks accept (a DNS label, a host, a tagged image reference), and
 * the rendered objects get the real value back wherever its placeholder landed: the whole string,
 * or part of one. What the gate and the policy judge (resources, ports, the model) stays plain.
 */
import { randomBytes } from 'node:crypto';
import * as pulumi from '@pulumi/pulumi';
import { type InferenceServiceProps, isPlainObject } from '../core';
import { type KubeObject } from '../render';

/** The placeholder of one deferred value, and the value. */
interface Stand {
  readonly placeholder: string;
  readonly value: pulumi.Output<string>;
}

/** Props with placeholders for the deferred values, and the way back to the values. */
export interface DeferredValues {
  readonly props: InferenceServiceProps;
  /** The objects with every placeholder replaced by its value (an Output, or a string built from Outputs). */
  restore(objects: readonly KubeObject[]): KubeObject[];
}

/** The args that may be deferred, typed as Pulumi takes them. */
export interface DeferrableArgs {
  readonly namespace?: pulumi.Input<string>;
  readonly image: InferenceServiceProps['image'] | pulumi.Input<string>;
  readonly apiKey?: { readonly secretName: pulumi.Input<string>; readonly key?: string };
  readonly ingress?: {
    readonly hosts?: readonly pulumi.Input<string>[];
    readonly tls?: { readonly secretName?: pulumi.Input<string> };
  };
}

/** Whether `value` is known only later (an Output or a Promise). */
export function isDeferred(value: unknown): boolean {
  return pulumi.Output.isInstance(value) || value instanceof Promise;
}

/**
 * Replaces the deferred values of `args` by placeholders. Once the values are known (at `pulumi up`;
 * a preview may not know them), the props with the real values go through `check`, the same
 * validation the plain props had, and its error goes to `report`: a bad namespace from an Output
 * fails the update with the usual message.
 */
export function deferValues(
  args: DeferrableArgs & object,
  check: (props: InferenceServiceProps) => void,
  report: (message: string) => void,
): DeferredValues {
  const stands: Stand[] = [];
  const nonce = randomBytes(4).toString('hex');
  const stand = (value: unknown, form: (label: string) => string): string => {
    const placeholder = form(`deferred-${nonce}-${stands.length}`);
    stands.push({ placeholder, value: pulumi.output(value as pulumi.Input<string>) });
    return placeholder;
  };
  const label = (l: string) => l;
  const host = (l: string) => `${l}.modelfab.invalid`;
  const image = (l: string) => `modelfab.invalid/${l}:deferred`;
  const plain = <T>(value: T, form: (label: string) => string): T | string =>
    isDeferred(value) ? stand(value, form) : value;

  const props = {
    ...args,
    ...(args.namespace !== undefined ? { namespace: plain(args.namespace, label) } : {}),
    ...(isDeferred(args.image) ? { image: stand(args.image, image) } : {}),
    ...(args.apiKey ? { apiKey: { ...args.apiKey, secretName: plain(args.apiKey.secretName, label) } } : {}),
    ...(args.ingress
      ? {
          ingress: {
            ...args.ingress,
            ...(Array.isArray(args.ingress.hosts)
              ? { hosts: args.ingress.hosts.map((h: unknown) => plain(h, host)) }
              : {}),
            ...(args.ingress.tls?.secretName !== undefined
              ? { tls: { ...args.ingress.tls, secretName: plain(args.ingress.tls.secretName, label) } }
              : {}),
          },
        }
      : {}),
  } as unknown as InferenceServiceProps;
  if (stands.length === 0) return { props, restore: (objects) => [...objects] };

  // The values, once known, are checked; a failed check is reported through `report` (Pulumi's
  // log.error, which fails the update) rather than thrown, which would leave the resources that
  // wait on the values pending.
  const checked = pulumi.all(stands.map((s) => s.value)).apply((values) => {
    try {
      check(substitute(props, stands, (text) => withValues(text, stands, values)) as InferenceServiceProps);
    } catch (error) {
      report((error as Error).message);
    }
    return values;
  });
  const known = stands.map((s, i) => ({ ...s, value: checked.apply((values) => values[i]) }));
  return {
    props,
    restore: (objects) =>
      objects.map((o) => substitute(o, known, (text) => restoreString(text, known)) as KubeObject),
  };
}

/** `text` with each placeholder replaced by its known value. */
function withValues(text: string, stands: readonly Stand[], values: readonly string[]): string {
  return stands.reduce((t, s, i) => t.split(s.placeholder).join(values[i]), text);
}

/** `value` with every string that holds a placeholder replaced by `replace(string)`; keys stay plain. */
function substitute(value: unknown, stands: readonly Stand[], replace: (text: string) => unknown): unknown {
  const holds = (text: string) => stands.some((s) => text.includes(s.placeholder));
  if (typeof value === 'string') return holds(value) ? replace(value) : value;
  if (Array.isArray(value)) return value.map((v) => substitute(v, stands, replace));
  if (isPlainObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        if (holds(k)) {
          // A deferred value cannot name a key (only annotations would): a modelfab bug if it does.
          throw new Error(`modelfab: a deferred value landed in the object key ${JSON.stringify(k)}`);
        }
        return [k, substitute(v, stands, replace)];
      }),
    );
  }
  return value;
}

function restoreString(text: string, stands: readonly Stand[]): pulumi.Input<string> {
  const whole = stands.find((s) => s.placeholder === text);
  if (whole) return whole.value;
  const inside = stands.filter((s) => text.includes(s.placeholder));
  if (inside.length === 0) return text;
  return pulumi.all(inside.map((s) => s.value)).apply((values) => withValues(text, inside, values));
}
