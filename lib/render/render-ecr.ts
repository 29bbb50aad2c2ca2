/**
 * The ECR repository a Pulumi ModelImage creates, as plain data: the @pulumi/aws arguments and the
 * lifecycle policy document.
 */

/** What the ECR repository is: its name and how many images it keeps. */
export interface EcrRepositorySpec {
  /** The repository's name in the account's registry (`acme/iris`). */
  readonly name: string;
  /** Images kept; older ones expire. */
  readonly keepImages: number;
  /** Delete the repository with its images on `pulumi destroy`. */
  readonly forceDelete: boolean;
}

/**
 * `aws.ecr.Repository` arguments: every push scanned for vulnerabilities, tags immutable (a tag is
 * the hash of a build context, so it must never be pointed at other bytes), AES256 encryption.
 */
export function renderEcrRepository(spec: EcrRepositorySpec) {
  return {
    name: spec.name,
    imageScanningConfiguration: { scanOnPush: true },
    imageTagMutability: 'IMMUTABLE',
    encryptionConfigurations: [{ encryptionType: 'AES256' }],
    forceDelete: spec.forceDelete,
  };
}

/**
 * The lifecycle policy: untagged layers (a failed or interrupted push) expire after a day; of the
 * images, only the newest `keepImages` are kept. A running Deployment references its image by
 * digest, so keep more images than the rollbacks you may want.
 */
export function renderEcrLifecyclePolicy(spec: EcrRepositorySpec): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: 'expire untagged images after 1 day',
        selection: {
          tagStatus: 'untagged',
          countType: 'sinceImagePushed',
          countUnit: 'days',
          countNumber: 1,
        },
        action: { type: 'expire' },
      },
      {
        rulePriority: 2,
        description: `keep the newest ${spec.keepImages} images`,
        selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: spec.keepImages },
        action: { type: 'expire' },
      },
    ],
  });
}
