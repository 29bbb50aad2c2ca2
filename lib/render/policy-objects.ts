/**
 * How the policy rules see rendered objects: a rule's shape and its findings, the pod templates of
 * workload objects, their containers, label selectors, and helpers that run a check per container
 * or per pod. Pure functions.
 */
import type { IIoK8sApiCoreV1Container } from 'kubernetes-models/v1/Container' with {
  'resolution-mode': 'import',
};
import type { IIoK8sApiCoreV1PodSpec } from 'kubernetes-models/v1/PodSpec' with {
  'resolution-mode': 'import',
};
import type { IIoK8sApiCoreV1Probe } from 'kubernetes-models/v1/Probe' with { 'resolution-mode': 'import' };
import { show } from '../core';
import { type KubeObject } from './kube-object';

export type Container = IIoK8sApiCoreV1Container;
export type PodSpec = IIoK8sApiCoreV1PodSpec;

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

/** A pod template found in a workload object. */
export interface PodTemplate {
  readonly object: KubeObject;
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: PodSpec;
}

/** One object failing one rule. */
export interface PolicyFinding {
  readonly object: KubeObject;
  /** What is wrong, lower-case, with the offending value. */
  readonly detail: string;
}

export interface PolicyRule {
  readonly id: string;
  /** What the rule requires. */
  readonly title: string;
  /** How to comply. */
  readonly fix: string;
  readonly check: (objects: readonly KubeObject[]) => PolicyFinding[];
}

export const WORKLOAD_TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export function dig(value: unknown, keys: readonly string[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

export function podTemplates(objects: readonly KubeObject[]): PodTemplate[] {
  const templates: PodTemplate[] = [];
  for (const object of objects) {
    if (object.kind === 'Pod') {
      templates.push({ object, labels: object.metadata.labels ?? {}, spec: (object.spec ?? {}) as PodSpec });
      continue;
    }
    const templatePath = WORKLOAD_TEMPLATE_PATHS[object.kind];
    if (!templatePath) continue;
    const template = dig(object, templatePath) as
      { metadata?: { labels?: Record<string, string> }; spec?: PodSpec } | undefined;
    templates.push({
      object,
      labels: template?.metadata?.labels ?? {},
      spec: template?.spec ?? { containers: [] },
    });
  }
  return templates;
}

export function allContainers(spec: PodSpec): Container[] {
  return [
    ...(spec.initContainers ?? []),
    ...(spec.containers ?? []),
    ...((spec.ephemeralContainers ?? []) as Container[]),
  ];
}

/** Whether a label selector selects these labels (matchLabels and matchExpressions, as the API server does). */
export function selectorMatches(
  selector: LabelSelector | undefined,
  labels: Readonly<Record<string, string>>,
): boolean {
  if (!selector) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    const ok =
      operator === 'In'
        ? has && values.includes(labels[key])
        : operator === 'NotIn'
          ? !has || !values.includes(labels[key])
          : operator === 'Exists'
            ? has
            : operator === 'DoesNotExist'
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}

export function sameNamespace(a: KubeObject, b: KubeObject): boolean {
  return (a.metadata.namespace ?? '') === (b.metadata.namespace ?? '');
}

/** A rule evaluated per container of every pod template. */
export function perContainer(check: (container: Container, pod: PodSpec) => string | undefined) {
  return (objects: readonly KubeObject[]): PolicyFinding[] =>
    podTemplates(objects).flatMap(({ object, spec }) =>
      allContainers(spec).flatMap((container) => {
        const detail = check(container, spec);
        return detail === undefined
          ? []
          : [{ object, detail: `container ${show(container.name)} ${detail}` }];
      }),
    );
}

/** A rule evaluated per pod template. */
export function perPod(check: (template: PodTemplate, objects: readonly KubeObject[]) => string | undefined) {
  return (objects: readonly KubeObject[]): PolicyFinding[] =>
    podTemplates(objects).flatMap((template) => {
      const detail = check(template, objects);
      return detail === undefined ? [] : [{ object: template.object, detail }];
    });
}

export function probeHandler(probe: IIoK8sApiCoreV1Probe): string {
  return JSON.stringify({
    httpGet: probe.httpGet,
    tcpSocket: probe.tcpSocket,
    exec: probe.exec,
    grpc: probe.grpc,
  });
}
