/**
 * The props of `ModelImage`, the same in every engine (cdk8s today, Pulumi next), and the resolved
 * spec the renderer takes.
 */
import { type ServingRuntime } from './model-image-source';
import { booleanProp, listProp, numberProp, objectProp, stringProp } from './props-shape';

/** The platforms a model image can be built for (onnxruntime-node ships Linux binaries for both). */
export type ImagePlatform = 'linux/amd64' | 'linux/arm64';

/** Where Triton runs the model's instances. */
export type TritonInstanceKind = 'cpu' | 'gpu';

/** The images the build starts from. Pin them by digest (`…@sha256:…`) for reproducible builds. */
export interface BaseImagesProps {
  /**
   * The stage that installs the runtime dependencies with npm: a Debian-based Node.js 20 image
   * with a shell and npm. Only the modelfab runtime has this stage.
   * @default 'node:20-bookworm-slim'
   */
  readonly builder?: string;
  /**
   * The image the server runs on. For the modelfab runtime, a distroless-style Node.js 20 image
   * with `node` at `/nodejs/bin/node` and the same libc as the builder; for the triton runtime, the
   * Triton Inference Server image.
   * @default 'gcr.io/distroless/nodejs20-debian12:nonroot' (modelfab),
   *   'nvcr.io/nvidia/tritonserver:25.11-py3' (triton)
   */
  readonly runtime?: string;
}

/**
 * How the server in the image batches and runs requests (`modelfab.json` for the modelfab runtime,
 * `config.pbtxt` for Triton). The Deployment's `MODELFAB_*` environment, tuned by the gate,
 * overrides these at start.
 */
export interface ServingProps {
  /**
   * Largest batch the dynamic batcher forms along dimension 0; 1 turns batching off. Above 1 only
   * for models with a batch dimension.
   * @default 8 when the model has a batch dimension, else 1
   */
  readonly maxBatchSize?: number;
  /**
   * Longest time, in milliseconds, a request waits for a batch to fill.
   * @default 2 when batching, else 0
   */
  readonly maxQueueDelayMs?: number;
  /**
   * Inference worker threads, each with its own onnxruntime session (modelfab runtime only; with
   * Triton use `triton.instanceCount`).
   * @default - from the container's CPU limit at start
   */
  readonly workers?: number;
  /**
   * onnxruntime intra-op threads per session (Triton: the backend's `intra_op_thread_count`).
   * @default - from the container's CPU limit at start (Triton: onnxruntime's default)
   */
  readonly intraOpThreads?: number;
}

/** Settings only the Triton runtime has. */
export interface TritonProps {
  /**
   * Model instances Triton runs (on each GPU with `kind: 'gpu'`).
   * @default 1
   */
  readonly instanceCount?: number;
  /**
   * Where the instances run.
   * @default 'gpu'
   */
  readonly kind?: TritonInstanceKind;
  /**
   * Run the model through the TensorRT execution accelerator at FP16 precision (GPU only).
   * @default false
   */
  readonly tensorrtFp16?: boolean;
  /**
   * Batch sizes the dynamic batcher prefers to form, each at most the max batch size.
   * @default - none: Triton forms the largest batch it can within the queue delay
   */
  readonly preferredBatchSizes?: readonly number[];
}

/** The props of `ModelImage`, the same in cdk8s and Pulumi (Pulumi adds where the image is pushed). */
export interface ModelImageProps {
  /** Path to the ONNX model file (relative paths from the current directory). */
  readonly model: string;
  /**
   * Where the image is pushed, without a tag (`ghcr.io/acme/iris`): the tag is the hash of the
   * build context, so a changed model or server gives a new tag.
   */
  readonly repository: string;
  /**
   * The model's name in the Open Inference Protocol's URLs (`/v2/models/{name}`): at most 63
   * alphanumerics, '-', '_' or '.', alphanumeric at both ends.
   * @default - the file name without `.onnx`, reduced to a DNS-1123 label
   */
  readonly name?: string;
  /**
   * The model's version in those URLs (Triton: a positive integer, the model directory's version).
   * @default '1'
   */
  readonly version?: string;
  /**
   * The server in the image: modelfab's own (`lib/server`) or NVIDIA Triton with its onnxruntime
   * backend. Ports, user and probes follow it (see RUNTIME_CONTRACTS).
   * @default 'modelfab'
   */
  readonly runtime?: ServingRuntime;
  /**
   * The images the build starts from.
   * @default - pinned official images, see BaseImagesProps
   */
  readonly baseImages?: BaseImagesProps;
  /**
   * Batching and threads of the server.
   * @default - see ServingProps
   */
  readonly serving?: ServingProps;
  /**
   * Triton's instances and accelerator (only with `runtime: 'triton'`).
   * @default - see TritonProps
   */
  readonly triton?: TritonProps;
  /**
   * The platform the image is built for; only its onnxruntime binaries are shipped.
   * @default 'linux/amd64'
   */
  readonly platform?: ImagePlatform;
}

/** Triton's settings, every default applied. */
export interface TritonSpec {
  readonly instanceCount: number;
  readonly kind: TritonInstanceKind;
  readonly tensorrtFp16: boolean;
  /** Ascending, without duplicates; empty when not set. */
  readonly preferredBatchSizes: readonly number[];
}

/**
 * ModelImageProps resolved: defaults applied and every value checked. What depends on the model
 * (the batching defaults) stays unset here and is decided when the model is known.
 */
export interface ModelImageSpec {
  /** Construct path or resource name, used in every message. */
  readonly constructPath: string;
  /** Absolute path of the ONNX file. */
  readonly modelPath: string;
  /** Registry and path, without tag or digest. */
  readonly repository: string;
  readonly modelName: string;
  readonly modelVersion: string;
  readonly runtime: ServingRuntime;
  readonly platform: ImagePlatform;
  readonly baseImages: {
    /** The npm stage's image (modelfab runtime only; undefined for triton). */
    readonly builder?: string;
    /** The image the server runs on. */
    readonly runtime: string;
  };
  readonly serving: {
    /** @default - from the model: 8 with a batch dimension, else 1 */
    readonly maxBatchSize?: number;
    /** @default - 2 when batching, else 0 */
    readonly maxQueueDelayMs?: number;
    /** @default - from the CPU limit at start */
    readonly workers?: number;
    /** @default - from the CPU limit at start */
    readonly intraOpThreads?: number;
  };
  /** Present with the triton runtime only. */
  readonly triton?: TritonSpec;
}

/** The shape of {@link ModelImageProps}: every key, and an example of each value. */
export const MODEL_IMAGE_PROPS_SHAPE = objectProp<ModelImageProps>(
  {
    model: stringProp('examples/iris/model/iris.onnx'),
    repository: stringProp('localhost:5000/iris'),
    name: stringProp('iris'),
    version: stringProp('1'),
    runtime: stringProp('modelfab'),
    baseImages: objectProp<BaseImagesProps>({
      builder: stringProp('node:20-bookworm-slim'),
      runtime: stringProp('gcr.io/distroless/nodejs20-debian12:nonroot'),
    }),
    serving: objectProp<ServingProps>({
      maxBatchSize: numberProp('8'),
      maxQueueDelayMs: numberProp('2'),
      workers: numberProp('1'),
      intraOpThreads: numberProp('1'),
    }),
    triton: objectProp<TritonProps>({
      instanceCount: numberProp('1'),
      kind: stringProp('gpu'),
      tensorrtFp16: booleanProp('true'),
      preferredBatchSizes: listProp(numberProp('8')),
    }),
    platform: stringProp('linux/arm64'),
  },
  ['model', 'repository'],
);
