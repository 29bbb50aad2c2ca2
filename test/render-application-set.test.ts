/**
 * The Argo CD ApplicationSet that rolls a MultiCloudDeployment out wave by wave, validated against
 * the schema `@kubernetes-models/argo-cd` generates from Argo CD's CRD.
 */
import { describe, expect, it } from 'vitest';
import {
  type ApplicationSetSpec,
  renderApplicationSet,
  WAVE_LABEL,
} from '../lib/render/render-application-set';
import { validateAgainstSchema } from './support/kube-schema';

const SPEC: ApplicationSetSpec = {
  name: 'iris',
  namespace: 'argocd',
  project: 'ml',
  repoURL: 'https://github.com/acme/infra.git',
  path: 'dist/iris',
  targetRevision: 'main',
  destinationNamespace: 'ml',
  // Listed out of wave order: the steps follow the waves, the elements the targets.
  targets: [
    { name: 'us', cluster: 'prod-us', wave: 2 },
    { name: 'canary', cluster: 'prod-eu', wave: 0 },
    { name: 'eu', cluster: 'prod-eu-2', wave: 1 },
    { name: 'ap', cluster: 'prod-ap', wave: 2 },
  ],
};

describe('renderApplicationSet', () => {
  const set = renderApplicationSet(SPEC);

  it("validates against Argo CD's ApplicationSet schema", async () => {
    await validateAgainstSchema(set);
  });

  it('has one RollingSync step per wave, in ascending order, selecting on the wave label', () => {
    expect(set.spec.strategy).toEqual({
      type: 'RollingSync',
      rollingSync: {
        steps: ['0', '1', '2'].map((wave) => ({
          matchExpressions: [{ key: WAVE_LABEL, operator: 'In', values: [wave] }],
        })),
      },
    });
  });

  it('lists one element per target with its cluster and wave', () => {
    expect(set.spec.generators).toEqual([
      {
        list: {
          elements: [
            { name: 'us', wave: '2', clusterName: 'prod-us' },
            { name: 'canary', wave: '0', clusterName: 'prod-eu' },
            { name: 'eu', wave: '1', clusterName: 'prod-eu-2' },
            { name: 'ap', wave: '2', clusterName: 'prod-ap' },
          ],
        },
      },
    ]);
  });

  it("templates each Application: the target's file, its cluster, the wave label, automated sync", () => {
    expect(set.metadata).toEqual({
      name: 'iris',
      namespace: 'argocd',
      labels: { 'app.kubernetes.io/managed-by': 'modelfab' },
    });
    expect(set.spec.goTemplate).toBe(true);
    expect(set.spec.goTemplateOptions).toEqual(['missingkey=error']);
    expect(set.spec.template).toEqual({
      metadata: {
        name: 'iris-{{.name}}',
        labels: { [WAVE_LABEL]: '{{.wave}}', 'app.kubernetes.io/managed-by': 'modelfab' },
      },
      spec: {
        project: 'ml',
        source: {
          repoURL: 'https://github.com/acme/infra.git',
          path: 'dist/iris',
          targetRevision: 'main',
          directory: { include: '{{.name}}.k8s.yaml' },
        },
        destination: { name: '{{.clusterName}}', namespace: 'ml' },
        syncPolicy: {
          automated: { prune: true, selfHeal: true },
          syncOptions: ['CreateNamespace=false'],
        },
      },
    });
  });

  it('names every label value the steps select, so no Application is left out of the rollout', () => {
    const labelValues = new Set(
      (set.spec.generators[0]?.list?.elements as Array<{ wave: string }>).map((element) => element.wave),
    );
    const stepValues = new Set(
      set.spec.strategy?.rollingSync?.steps?.flatMap((step) => step.matchExpressions?.[0]?.values ?? []),
    );
    expect(stepValues).toEqual(labelValues);
  });

  it('deploys by server URL, and to a mix of names and URLs with the other left empty', async () => {
    const byServer = renderApplicationSet({
      ...SPEC,
      targets: [{ name: 'local', cluster: 'https://kubernetes.default.svc', wave: 0 }],
    });
    expect(byServer.spec.template.spec.destination).toEqual({ server: '{{.server}}', namespace: 'ml' });
    expect(byServer.spec.generators[0]?.list?.elements).toEqual([
      { name: 'local', wave: '0', server: 'https://kubernetes.default.svc' },
    ]);
    await validateAgainstSchema(byServer);

    const mixed = renderApplicationSet({
      ...SPEC,
      targets: [
        { name: 'local', cluster: 'https://kubernetes.default.svc', wave: 0 },
        { name: 'eu', cluster: 'prod-eu', wave: 1 },
      ],
    });
    expect(mixed.spec.template.spec.destination).toEqual({
      name: '{{.clusterName}}',
      server: '{{.server}}',
      namespace: 'ml',
    });
    expect(mixed.spec.generators[0]?.list?.elements).toEqual([
      { name: 'local', wave: '0', clusterName: '', server: 'https://kubernetes.default.svc' },
      { name: 'eu', wave: '1', clusterName: 'prod-eu', server: '' },
    ]);
    await validateAgainstSchema(mixed);
  });

  it('fails validation when the template lacks its project (the schema is really checked)', async () => {
    const broken = {
      ...set,
      spec: {
        ...set.spec,
        template: { ...set.spec.template, spec: { ...set.spec.template.spec, project: undefined } },
      },
    };
    await expect(validateAgainstSchema(broken)).rejects.toThrow(/project/);
  });
});
