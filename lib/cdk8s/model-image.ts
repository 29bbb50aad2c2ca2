import fs from 'node:fs';
import path from 'node:path';
import { App } from 'cdk8s';
import { Construct } from 'constructs';
import {
  type ModelImageProps,
  type ModelImageSource,
  type ModelImageSpec,
  resolveModelImage,
  type ServingRuntime,
} from '../core';
import { inspectModelFor, type ModelInfo } from '../model';
import {
  type BuildContext,
  type ImageBatching,
  imageBatching,
  IMAGE_METADATA_FILE,
  type ImageMetadata,
  isCopiedFile,
  renderBuildContext,
  renderImageMetadata,
} from '../render';
import { bundleServer, loadRuntimeLockSource } from '../server/bundle-server';

export type { ModelImageProps } from '../core';

/**
 * Writes a build context into `dir`, replacing whatever was there: files from memory are written,
 * the model is copied (a copy-on-write clone where the file system can). A copy whose size differs
 * from the source's fails. The metadata `modelfab build` reads goes in {@link IMAGE_METADATA_FILE}.
 *
 * @returns the absolute path of the folder
 */
export function writeBuildContext(dir: string, context: BuildContext, metadata?: ImageMetadata): string {
  const absolute = path.resolve(dir);
  fs.rmSync(absolute, { recursive: true, force: true });
  fs.mkdirSync(absolute, { recursive: true });
  for (const file of context.files) {
    const target = path.join(absolute, ...file.path.split('/'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (isCopiedFile(file)) {
      fs.copyFileSync(file.copyFrom, target, fs.constants.COPYFILE_FICLONE);
      const [from, to] = [fs.statSync(file.copyFrom).size, fs.statSync(target).size];
      if (from !== to) {
        throw new Error(
          `copying ${file.copyFrom} to ${target} wrote ${to} of ${from} bytes; check the free space of ${absolute}`,
        );
      }
    } else {
      fs.writeFileSync(target, file.content);
    }
  }
  if (metadata) {
    fs.writeFileSync(path.join(absolute, IMAGE_METADATA_FILE), `${JSON.stringify(metadata, null, 2)}\n`);
  }
  return absolute;
}

/**
 * A container image for one ONNX model and its server, as a self-contained build context written
 * beside the manifests (`<outdir>/<construct path with '-'>.image/`): a multi-stage Dockerfile
 * (npm installs the pinned onnxruntime-node in a builder stage; a distroless Node.js stage runs
 * the server as uid 65532), `.dockerignore`, the server bundle, the model and its serving config
 * `modelfab.json`. With `runtime: 'triton'`, a Triton model repository on the Triton image.
 *
 * The tag is the hash of the context: a changed model, server or setting gives a new tag, an
 * unchanged one keeps it, so `imageRef` is known at synth, before any build. Props are checked
 * and the model inspected when the construct is created; the context is written then too.
 *
 * Pass it as the `image` of an InferenceService, which takes the runtime, ports, model name and
 * model from it. Build and push with `modelfab build <contextDir> --push` (docker or podman).
 *
 * @example
 * const image = new ModelImage(chart, 'image', {
 *   model: 'model/iris.onnx',
 *   repository: 'ghcr.io/acme/iris',
 * });
 * new InferenceService(chart, 'iris', { image, resources: { cpu: '1', memory: '512Mi' } });
 */
export class ModelImage extends Construct implements ModelImageSource {
  /** The resolved props, every default applied. */
  readonly spec: ModelImageSpec;
  /** What inspecting the model file found (digest, signature, size). */
  readonly model: ModelInfo;
  /** The rendered build context: files, hash and tag. */
  readonly context: BuildContext;
  /** The batching the image's server applies (from `serving`, or the model's defaults). */
  readonly batching: ImageBatching;
  /** `repository:tag`. */
  readonly imageRef: string;
  /** The hash of the build context, shortened. */
  readonly tag: string;
  /** Absolute path of the folder the build context was written to. */
  readonly contextDir: string;
  /** Absolute path of the model file (the image holds a copy with the same bytes). */
  readonly modelPath: string;
  readonly runtime: ServingRuntime;
  readonly modelName: string;
  readonly modelVersion: string;

  constructor(scope: Construct, id: string, props: ModelImageProps) {
    super(scope, id);
    this.spec = resolveModelImage(props, { constructPath: this.node.path });
    this.model = inspectModelFor(this.node.path, this.spec.modelPath);
    this.batching = imageBatching(this.spec, this.model);
    this.context = renderBuildContext({
      spec: this.spec,
      model: this.model,
      ...(this.spec.runtime === 'modelfab'
        ? { bundle: bundleServer(), runtimeLock: loadRuntimeLockSource() }
        : {}),
    });
    this.imageRef = this.context.imageRef;
    this.tag = this.context.tag;
    this.modelPath = this.model.path;
    this.runtime = this.spec.runtime;
    this.modelName = this.spec.modelName;
    this.modelVersion = this.spec.modelVersion;
    // Written now, like the gate's reports: cdk8s synth writes the manifests beside it and does
    // not clear the outdir.
    this.contextDir = writeBuildContext(
      path.join(App.of(this).outdir, `${this.node.path.replace(/\//g, '-')}.image`),
      this.context,
      renderImageMetadata(this.spec, this.context),
    );
  }
}
