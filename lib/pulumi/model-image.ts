import path from 'node:path';
import * as docker from '@pulumi/docker';
import * as pulumi from '@pulumi/pulumi';
import { type ModelImageSource, PropsChecker } from '../core';
import {
  type ModelImageAttributes,
  modelImageAttributes,
  prepareModelImage,
  resolvePushTarget,
  writeBuildContext,
} from '../pipeline';
import { renderEcrLifecyclePolicy, renderEcrRepository } from '../render';
import { loadAws } from './load-aws';
import { DEFAULT_OUTDIR, MODEL_IMAGE_ARGS_SHAPE, type ModelImageArgs } from './model-image-args';

export type { ModelImageArgs, RegistryArgs, EcrArgs } from './model-image-args';

/**
 * A container image for one ONNX model and its server, built and pushed by Pulumi: the same build
 * context as the cdk8s ModelImage (written to `<outdir>/<name>.image/`), built by `@pulumi/docker`'s
 * `Image` and pushed to `registry`, or to an ECR repository it creates with `ecr: true` (scan on
 * push, immutable tags, a lifecycle policy; logged in with `aws.ecr.getAuthorizationToken`).
 *
 * The tag is the hash of the build context, so an unchanged model and server build nothing new.
 * An InferenceService given this image runs it by `repoDigest`: a new model rolls out, an
 * unchanged one does not. Props are checked, the model inspected and the context written when the
 * resource is created; a bad value throws before anything is registered.
 *
 * Children: `<name>-image` (docker:Image); with `ecr`, `<name>-repository` (aws:ecr:Repository) and
 * `<name>-lifecycle` (aws:ecr:LifecyclePolicy).
 *
 * @example
 * const image = new ModelImage('iris', { model: 'model/iris.onnx', ecr: true });
 * new InferenceService('iris', { image, resources: { cpu: '1', memory: '512Mi' } });
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class ModelImage extends pulumi.ComponentResource implements ModelImageSource {
  /** `registry/repository:tag` of the pushed image. */
  readonly imageName: pulumi.Output<string>;
  /** `registry/repository@sha256:…` of the pushed image: what services run. */
  readonly repoDigest: pulumi.Output<string>;
  /** The ECR repository's URL, or the registry repository. */
  readonly repositoryUrl: pulumi.Output<string>;

  constructor(name: string, args: ModelImageArgs, opts?: pulumi.ComponentResourceOptions) {
    // Checked before anything is registered: a bad prop leaves no half-made component behind.
    new PropsChecker(name).knownProps(args, MODEL_IMAGE_ARGS_SHAPE, 'ModelImage', 'arg');
    const target = resolvePushTarget(args, name);
    const { registry: _registry, ecr: _ecr, outdir, ...props } = args;
    const prepared = prepareModelImage({ ...props, repository: target.repository }, name);
    super('modelfab:index:ModelImage', name, {}, opts);
    // Relative to the program's folder, so the build's inputs are the same on every machine.
    const relativeDir = path.join(outdir ?? DEFAULT_OUTDIR, `${name}.image`);
    writeBuildContext(relativeDir, prepared.context, prepared.metadata);
    Object.assign(this, modelImageAttributes(prepared, relativeDir));

    let registry: docker.types.input.Registry;
    if (target.kind === 'ecr') {
      const aws = loadAws(name, {
        prop: 'ecr',
        asked: 'ecr: true',
        otherwise: 'push to a registry with registry: { server, username, password }',
      });
      const repository = new aws.ecr.Repository(`${name}-repository`, renderEcrRepository(target.ecr), {
        parent: this,
      });
      new aws.ecr.LifecyclePolicy(
        `${name}-lifecycle`,
        { repository: repository.name, policy: renderEcrLifecyclePolicy(target.ecr) },
        { parent: this },
      );
      const token = aws.ecr.getAuthorizationTokenOutput(
        { registryId: repository.registryId },
        { parent: this },
      );
      this.repositoryUrl = repository.repositoryUrl;
      registry = {
        server: repository.repositoryUrl,
        username: token.userName,
        password: pulumi.secret(token.password),
      };
    } else {
      this.repositoryUrl = pulumi.output(target.repository);
      registry = {
        server: target.server,
        ...(target.username !== undefined
          ? { username: target.username, password: pulumi.secret(target.password as pulumi.Input<string>) }
          : {}),
      };
    }
    const image = new docker.Image(
      `${name}-image`,
      {
        imageName: pulumi.interpolate`${this.repositoryUrl}:${this.tag}`,
        // The Dockerfile is the context's own (docker's default when none is named).
        build: { context: relativeDir, platform: prepared.spec.platform },
        registry,
      },
      { parent: this },
    );
    this.imageName = image.imageName;
    this.repoDigest = image.repoDigest;
    this.registerOutputs({
      imageName: this.imageName,
      repoDigest: this.repoDigest,
      repositoryUrl: this.repositoryUrl,
      tag: this.tag,
      contextDir: this.contextDir,
    });
  }
}

/** The attributes of a ModelImage in every engine (lib/pipeline), assigned once in the constructor. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface ModelImage extends ModelImageAttributes {}
