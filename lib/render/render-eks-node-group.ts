/**
 * An EKS managed node group for a GPU pool, as the AWS resources that make it (Pulumi creates them;
 * they are no Kubernetes objects): the node IAM role and its three managed policies (in the
 * partition the group is created in), the launch template (encrypted disk, IMDSv2), the node group
 * (a GPU AMI, the pool's instance types, tainted for GPU pods only, scaling from `minSize`), and the
 * tags the cluster autoscaler reads on the Auto Scaling group to scale a group up from zero nodes:
 * the GPUs, labels and taint a node would have. EKS does not copy node group tags to the group, so
 * they are set on the group itself. Pure: a resolved spec in, plain values out.
 */
import { GPU_RESOURCE, GPU_TAINT } from '../core/gpu';

/** A GPU pool as an EKS managed node group, resolved. */
export interface EksNodeGroupSpec {
  /** The node group's name. */
  readonly name: string;
  readonly clusterName: string;
  readonly subnetIds: readonly string[];
  readonly amiType: 'AL2023_x86_64_NVIDIA' | 'BOTTLEROCKET_x86_64_NVIDIA';
  readonly instanceTypes: readonly string[];
  readonly capacityType: 'spot' | 'on-demand';
  readonly minSize: number;
  readonly maxSize: number;
  readonly diskSizeGiB: number;
  readonly gpusPerNode: number;
  readonly labels: Readonly<Record<string, string>>;
}

/** The managed policies every EKS node role needs: joining the cluster, pod networking, pulling from ECR. */
export const EKS_NODE_POLICIES = {
  worker: 'AmazonEKSWorkerNodePolicy',
  cni: 'AmazonEKS_CNI_Policy',
  ecr: 'AmazonEC2ContainerRegistryReadOnly',
} as const;

/** The node IAM role in one AWS partition. */
export interface EksNodeRolePlan {
  /** The role's trust policy (EC2 may assume it), as JSON. */
  readonly assumeRolePolicy: string;
  /** The ARNs of the role's managed policies, by the role of their attachment (`node-role-<key>`). */
  readonly policyArns: Readonly<Record<keyof typeof EKS_NODE_POLICIES, string>>;
}

/**
 * The node role for the AWS partition the node group is created in (`aws`, `aws-cn`, `aws-us-gov`:
 * what the provider's `getPartition` says): the managed policies' ARNs carry the partition, and
 * in China EC2's service principal is `ec2.amazonaws.com.cn` (as in AWS's own node role template).
 */
export function renderEksNodeRole(partition: string): EksNodeRolePlan {
  const ec2 = partition === 'aws-cn' ? 'ec2.amazonaws.com.cn' : 'ec2.amazonaws.com';
  return {
    assumeRolePolicy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: ec2 }, Action: 'sts:AssumeRole' }],
    }),
    policyArns: {
      worker: `arn:${partition}:iam::aws:policy/${EKS_NODE_POLICIES.worker}`,
      cni: `arn:${partition}:iam::aws:policy/${EKS_NODE_POLICIES.cni}`,
      ecr: `arn:${partition}:iam::aws:policy/${EKS_NODE_POLICIES.ecr}`,
    },
  };
}

/** What a node group is made of, but its role ({@link renderEksNodeRole}). */
export interface EksNodeGroupPlan {
  /** `aws.eks.NodeGroup`'s args, less the role's ARN. */
  readonly nodeGroup: {
    readonly clusterName: string;
    readonly nodeGroupName: string;
    readonly subnetIds: string[];
    readonly amiType: string;
    readonly instanceTypes: string[];
    readonly capacityType: 'ON_DEMAND' | 'SPOT';
    readonly scalingConfig: {
      readonly minSize: number;
      readonly maxSize: number;
      readonly desiredSize: number;
    };
    readonly labels: Record<string, string>;
    readonly taints: Array<{ readonly key: string; readonly value: string; readonly effect: 'NO_SCHEDULE' }>;
  };
  /**
   * `aws.ec2.LaunchTemplate`'s args, which the node group launches from (its disk size is set here,
   * not on the group): the volume images go on, encrypted gp3, and IMDSv2 required, one hop, so pods
   * off the host network cannot read the node role's credentials (as the Karpenter node class).
   */
  readonly launchTemplate: {
    readonly blockDeviceMappings: Array<{
      readonly deviceName: string;
      readonly ebs: {
        readonly volumeSize: number;
        readonly volumeType: 'gp3';
        readonly encrypted: 'true';
        readonly deleteOnTermination: 'true';
      };
    }>;
    readonly metadataOptions: {
      readonly httpEndpoint: 'enabled';
      readonly httpTokens: 'required';
      readonly httpPutResponseHopLimit: 1;
    };
  };
  /** The cluster autoscaler's node-template tags for the Auto Scaling group, each with its role. */
  readonly autoscalerTags: ReadonlyArray<{
    readonly role: string;
    readonly key: string;
    readonly value: string;
  }>;
}

const TEMPLATE = 'k8s.io/cluster-autoscaler/node-template';

/** The node group plan for `spec`. */
export function renderEksNodeGroup(spec: EksNodeGroupSpec): EksNodeGroupPlan {
  return {
    nodeGroup: {
      clusterName: spec.clusterName,
      nodeGroupName: spec.name,
      subnetIds: [...spec.subnetIds],
      amiType: spec.amiType,
      instanceTypes: [...spec.instanceTypes],
      capacityType: spec.capacityType === 'spot' ? 'SPOT' : 'ON_DEMAND',
      // The autoscaler owns the desired size after creation (the component ignores its changes).
      scalingConfig: { minSize: spec.minSize, maxSize: spec.maxSize, desiredSize: spec.minSize },
      labels: { ...spec.labels },
      taints: [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: 'NO_SCHEDULE' }],
    },
    launchTemplate: {
      // Amazon Linux keeps images on its root volume; Bottlerocket on its data volume, beside a
      // root volume that holds only the OS (the AMI's own size is kept).
      blockDeviceMappings: [
        {
          deviceName: spec.amiType.startsWith('BOTTLEROCKET') ? '/dev/xvdb' : '/dev/xvda',
          ebs: {
            volumeSize: spec.diskSizeGiB,
            volumeType: 'gp3',
            encrypted: 'true',
            deleteOnTermination: 'true',
          },
        },
      ],
      metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1 },
    },
    autoscalerTags: [
      { role: 'asg-gpu-tag', key: `${TEMPLATE}/resources/${GPU_RESOURCE}`, value: String(spec.gpusPerNode) },
      ...Object.entries(spec.labels).map(([key, value], i) => ({
        role: `asg-label-tag-${i}`,
        key: `${TEMPLATE}/label/${key}`,
        value,
      })),
      {
        role: 'asg-taint-tag',
        key: `${TEMPLATE}/taint/${GPU_TAINT.key}`,
        value: `${GPU_TAINT.value}:${GPU_TAINT.effect}`,
      },
    ],
  };
}
