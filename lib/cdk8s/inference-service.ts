import { ApiObject, App, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { type CostPlan, type InferenceServiceProps, type InferenceServiceSpec } from '../core';
import { type GateOutcome, type GateReport } from '../gate';
import { type ModelInfo } from '../model';
import { prepareInferenceService } from '../pipeline';
import { type KubeObject, inClusterUrl, serviceProblems } from '../render';

export type { InferenceServiceProps } from '../core';

/**
 * An ONNX model served on Kubernetes: ServiceAccount, Deployment, Service, HorizontalPodAutoscaler,
 * PodDisruptionBudget, NetworkPolicy and optional Ingress, rendered by `lib/render`.
 *
 * Props are validated and the model file is inspected when the construct is created, so a bad
 * value (or a prop modelfab does not know) fails before anything is synthesized. With `gate`, the
 * model is benchmarked then too (in a child process, or from the cache) and its reports are
 * written beside the manifests. Policy checks, gate verdicts and the capacity plan are
 * validations: synth fails with every problem listed. The policy checks the objects as they are
 * synthesized, after any patch made through the escape hatch (`objects`, `addJsonPatch`).
 *
 * @example
 * new InferenceService(chart, 'iris', {
 *   model: 'model/iris.onnx',
 *   image: 'ghcr.io/acme/iris:1.0.0',
 *   resources: { cpu: '1', memory: '512Mi' },
 *   gate: { latencyP99Ms: 20, minThroughputRps: 300, accuracy: { dataset: 'model/eval.jsonl', min: 0.9 } },
 *   slo: { targetRps: 2000 },
 * });
 */
export class InferenceService extends Construct {
  /** The resolved props, every default applied. */
  readonly spec: InferenceServiceSpec;
  /** What inspecting the model file found (digest, signature, size). */
  readonly model: ModelInfo;
  /** The name of every object (and the Service's DNS name). */
  readonly name: string;
  /** The namespace of the objects; undefined when neither the props nor the chart name one. */
  readonly namespace: string | undefined;
  /**
   * The Open Inference Protocol endpoint: `http://<name>.<namespace>.svc.cluster.local:<port>`, or
   * `http://<name>:<port>` (which resolves from the same namespace) when the namespace is not known.
   */
  readonly url: string;
  /** `passed`, `failed`, `skipped` (`MODELFAB_GATE=skip`), or `none` without a gate. */
  readonly gateStatus: GateOutcome['status'] | 'none';
  /** The gate's report; undefined without a gate or when it was skipped. */
  readonly gateReport: GateReport | undefined;
  /**
   * What the service costs on its node (placement or nodeType): per hour at the planned replicas,
   * and per million inferences at the gate's measured capacity. Undefined without a node to price it.
   */
  readonly cost: CostPlan | undefined;
  /** The Kubernetes objects, in apply order: the escape hatch (`addJsonPatch`). */
  readonly objects: readonly ApiObject[];

  constructor(scope: Construct, id: string, props: InferenceServiceProps) {
    super(scope, id);
    const chartNamespace = Chart.of(this).namespace;
    const prepared = prepareInferenceService(props, {
      constructPath: this.node.path,
      id,
      ...(chartNamespace !== undefined ? { defaultNamespace: chartNamespace } : {}),
      reports: { dir: App.of(this).outdir, name: this.node.path.replace(/\//g, '-') },
    });
    const { spec, gate } = prepared;
    this.spec = spec;
    this.model = prepared.model;
    this.name = spec.name;
    this.namespace = spec.namespace;
    this.url = inClusterUrl(spec, spec.namespace);
    this.gateStatus = gate?.status ?? 'none';
    this.gateReport = gate?.status === 'skipped' ? undefined : gate?.report;
    this.cost = prepared.cost;
    const stable = prepared.objects.map((object) => new ApiObject(this, object.kind, object));
    // The canary's candidate: a service of its own, its objects `canary-<kind>`.
    const { canary } = prepared;
    const candidate = (canary?.objects ?? []).map(
      (object) => new ApiObject(this, `canary-${object.kind}`, object),
    );
    this.objects = [...stable, ...candidate];
    const json = (objects: readonly ApiObject[]) => objects.map((object) => object.toJson() as KubeObject);
    // Checked on the objects as synthesized: a patch through the escape hatch is checked too.
    this.node.addValidation({
      validate: () =>
        serviceProblems(
          spec,
          json(stable),
          gate,
          canary
            ? { spec: canary.spec, objects: json(candidate), ...(canary.gate ? { gate: canary.gate } : {}) }
            : undefined,
        ),
    });
  }
}
