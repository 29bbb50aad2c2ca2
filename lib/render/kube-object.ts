/** A Kubernetes object as plain JSON, the renderers' output and the adapters' input. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

/** `Kind/name`, or `Kind/namespace/name`, for messages. */
export function describeObject(object: KubeObject): string {
  const ns = object.metadata.namespace;
  return ns ? `${object.kind}/${ns}/${object.metadata.name}` : `${object.kind}/${object.metadata.name}`;
}

/**
 * Views an object typed with its Kubernetes schema interface (which rejects unknown fields at
 * compile time) as a plain KubeObject.
 */
export function asKubeObject(object: {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: object;
}): KubeObject {
  return object as unknown as KubeObject;
}
