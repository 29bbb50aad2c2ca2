import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelfabValidationError, resolveInferenceService } from '../lib/core';
import { inspectModel } from '../lib/model';
import {
  assertKnownWaivers,
  checkPolicy,
  formatPolicyViolation,
  type KubeObject,
  POLICY_RULE_IDS,
  renderInferenceService,
  selectorMatches,
} from '../lib/render';

const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');
const MODEL = inspectModel(IRIS);

/** A fresh, compliant set of objects (deep copies, safe to mutate). */
function compliantObjects(): any[] {
  const spec = resolveInferenceService(
    { model: IRIS, image: 'ghcr.io/acme/iris:1.0.0', ingress: { hosts: ['iris.example.com'] } },
    { constructPath: 'test/iris', id: 'iris', defaultNamespace: 'ml' },
  );
  return structuredClone(renderInferenceService(spec, MODEL));
}

const byKind = (objects: any[], kind: string) => objects.find((o) => o.kind === kind);
const pod = (objects: any[]) => byKind(objects, 'Deployment').spec.template.spec;
const server = (objects: any[]) => pod(objects).containers[0];

describe('checkPolicy', () => {
  it('finds nothing wrong with what renderInferenceService renders', () => {
    expect(checkPolicy(compliantObjects())).toEqual({ violations: [], waived: [] });
  });

  const mutations: Array<[rule: string, mutate: (objects: any[]) => void]> = [
    ['pss-host-namespaces', (o) => (pod(o).hostNetwork = true)],
    ['pss-privileged', (o) => (server(o).securityContext.privileged = true)],
    ['pss-host-ports', (o) => (server(o).ports[0].hostPort = 8080)],
    ['pss-volume-types', (o) => pod(o).volumes.push({ name: 'host', hostPath: { path: '/var/run' } })],
    ['pss-privilege-escalation', (o) => delete server(o).securityContext.allowPrivilegeEscalation],
    ['pss-run-as-non-root', (o) => (server(o).securityContext.runAsNonRoot = false)],
    ['pss-run-as-non-root', (o) => (server(o).securityContext.runAsUser = 0)],
    ['pss-seccomp', (o) => (pod(o).securityContext.seccompProfile = { type: 'Unconfined' })],
    ['pss-capabilities', (o) => (server(o).securityContext.capabilities = { drop: ['NET_RAW'] })],
    ['pss-capabilities', (o) => (server(o).securityContext.capabilities.add = ['SYS_ADMIN'])],
    ['pss-selinux', (o) => (pod(o).securityContext.seLinuxOptions = { user: 'system_u' })],
    ['pss-proc-mount', (o) => (server(o).securityContext.procMount = 'Unmasked')],
    ['pss-sysctls', (o) => (pod(o).securityContext.sysctls = [{ name: 'kernel.msgmax', value: '1' }])],
    ['pss-apparmor', (o) => (server(o).securityContext.appArmorProfile = { type: 'Unconfined' })],
    ['read-only-root', (o) => (server(o).securityContext.readOnlyRootFilesystem = false)],
    ['resources-set', (o) => delete server(o).resources.limits],
    ['image-tag', (o) => (server(o).image = 'ghcr.io/acme/iris:latest')],
    ['image-tag', (o) => (server(o).image = 'ghcr.io/acme/iris')],
    ['probes-distinct', (o) => (server(o).livenessProbe = structuredClone(server(o).readinessProbe))],
    ['probes-distinct', (o) => delete server(o).livenessProbe],
    ['pdb-present', (o) => o.splice(o.indexOf(byKind(o, 'PodDisruptionBudget')), 1)],
    ['pdb-present', (o) => (byKind(o, 'PodDisruptionBudget').metadata.namespace = 'other')],
    ['network-policy', (o) => o.splice(o.indexOf(byKind(o, 'NetworkPolicy')), 1)],
    [
      'network-policy',
      (o) => (byKind(o, 'NetworkPolicy').spec.podSelector = { matchLabels: { app: 'someone-else' } }),
    ],
    ['hpa-no-fixed-replicas', (o) => (byKind(o, 'Deployment').spec.replicas = 2)],
    [
      'one-autoscaler',
      (o) =>
        o.push({
          apiVersion: 'keda.sh/v1alpha1',
          kind: 'ScaledObject',
          metadata: { name: 'iris', namespace: 'ml' },
          spec: { scaleTargetRef: { name: 'iris' }, triggers: [] },
        }),
    ],
    ['topology-spread', (o) => delete pod(o).topologySpreadConstraints],
  ];

  it('covers every rule in the catalog', () => {
    expect(new Set(mutations.map(([rule]) => rule))).toEqual(new Set(POLICY_RULE_IDS));
  });

  it.each(mutations)('%s fires, and only it, when broken', (rule, mutate) => {
    const objects = compliantObjects();
    mutate(objects);
    const { violations } = checkPolicy(objects);
    expect(violations.map((v) => v.rule)).toEqual([rule]);
    expect(violations[0].object).toMatch(/^Deployment\/ml\/iris$/);
  });

  it('checks init containers too, with the pod-level security context applying to them', () => {
    const objects = compliantObjects();
    pod(objects).initContainers = [{ name: 'fetch', image: 'busybox:1.36' }];
    const rules = new Set(checkPolicy(objects).violations.map((v) => v.rule));
    // runAsNonRoot and seccomp are set on the pod, so they hold for the init container as well.
    expect(rules).toEqual(
      new Set(['pss-privilege-escalation', 'pss-capabilities', 'read-only-root', 'resources-set']),
    );
  });

  it('renders objects that share no mutable state', () => {
    const objects = compliantObjects();
    byKind(objects, 'PodDisruptionBudget').metadata.labels.extra = 'x';
    expect(byKind(objects, 'NetworkPolicy').metadata.labels.extra).toBeUndefined();
  });

  it('accepts anti-affinity in place of topology spread, and a digest in place of a tag', () => {
    const objects = compliantObjects();
    delete pod(objects).topologySpreadConstraints;
    pod(objects).affinity = { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } };
    server(objects).image = `ghcr.io/acme/iris@sha256:${'a'.repeat(64)}`;
    expect(checkPolicy(objects).violations).toEqual([]);
  });

  it('moves a waived rule from violations to waived, with the reason', () => {
    const objects = compliantObjects();
    server(objects).image = 'ghcr.io/acme/iris:latest';
    const result = checkPolicy(objects, { 'image-tag': 'dev cluster' });
    expect(result.violations).toEqual([]);
    expect(result.waived).toEqual([
      expect.objectContaining({ rule: 'image-tag', reason: 'dev cluster', object: 'Deployment/ml/iris' }),
    ]);
  });

  it('formats a violation with the rule id, the object, the detail, the fix and the waiver syntax', () => {
    const objects = compliantObjects();
    server(objects).securityContext.readOnlyRootFilesystem = false;
    const [violation] = checkPolicy(objects).violations;
    expect(formatPolicyViolation(violation)).toBe(
      'policy read-only-root failed on Deployment/ml/iris: container "server" has readOnlyRootFilesystem false; ' +
        'set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the process writes' +
        " (or waive it: policy: { waive: { 'read-only-root': '<reason>' } })",
    );
  });
});

describe('assertKnownWaivers', () => {
  it('accepts known ids and rejects unknown ones, naming the construct and the known ids', () => {
    expect(() => assertKnownWaivers({ 'image-tag': 'x', 'topology-spread': 'y' }, 'a/b')).not.toThrow();
    expect(() => assertKnownWaivers({ 'image-tags': 'x' }, 'a/b')).toThrow(ModelfabValidationError);
    expect(() => assertKnownWaivers({ 'image-tags': 'x' }, 'a/b')).toThrow(
      /^\[a\/b\] policy\.waive names unknown rule "image-tags"; known rules: pss-/,
    );
  });
});

describe('selectorMatches', () => {
  const labels = { app: 'iris', tier: 'serving' };
  it.each([
    [{ matchLabels: { app: 'iris' } }, true],
    [{ matchLabels: { app: 'other' } }, false],
    [{}, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['serving', 'batch'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['serving'] }] }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    [{ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    [{ matchExpressions: [{ key: 'app', operator: 'Bogus' }] }, false],
  ])('%j → %s', (selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });

  it('an absent selector selects nothing', () => {
    expect(selectorMatches(undefined, labels)).toBe(false);
  });
});

describe('renderInferenceService', () => {
  it('is pure: the same spec and model give identical objects', () => {
    expect(compliantObjects()).toEqual(compliantObjects());
  });

  it('rejects an unknown waiver before rendering', () => {
    const spec = resolveInferenceService(
      { model: IRIS, image: 'ghcr.io/acme/iris:1.0.0', policy: { waive: { nope: 'x' } } },
      { constructPath: 'test/iris', id: 'iris' },
    );
    expect(() => renderInferenceService(spec, MODEL)).toThrow(
      /\[test\/iris\] policy\.waive names unknown rule "nope"/,
    );
  });

  it('returns objects the adapters can map without deciding anything', () => {
    const objects: KubeObject[] = compliantObjects();
    for (const object of objects) {
      expect(object.metadata.name).toBe('iris');
      expect(typeof object.apiVersion).toBe('string');
    }
  });
});
