/**
 * The Pulumi ModelImage's arguments: the shared ModelImageProps plus where the built image is
 * pushed, which only Pulumi can do (lib/pipeline `resolvePushTarget` resolves them).
 */
import type * as pulumi from '@pulumi/pulumi';
import {
  booleanProp,
  MODEL_IMAGE_PROPS_SHAPE,
  type ModelImageProps,
  numberProp,
  objectProp,
  opaqueProp,
  stringProp,
} from '../core';

/** A registry to push to, logged in with a username and password (or a token as the password). */
export interface RegistryArgs {
  /** The registry's host, and port if any: `ghcr.io`, `registry.example.com:5000`, `localhost:5000`. */
  readonly server: string;
  /**
   * The user to log in as.
   * @default - no login: the registry accepts the push as is (a local registry)
   */
  readonly username?: pulumi.Input<string>;
  /**
   * The password or token; kept as a Pulumi secret. Required with `username`.
   * @default - no login
   */
  readonly password?: pulumi.Input<string>;
}

/** The ECR repository the ModelImage creates. */
export interface EcrArgs {
  /**
   * How many images the repository keeps; older ones expire (untagged ones after a day).
   * @default 30
   */
  readonly keepImages?: number;
  /**
   * Whether `pulumi destroy` deletes the repository even when it still holds images.
   * @default false
   */
  readonly forceDelete?: boolean;
}

/** ModelImageProps, with `repository` optional for ECR, plus the push target. */
export interface ModelImageArgs extends Omit<ModelImageProps, 'repository'> {
  /**
   * With `registry`: the repository the image is pushed to, on that registry (`ghcr.io/acme/iris`).
   * With `ecr`: the ECR repository's name (`acme/iris`), without the account's registry host.
   * @default - with `ecr`, the resource's name; with `registry`, required
   */
  readonly repository?: string;
  /**
   * Push to this registry. Exactly one of `registry` and `ecr`.
   * @default - none: set `ecr`
   */
  readonly registry?: RegistryArgs;
  /**
   * Create an ECR repository (scan on push, immutable tags, a lifecycle policy) and push to it with
   * a token from `aws.ecr.getAuthorizationToken`. Needs `@pulumi/aws`. Exactly one of `registry`
   * and `ecr`.
   * @default - none: set `registry`
   */
  readonly ecr?: boolean | EcrArgs;
  /**
   * The folder the build context is written to (`<outdir>/<name>.image/`), relative to the
   * program's working directory.
   * @default 'modelfab.out'
   */
  readonly outdir?: string;
}

/** Where Pulumi writes what it generates (build contexts, gate reports), relative to the program. */
export const DEFAULT_OUTDIR = 'modelfab.out';

/** The shape of {@link RegistryArgs}. */
export const REGISTRY_ARGS_SHAPE = objectProp<RegistryArgs>(
  { server: stringProp('localhost:5000'), username: stringProp('acme'), password: opaqueProp },
  ['server'],
);

/** The shape of {@link ModelImageArgs}: the props, `repository` optional, and the push target. */
export const MODEL_IMAGE_ARGS_SHAPE = objectProp<ModelImageArgs>(
  {
    ...MODEL_IMAGE_PROPS_SHAPE.fields,
    registry: REGISTRY_ARGS_SHAPE,
    ecr: {
      kind: 'flag-or-object',
      object: objectProp<EcrArgs>({ keepImages: numberProp('30'), forceDelete: booleanProp('true') }),
    },
    outdir: stringProp('modelfab.out'),
  },
  ['model'],
);
