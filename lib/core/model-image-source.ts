/**
 * The seam between ModelImage and InferenceService, engine-neutral: what a service needs to know
 * about the image it runs. The cdk8s and Pulumi ModelImage constructs implement it.
 */

/** The server inside an image: modelfab's own (`lib/server`) or NVIDIA Triton. */
export type ServingRuntime = 'modelfab' | 'triton';

/** The ports, user and probes of each runtime, which InferenceService follows. */
export interface RuntimeContract {
  /** The HTTP port of the Open Inference Protocol. */
  readonly httpPort: number;
  /** The Prometheus metrics port. */
  readonly metricsPort: number;
  /** The metrics path on that port. */
  readonly metricsPath: string;
  /** The non-root uid the image runs as. */
  readonly uid: number;
}

export const RUNTIME_CONTRACTS: Readonly<Record<ServingRuntime, RuntimeContract>> = {
  modelfab: { httpPort: 8080, metricsPort: 9090, metricsPath: '/metrics', uid: 65532 },
  // nvcr.io/nvidia/tritonserver: HTTP 8000, metrics 8002, user triton-server (1000)
  triton: { httpPort: 8000, metricsPort: 8002, metricsPath: '/metrics', uid: 1000 },
};

/** What InferenceService takes from a ModelImage. */
export interface ModelImageSource {
  /** The image to run: repository and the build context's hash as tag, or pinned by digest. */
  readonly imageRef: string;
  /** Absolute path of the ONNX file packaged in the image (the gate benchmarks this file). */
  readonly modelPath: string;
  /** The server in the image. */
  readonly runtime: ServingRuntime;
  /** The model's name in the Open Inference Protocol's URLs (`/v2/models/{name}`). */
  readonly modelName: string;
  /** The model's version in those URLs. */
  readonly modelVersion: string;
  /**
   * Where Triton runs the model (`'gpu'`: `KIND_GPU`, which needs a GPU placement; `'cpu'`: `KIND_CPU`).
   * @default - not said (the modelfab runtime, or an image described by hand)
   */
  readonly tritonKind?: 'cpu' | 'gpu';
}

/** Whether `value` is a ModelImageSource rather than an image reference string. */
export function isModelImageSource(value: unknown): value is ModelImageSource {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ModelImageSource).imageRef === 'string' &&
    typeof (value as ModelImageSource).modelPath === 'string'
  );
}
