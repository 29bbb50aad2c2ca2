/**
 * An onnxruntime session on the main thread, for the executor's inline execution (see
 * inline-choice.ts). onnxruntime-node is required only when a session is created (ort-tensor.ts),
 * so processes that import the executor but never run inference (synth) do not load its addon.
 */
import type * as Ort from 'onnxruntime-node';
import type { ExecutionProvider } from '../core/execution-provider';
import { sessionOptionsFor } from './session-options';
import { fromOrtTensor, onnxruntime, toOrtTensor } from './ort-tensor';
import { type TensorData } from './tensor';

/** One inline run's outputs and its `session.run` time, ms. */
export interface InlineRun {
  readonly outputs: Record<string, TensorData>;
  readonly inferMs: number;
}

/** A main-thread session of one model. */
export class InlineSession {
  /** Runs under way (session.run is asynchronous in form), awaited before the session is released. */
  private readonly pending = new Set<Promise<unknown>>();
  private released: Promise<void> | undefined;

  private constructor(private readonly session: Ort.InferenceSession) {}

  /** Loads `modelPath` with the serving session options. */
  static async create(
    modelPath: string,
    intraOpThreads: number,
    executionProvider: ExecutionProvider = 'cpu',
  ): Promise<InlineSession> {
    const session = await onnxruntime().InferenceSession.create(
      modelPath,
      sessionOptionsFor({ intraOpThreads, executionProvider }),
    );
    return new InlineSession(session);
  }

  /**
   * Runs the model on `inputs`. What onnxruntime throws (converting the inputs included) is
   * rethrown as an {@link InlineRunError}; anything else is a fault of this code.
   */
  async run(inputs: Readonly<Record<string, TensorData>>): Promise<InlineRun> {
    if (this.released) throw new Error('the inline session was released');
    const started = this.start(inputs);
    this.pending.add(started);
    try {
      const { results, inferMs } = await started;
      const outputs: Record<string, TensorData> = {};
      for (const name of this.session.outputNames) {
        const tensor = results[name];
        outputs[name] = fromOrtTensor(tensor);
      }
      return { outputs, inferMs };
    } finally {
      this.pending.delete(started);
    }
  }

  private async start(
    inputs: Readonly<Record<string, TensorData>>,
  ): Promise<{ results: Ort.InferenceSession.ReturnType; inferMs: number }> {
    try {
      const feeds: Record<string, Ort.Tensor> = {};
      for (const name in inputs) feeds[name] = toOrtTensor(inputs[name]);
      const start = performance.now();
      const results = await this.session.run(feeds);
      return { results, inferMs: performance.now() - start };
    } catch (error) {
      throw new InlineRunError(error instanceof Error ? error.message : String(error));
    }
  }

  /** The `session.run` times of `runs` runs on `inputs`, after `warmUps` unmeasured ones, ms. */
  async measure(
    inputs: Readonly<Record<string, TensorData>>,
    warmUps: number,
    runs: number,
  ): Promise<number[]> {
    for (let i = 0; i < warmUps; i++) await this.run(inputs);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) times.push((await this.run(inputs)).inferMs);
    return times;
  }

  /** Releases the session once the runs under way are done. Idempotent. */
  release(): Promise<void> {
    this.released ??= (async () => {
      await Promise.allSettled([...this.pending]);
      await this.session.release();
    })();
    return this.released;
  }
}

/** onnxruntime failed to run an inline request (its message). */
export class InlineRunError extends Error {
  override readonly name = 'InlineRunError';
}
