import { ApiObject, App, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { type InferenceServiceProps, type InferenceServiceSpec, resolveInferenceService } from '../core';
import { gateOutcomeSync, type GateOutcome, writeGateReports } from '../gate';
import { inspectModelFor, type ModelInfo } from '../model';
import { renderInferenceService, serviceProblems } from '../render';

export type { InferenceServiceProps } from '../core';

/**
 * An ONNX model served on Kubernetes: ServiceAccount, Deployment, Service, HorizontalPodAutoscaler,
 * PodDisruptionBudget, NetworkPolicy and optional Ingress, rendered by `lib/render`.
 *
 * Props are validated and the model file is inspected when the construct is created, so a bad
 * value fails before anything is synthesized. With `gate`, the model is benchmarked then too (in
 * a child process, or from the cache) and its reports are written beside the manifests. Policy
 * checks, gate verdicts and the capacity plan are validations: synth fails with every problem listed.
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
  /** The gate's outcome and report, when a gate is declared. */
  readonly gate?: GateOutcome;
  /** The Kubernetes objects, in apply order. */
  readonly apiObjects: readonly ApiObject[];
  /** The name of every object (and the Service's DNS name). */
  readonly name: string;

  constructor(scope: Construct, id: string, props: InferenceServiceProps) {
    super(scope, id);
    const chartNamespace = Chart.of(this).namespace;
    this.spec = resolveInferenceService(props, {
      constructPath: this.node.path,
      id,
      ...(chartNamespace !== undefined ? { defaultNamespace: chartNamespace } : {}),
    });
    this.name = this.spec.name;
    this.model = inspectModelFor(this.node.path, this.spec.modelPath);
    if (this.spec.gate) {
      this.gate = gateOutcomeSync({
        constructPath: this.node.path,
        modelName: this.spec.modelName,
        model: this.model,
        gate: this.spec.gate,
        ...(this.spec.slo ? { slo: this.spec.slo } : {}),
        resources: this.spec.resources.limits,
      });
      if (this.gate.status !== 'skipped') {
        writeGateReports(App.of(this).outdir, this.node.path.replace(/\//g, '-'), this.gate.report);
      }
    }
    const objects = renderInferenceService(this.spec, this.model, this.gate);
    this.apiObjects = objects.map((object) => new ApiObject(this, object.kind, object));
    this.node.addValidation({
      validate: () => serviceProblems(this.spec, objects, this.gate),
    });
  }
}
