import { ApiObject, Chart } from 'cdk8s';
import { Construct } from 'constructs';
import { type InferenceServiceProps, type InferenceServiceSpec, resolveInferenceService } from '../core';
import { inspectModelFor, type ModelInfo } from '../model';
import { checkPolicy, formatPolicyViolation, type KubeObject, renderInferenceService } from '../render';

export type { InferenceServiceProps } from '../core';

/**
 * An ONNX model served on Kubernetes: ServiceAccount, Deployment, Service, HorizontalPodAutoscaler,
 * PodDisruptionBudget, NetworkPolicy and optional Ingress, rendered by `lib/render`.
 *
 * Props are validated and the model file is inspected when the construct is created, so a bad
 * value fails before anything is synthesized. The policy checks (Pod Security Standards
 * "restricted" and modelfab's production rules) run as a validation at synth.
 *
 * @example
 * new InferenceService(chart, 'iris', {
 *   model: 'model/iris.onnx',
 *   image: 'ghcr.io/acme/iris:1.0.0',
 *   resources: { cpu: '1', memory: '512Mi' },
 *   autoscaling: { minReplicas: 2, maxReplicas: 10, cpuUtilization: 70 },
 * });
 */
export class InferenceService extends Construct {
  /** The resolved props, every default applied. */
  readonly spec: InferenceServiceSpec;
  /** What inspecting the model file found (digest, signature, size). */
  readonly model: ModelInfo;
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
    const objects = renderInferenceService(this.spec, this.model);
    this.apiObjects = objects.map((object) => new ApiObject(this, object.kind, object));
    this.node.addValidation({ validate: () => policyErrors(objects, this.spec.policyWaivers) });
  }
}

function policyErrors(objects: readonly KubeObject[], waivers: Readonly<Record<string, string>>): string[] {
  return checkPolicy(objects, waivers).violations.map(formatPolicyViolation);
}
