import path from 'node:path';
import { App } from 'cdk8s';
import { Construct } from 'constructs';
import { type ModelImageProps, type ModelImageSource } from '../core';
import {
  type ModelImageAttributes,
  modelImageAttributes,
  prepareModelImage,
  writeBuildContext,
} from '../pipeline';

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
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class ModelImage extends Construct implements ModelImageSource {
  constructor(scope: Construct, id: string, props: ModelImageProps) {
    super(scope, id);
    const prepared = prepareModelImage(props, this.node.path);
    const app = App.of(this);
    const contextDir = path.join(app.outdir, `${this.node.path.replace(/\//g, '-')}.image`);
    Object.assign(this, modelImageAttributes(prepared, contextDir));
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

/** The attributes of a ModelImage in every engine (lib/pipeline), assigned once in the constructor. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface ModelImage extends ModelImageAttributes {}
