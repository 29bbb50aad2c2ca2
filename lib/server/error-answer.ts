/**
 * Which status, message and headers each error gets: the one place that maps the execution path's
 * errors onto HTTP.
 */
import {
  ExecutorClosedError,
  InferenceError,
  InferenceTimeoutError,
  InputValidationError,
  QueueFullError,
  WorkerCrashError,
} from '../runtime';
import { OipRequestError } from './oip-errors';
import { BodyTooLargeError } from './request-body';

/** Retry-After of a 429, seconds. */
export const RETRY_AFTER_SECONDS = 1;
/** The status, body and headers of an error answer. */
export function errorAnswer(
  error: Error,
  requestId: string,
): { status: number; message: string; headers?: readonly string[] } {
  if (error instanceof OipRequestError || error instanceof InputValidationError) {
    return { status: 400, message: error.message };
  }
  if (error instanceof InferenceError) return { status: 400, message: error.message };
  if (error instanceof BodyTooLargeError) return { status: 413, message: error.message };
  if (error instanceof QueueFullError) {
    return { status: 429, message: error.message, headers: ['Retry-After', String(RETRY_AFTER_SECONDS)] };
  }
  if (error instanceof InferenceTimeoutError) return { status: 504, message: error.message };
  if (error instanceof ExecutorClosedError) {
    return { status: 503, message: 'the server is shutting down; send the request to another replica' };
  }
  if (error instanceof WorkerCrashError) return { status: 500, message: error.message };
  return {
    status: 500,
    message: `internal server error (request id ${requestId}); the server log has the details`,
  };
}
