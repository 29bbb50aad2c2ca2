import path from 'node:path';
import { App } from 'cdk8s';
import { Construct } from 'constructs';
import {
  type ModelImageProps,
  type ModelImageSource,
  type ModelImageSpec,
  type ServingRuntime,
} from '../core';
import { prepareModelImage, writeBuildContext } from '../pipeline';
import { type ModelInfo } from '../model';
import { type BuildContext, type ImageBatching } from '../render';

export type { ModelImageProps } from '../core';

/**
 * A container image for one ONNX model and its server, as a self-contained build context written
 * beside the manifests (`<outdir>/<construct path with '-'>.image/`): a multi-stage Dockerfile
 * (npm installs the pinned onnxruntime-node in a builder stage; a distroless Node.js stage runs
 * the server as uid 65532), `.dockerignore`, the server bundle, the model and its serving config
 * `modelfab.json`. With `runtime: 'triton'`, a Triton model repository on the Triton image.
 *
 * The tag is the hash of the context: a changed model, server or setting gives a new tag, an
 * unchanged one keeps it, so `imageRef` is known at synth, before any build. Props are checked
 * and the model inspected when the construct is created; the context is written when `app.synth()`
 * succeeds, after the manifests, so a synth that fails leaves no build context behind.
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
  /** The server in the image: `modelfab` or `triton`. */
  readonly runtime: ServingRuntime;
  /** The model's name in the Open Inference Protocol's URLs (`/v2/models/{name}`). */
  readonly modelName: string;
  /** The model's version in those URLs. */
  readonly modelVersion: string;

  constructor(scope: Construct, id: string, props: ModelImageProps) {
    super(scope, id);
    const prepared = prepareModelImage(props, this.node.path);
    this.spec = prepared.spec;
    this.model = prepared.model;
    this.batching = prepared.batching;
    this.context = prepared.context;
    this.imageRef = this.context.imageRef;
    this.tag = this.context.tag;
    this.modelPath = this.model.path;
    this.runtime = this.spec.runtime;
    this.modelName = this.spec.modelName;
    this.modelVersion = this.spec.modelVersion;
    const app = App.of(this);
    this.contextDir = path.resolve(app.outdir, `${this.node.path.replace(/\//g, '-')}.image`);
    afterSynth(app, () => writeBuildContext(this.contextDir, prepared.context, prepared.metadata));
  }
}

/** What each app writes once its synth has succeeded. */
const AFTER_SYNTH = new WeakMap<App, Array<() => void>>();

/**
 * Runs `write` when `app.synth()` has validated the tree and written the manifests; never when it
 * throws. cdk8s has no hook for this, so the app's `synth` is wrapped once, on that app only.
 */
function afterSynth(app: App, write: () => void): void {
  let pending = AFTER_SYNTH.get(app);
  if (pending === undefined) {
    const writes: Array<() => void> = [];
    pending = writes;
    AFTER_SYNTH.set(app, writes);
    const synth = app.synth.bind(app);
    app.synth = () => {
      synth();
      for (const run of writes) run();
    };
  }
  pending.push(write);
}
