/**
 * The errors of the execution path. Each has its own class so the server can map it to a status
 * (a bad request, 429, 504, 500, 503) and the gate can report it; messages are lower-case and say
 * the value received.
 */

/**
 * Inputs that do not fit the model (missing or unknown names, element type, rank, dims, data
 * length) or JSON values that cannot be converted to a tensor. Raised before anything is queued.
 */
export class InputValidationError extends Error {
  override readonly name = 'InputValidationError';
}

/**
 * `gate.inputShapes` (or the shapes given to `resolveInputShapes`) cannot pin the model's input
 * shapes: a symbolic dimension without a value, an unknown input, a wrong rank or a contradiction.
 */
export class InputShapesError extends Error {
  override readonly name = 'InputShapesError';
}

/** The executor's queue already holds `maxQueueSize` requests; the request was not queued. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';

  constructor(
    /** The queue bound that was reached. */
    readonly maxQueueSize: number,
  ) {
    super(`the inference queue is full (${maxQueueSize} requests waiting); retry later or add capacity`);
  }
}

/** A request did not complete within its `timeoutMs`. */
export class InferenceTimeoutError extends Error {
  override readonly name = 'InferenceTimeoutError';

  constructor(
    readonly timeoutMs: number,
    /** Where the request was when its time ran out. */
    readonly stage: 'queued' | 'running',
  ) {
    super(
      stage === 'queued'
        ? `inference timed out after ${timeoutMs} ms while queued; it was dropped from the queue`
        : `inference timed out after ${timeoutMs} ms while running; its result will be discarded`,
    );
  }
}

/** onnxruntime failed to run the model on the inputs it was fed (a run-time error of the model). */
export class InferenceError extends Error {
  override readonly name = 'InferenceError';

  constructor(
    message: string,
    /** onnxruntime's own message. */
    readonly runtimeMessage: string,
  ) {
    super(message);
  }
}

/** onnxruntime could not create a session for the model (an operator it lacks, an invalid graph). */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';

  constructor(
    /** Absolute path of the model file. */
    readonly modelPath: string,
    message: string,
  ) {
    super(message);
  }
}

/** A worker thread exited or crashed; the requests it was running fail with this error. */
export class WorkerCrashError extends Error {
  override readonly name = 'WorkerCrashError';
}

/** The executor was closed: requests still queued or running, and any later request, fail with this. */
export class ExecutorClosedError extends Error {
  override readonly name = 'ExecutorClosedError';
}
