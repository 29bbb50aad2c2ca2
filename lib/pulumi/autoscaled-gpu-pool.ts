import * as pulumi from '@pulumi/pulumi';
import {
  type AutoscaledGpuPoolProps,
  type EksNodeGroupProps,
  type GpuPoolSpec,
  type Placement,
  poolPlacement,
  PropsChecker,
  resolveGpuPool,
} from '../core';
import {
  formatServiceProblems,
  gpuPoolProblems,
  type KubeObject,
  EKS_NODE_POLICIES,
  renderEksNodeGroup,
  renderEksNodeRole,
  renderGpuPool,
} from '../render';
import { isDeferred } from './deferred-values';
import { namedKubernetesResource } from './kubernetes-resource';
import { loadAws } from './load-aws';

export type { AutoscaledGpuPoolProps } from '../core';

/**
 * AutoscaledGpuPool's args in Pulumi: its props, with the node group's cluster and subnets taken
 * as Inputs (they usually come from the cluster's and the VPC's resources).
 */
export interface AutoscaledGpuPoolArgs extends Omit<AutoscaledGpuPoolProps, 'eksNodeGroup'> {
  /** Nodes from an EKS managed node group the cluster autoscaler scales. @default - not a node group */
  readonly eksNodeGroup?: Omit<EksNodeGroupProps, 'clusterName' | 'subnetIds'> & {
    readonly clusterName: pulumi.Input<string>;
    readonly subnetIds: ReadonlyArray<pulumi.Input<string>>;
  };
}

/**
 * GPU nodes that come when GPU pods wait and go when they are gone, as a Pulumi component: the same
 * props and the same Kubernetes objects as the cdk8s AutoscaledGpuPool (rendered by `lib/render`),
 * each with `{ parent: this }`, so providers given in the options apply to all of them:
 * - `karpenter`: an EC2NodeClass and one or two NodePools (CustomResources) and the device plugin;
 * - `gke`: a ComputeClass;
 * - `eksNodeGroup` (Pulumi only): the node IAM role and its three policy attachments, an
 *   `aws.eks.NodeGroup` that waits for them and leaves its desired size to the cluster autoscaler,
 *   the autoscaler's scale-from-zero tags on its Auto Scaling group, and the device plugin (not on
 *   Bottlerocket, which ships its own). Needs `@pulumi/aws`.
 *
 * Props are checked and the policy run in the constructor: a bad value or a violation throws there,
 * before anything is registered.
 *
 * Children: `<name>-node-class`, `<name>-node-pool` (with both capacity types,
 * `<name>-spot-node-pool` and `<name>-on-demand-node-pool`); `<name>-compute-class`;
 * `<name>-node-role`, `<name>-node-role-worker`, `-node-role-cni`, `-node-role-ecr`,
 * `<name>-node-group`, `<name>-asg-gpu-tag`, `<name>-asg-label-tag-<i>`, `<name>-asg-taint-tag`;
 * `<name>-device-plugin-config` (when GPUs are shared), `<name>-device-plugin`,
 * `<name>-device-plugin-network-policy`.
 */
export class AutoscaledGpuPool extends pulumi.ComponentResource {
  /** The resolved props, every default applied. */
  readonly spec: GpuPoolSpec;
  /** The pool's name: its NodePools', node group's or ComputeClass's. */
  readonly name: string;
  /** The Kubernetes objects as rendered, in apply order. */
  readonly objects: readonly KubeObject[];

  constructor(name: string, args: AutoscaledGpuPoolArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before anything is registered, like the cdk8s construct's constructor; the node
    // group's cluster and subnets, when they are Outputs, are checked by AWS.
    const spec = resolveGpuPool(new PropsChecker(name), name, withKnownAwsValues(args), 'pulumi');
    const rendered = renderGpuPool(spec);
    const problems = gpuPoolProblems(rendered.map(({ object }) => object));
    if (problems.length > 0) throw new Error(formatServiceProblems(name, problems));
    const aws = spec.nodeGroup
      ? loadAws(name, {
          prop: 'eksNodeGroup',
          asked: 'eksNodeGroup',
          otherwise: 'use karpenter: { clusterName, nodeRole } for GPU nodes that scale',
        })
      : undefined;
    super('modelfab:index:AutoscaledGpuPool', name, args, opts);
    this.spec = spec;
    this.name = spec.name;
    this.objects = rendered.map(({ object }) => object);
    for (const warning of spec.warnings) void pulumi.log.warn(warning, this);
    let nodeGroupName: pulumi.Output<string> | undefined;
    if (spec.nodeGroup && aws && args.eksNodeGroup) {
      const plan = renderEksNodeGroup(spec.nodeGroup);
      // The role in the provider's partition (GovCloud and China have their own ARNs).
      const nodeRole = aws
        .getPartitionOutput({}, { parent: this })
        .apply(({ partition }) => renderEksNodeRole(partition));
      const role = new aws.iam.Role(
        `${name}-node-role`,
        { assumeRolePolicy: nodeRole.assumeRolePolicy },
        { parent: this },
      );
      const attachments = Object.keys(EKS_NODE_POLICIES).map(
        (key) =>
          new aws.iam.RolePolicyAttachment(
            `${name}-node-role-${key}`,
            { role: role.name, policyArn: nodeRole.policyArns[key as keyof typeof EKS_NODE_POLICIES] },
            { parent: this },
          ),
      );
      const launchTemplate = new aws.ec2.LaunchTemplate(`${name}-launch-template`, plan.launchTemplate, {
        parent: this,
      });
      const nodeGroup = new aws.eks.NodeGroup(
        `${name}-node-group`,
        {
          ...plan.nodeGroup,
          clusterName: args.eksNodeGroup.clusterName,
          subnetIds: [...args.eksNodeGroup.subnetIds],
          nodeRoleArn: role.arn,
          // A new version (another disk size) rolls the nodes.
          launchTemplate: {
            id: launchTemplate.id,
            version: launchTemplate.latestVersion.apply((version) => String(version)),
          },
        },
        {
          parent: this,
          // Nodes that start before the role can join the cluster never become Ready.
          dependsOn: attachments,
          // The cluster autoscaler owns the size once the group exists.
          ignoreChanges: ['scalingConfig.desiredSize'],
        },
      );
      nodeGroupName = nodeGroup.nodeGroupName;
      const autoscalingGroupName = nodeGroup.resources.apply((resources) => {
        const group = resources?.[0]?.autoscalingGroups?.[0]?.name;
        if (group === undefined) throw new Error(`[${name}] the node group reports no Auto Scaling group`);
        return group;
      });
      for (const { role: tagRole, key, value } of plan.autoscalerTags) {
        new aws.autoscaling.Tag(
          `${name}-${tagRole}`,
          { autoscalingGroupName, tag: { key, value, propagateAtLaunch: false } },
          { parent: this },
        );
      }
    }
    for (const { role, object } of rendered) {
      namedKubernetesResource(`${name}-${role}`, object, { parent: this });
    }
    this.registerOutputs({ name: this.name, ...(nodeGroupName ? { nodeGroupName } : {}) });
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

/** The args as plain props for the checks: a node group's cluster or subnet that is an Output stands in as a valid name. */
function withKnownAwsValues(args: AutoscaledGpuPoolArgs): AutoscaledGpuPoolProps {
  const group = args.eksNodeGroup;
  if (group === undefined || group === null || typeof group !== 'object')
    return args as AutoscaledGpuPoolProps;
  const known = (value: unknown, standIn: string) => (isDeferred(value) ? standIn : value);
  return {
    ...args,
    eksNodeGroup: {
      ...group,
      clusterName: known(group.clusterName, 'deferred-cluster') as string,
      subnetIds: Array.isArray(group.subnetIds)
        ? group.subnetIds.map((id, i) => known(id, `deferred-subnet-${i}`) as string)
        : (group.subnetIds as unknown as string[]),
    },
  };
}
