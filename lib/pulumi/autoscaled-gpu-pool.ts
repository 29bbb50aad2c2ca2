import * as pulumi from '@pulumi/pulumi';
import {
  type AutoscaledGpuPoolProps,
  type GpuPoolSpec,
  type Placement,
  poolPlacement,
  PropsChecker,
  resolveGpuPool,
} from '../core';
import { formatServiceProblems, gpuPoolProblems, type KubeObject, renderGpuPool } from '../render';
import { namedKubernetesResource } from './kubernetes-resource';

export type { AutoscaledGpuPoolProps } from '../core';

/**
 * GPU nodes that Karpenter launches on AWS, as a Pulumi component: the same props and the same
 * objects as the cdk8s AutoscaledGpuPool (rendered by `lib/render`): an EC2NodeClass and one or two
 * NodePools (`karpenter.sh/v1`, as CustomResources), and the NVIDIA device plugin, each with
 * `{ parent: this }`, so a provider given in the options applies to all of them.
 *
 * Props are checked and the policy run in the constructor: a bad value or a violation throws there,
 * before anything is registered.
 *
 * Children: `<name>-node-class`, `<name>-node-pool` (with both capacity types, `<name>-spot-node-pool`
 * and `<name>-on-demand-node-pool`), `<name>-device-plugin-config` (when GPUs are shared),
 * `<name>-device-plugin`, `<name>-device-plugin-network-policy`.
 */
export class AutoscaledGpuPool extends pulumi.ComponentResource {
  /** The resolved props, every default applied. */
  readonly spec: GpuPoolSpec;
  /** The pool's name: its EC2NodeClass's and NodePool's, and its nodes' `modelfab.dev/pool` label. */
  readonly name: string;
  /** The Kubernetes objects as rendered, in apply order. */
  readonly objects: readonly KubeObject[];

  constructor(name: string, props: AutoscaledGpuPoolProps, opts?: pulumi.ComponentResourceOptions) {
    // Checked before anything is registered, like the cdk8s construct's constructor.
    const spec = resolveGpuPool(new PropsChecker(name), name, props);
    const rendered = renderGpuPool(spec);
    const problems = gpuPoolProblems(rendered.map(({ object }) => object));
    if (problems.length > 0) throw new Error(formatServiceProblems(name, problems));
    super('modelfab:index:AutoscaledGpuPool', name, props, opts);
    this.spec = spec;
    this.name = spec.name;
    this.objects = rendered.map(({ object }) => object);
    for (const warning of spec.warnings) void pulumi.log.warn(warning, this);
    for (const { role, object } of rendered) {
      namedKubernetesResource(`${name}-${role}`, object, { parent: this });
    }
    this.registerOutputs({ name: this.name });
  }

  /**
   * Where a service's pods go on this pool and what each asks of it; pass it to InferenceService's
   * `placement`.
   * @param options.gpus GPUs each pod asks for (a divisor of the nodes' GPUs). @default 1
   */
  placement(options: { readonly gpus?: number } = {}): Placement {
    return poolPlacement(new PropsChecker(this.name), this.spec, options);
  }
}
