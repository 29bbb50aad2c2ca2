import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import { Construct } from 'constructs';
import {
  type AutoscaledGpuPoolProps,
  type GpuPoolSpec,
  type Placement,
  poolPlacement,
  PropsChecker,
  resolveGpuPool,
} from '../core';
import { gpuPoolProblems, type KubeObject, renderGpuPool } from '../render';

export type { AutoscaledGpuPoolProps } from '../core';

/**
 * GPU nodes that come when GPU pods wait and go when they are gone, rendered by `lib/render`:
 * - `karpenter` (AWS): an EC2NodeClass and a NodePool (two, spot first, when both capacity types
 *   are asked for), tainted so that only pods placed on the pool land there, and the NVIDIA device
 *   plugin on those nodes;
 * - `gke`: a ComputeClass GKE's node auto-provisioning creates GPU node pools for (GKE runs the
 *   device plugin itself).
 *
 * An EKS managed node group is an AWS resource, not a Kubernetes object: it is the Pulumi
 * component's only, and an error here.
 *
 * Props are validated when the construct is created; the policy check runs over the objects as
 * synthesized (after any patch through `objects`), waiving only the device plugin's recorded
 * exceptions. A service asks for the pool's GPUs with `placement()`.
 *
 * @example
 * const pool = new AutoscaledGpuPool(chart, 'gpu', {
 *   gpu: 'a10g',
 *   maxGpus: 8,
 *   karpenter: { clusterName: 'prod', nodeRole: 'KarpenterNodeRole-prod' },
 * });
 * new InferenceService(chart, 'detector', { ..., placement: pool.placement({ gpus: 1 }) });
 */
export class AutoscaledGpuPool extends Construct {
  /** The resolved props, every default applied. */
  readonly spec: GpuPoolSpec;
  /** The pool's name: its NodePool's and EC2NodeClass's, or its ComputeClass's. */
  readonly name: string;
  /** The Kubernetes objects, in apply order: the escape hatch (`addJsonPatch`). */
  readonly objects: readonly ApiObject[];

  constructor(scope: Construct, id: string, props: AutoscaledGpuPoolProps) {
    super(scope, id);
    this.spec = resolveGpuPool(new PropsChecker(this.node.path), id, props, 'cdk8s');
    this.name = this.spec.name;
    for (const warning of this.spec.warnings)
      process.stderr.write(`modelfab: [${this.node.path}] warning: ${warning}\n`);
    const chartNamespace = Chart.of(this).namespace;
    this.objects = renderGpuPool(this.spec).map(({ role, object, clusterScoped }) => {
      const apiObject = new ApiObject(this, role, object);
      // cdk8s gives every object the chart's namespace; a cluster-scoped kind has none.
      if (clusterScoped && chartNamespace !== undefined) {
        apiObject.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
      }
      return apiObject;
    });
    this.node.addValidation({
      validate: () => gpuPoolProblems(this.objects.map((object) => object.toJson() as KubeObject)),
    });
  }

  /**
   * Where a service's pods go on this pool and what each asks of it; pass it to InferenceService's
   * `placement`.
   * @param options.gpus GPUs each pod asks for (a divisor of the nodes' GPUs). @default 1
   */
  placement(options: { readonly gpus?: number } = {}): Placement {
    return poolPlacement(new PropsChecker(this.node.path), this.spec, options);
  }
}
