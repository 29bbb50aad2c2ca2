import { type InferenceServiceSpec } from '../core';
import { CONTAINER_NAME } from './render-deployment';
import { type KubeObject } from './kube-object';

/**
 * The in-cluster URL of the service's Open Inference Protocol endpoint:
 * `http://<name>.<namespace>.svc.cluster.local:<port>`. The namespace is the one the Service was
 * created in (the spec's, or the engine's default when the spec has none); when no one knows it
 * (cdk8s without a namespace: the kubectl context's), `http://<name>:<port>`, which resolves from
 * the same namespace.
 */
export function inClusterUrl(spec: InferenceServiceSpec, namespace: string | undefined): string {
  return namespace === undefined
    ? `http://${spec.name}:${spec.port}`
    : `http://${spec.name}.${namespace}.svc.cluster.local:${spec.port}`;
}

/**
 * The objects with the server container's image replaced by `image`, for an engine that knows the
 * image only as a deferred value (Pulumi's pushed digest). Everything else is the same objects;
 * `T` is whatever the engine uses for a value it will know later.
 */
export function withServerImage<T>(objects: readonly KubeObject[], image: T): KubeObject[] {
  return objects.map((object) => {
    if (object.kind !== 'Deployment') return object;
    const spec = object.spec as { template: { spec: { containers: Array<{ name: string }> } } };
    const containers = spec.template.spec.containers.map((c) =>
      c.name === CONTAINER_NAME ? { ...c, image } : c,
    );
    return {
      ...object,
      spec: { ...spec, template: { ...spec.template, spec: { ...spec.template.spec, containers } } },
    };
  });
}
