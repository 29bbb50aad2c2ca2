/**
 * Which status, message and headers each error gets, and which refusals it counts as: the one
 * place that maps the execution path's errors onto HTTP.
 */
import {
  ExecutorClosedError,
  InferenceError,
  InferenceTimeoutError,
  InputValidationError,
  QueueFullError,
  WorkerCrashError,
} from '../runtime';
import { BodyBudgetError, UploadCancelledError } from './admission';
import { CodecMemoryError } from './codec-thread';
import { OipRequestError } from './oip-errors';
import { BodyTimeoutError, BodyTooLargeError } from './request-body';

/** Retry-After of a 429, seconds. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * Why a request was refused rather than served or judged bad: the `reason` label of
 * `modelfab_refusals_total`, and the kind by which refusal log lines are sampled.
 */
export type RefusalReason =
  | 'queue_full'
  | 'body_budget'
  | 'body_too_large'
  | 'body_timeout'
  | 'decode_memory'
  | 'unauthorized'
  | 'not_ready'
  | 'shutting_down';

/** Every refusal reason, for metrics that list each one from the start. */
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  'queue_full',
  'body_budget',
  'body_too_large',
  'body_timeout',
  'decode_memory',
  'unauthorized',
  'not_ready',
  'shutting_down',
];

/** An error's answer: status, message, extra headers (name, value…), and the refusal it counts as. */
export interface ErrorAnswer {
  readonly status: number;
  readonly message: string;
  readonly headers?: readonly string[];
  /** Set when the request was refused (capacity, limits, lifecycle, auth) rather than served or bad. */
  readonly refusal?: RefusalReason;
  /** True when the connection must close after the answer (its body was not read to the end). */
  readonly closeConnection?: boolean;
}

/** The Retry-After header of a 429, as a name, value list. */
export const RETRY_AFTER: readonly string[] = ['Retry-After', String(RETRY_AFTER_SECONDS)];
const SHUTTING_DOWN = 'the server is shutting down; send the request to another replica';

/** The status, body and headers of an error answer. */
export function errorAnswer(error: Error, requestId: string): ErrorAnswer {
  if (error instanceof OipRequestError || error instanceof InputValidationError) {
    return { status: 400, message: error.message };
  }
  if (error instanceof InferenceError) return { status: 400, message: error.message };
  if (error instanceof BodyTooLargeError) {
    return { status: 413, message: error.message, refusal: 'body_too_large' };
  }
  if (error instanceof CodecMemoryError) {
    return { status: 413, message: error.message, refusal: 'decode_memory' };
  }
  if (error instanceof BodyTimeoutError) {
    return { status: 408, message: error.message, refusal: 'body_timeout', closeConnection: true };
  }
  if (error instanceof QueueFullError) {
    return { status: 429, message: error.message, headers: RETRY_AFTER, refusal: 'queue_full' };
  }
  if (error instanceof BodyBudgetError) {
    return { status: 429, message: error.message, headers: RETRY_AFTER, refusal: 'body_budget' };
  }
  if (error instanceof InferenceTimeoutError) return { status: 504, message: error.message };
  if (error instanceof UploadCancelledError) {
    return { status: 503, message: error.message, refusal: 'shutting_down', closeConnection: true };
  }
  if (error instanceof ExecutorClosedError) return { status: 503, message: SHUTTING_DOWN };
  if (error instanceof WorkerCrashError) return { status: 500, message: error.message };
  return {
    status: 500,
    message: `internal server error (request id ${requestId}); the server log has the details`,
  };
}
