/**
 * The messages between the server's main thread and its codec worker (codec-worker.ts): one job
 * at a time, each answered once.
 */
import { type ModelInfo } from '../model';
import { type EncodedBody, type InferResponse } from './oip-infer-response';
import { type DecodedInferRequest } from './oip-infer-request';

/** What the codec worker starts with. */
export interface CodecSetup {
  /** The served model, whose signature requests are decoded against. */
  readonly model: ModelInfo;
}

/** A job for the codec worker. */
export type CodecJob =
  | {
      readonly kind: 'decode';
      readonly id: number;
      /** The request body (its buffer is transferred). */
      readonly body: Uint8Array;
      /** The `Inference-Header-Content-Length` value, when the request had one. */
      readonly headerLength: number | undefined;
    }
  | { readonly kind: 'encode'; readonly id: number; readonly response: InferResponse };

/** The codec worker's answer to one job. */
export type CodecAnswer =
  | {
      readonly kind: 'decoded';
      readonly id: number;
      /** The decoded request, its `parameters` left out (`{}`): the server does not use them past decoding. */
      readonly request: DecodedInferRequest;
    }
  | {
      readonly kind: 'encoded';
      readonly id: number;
      readonly body: Uint8Array;
      readonly contentType: EncodedBody['contentType'];
      readonly headerLength: number | undefined;
    }
  | {
      readonly kind: 'failed';
      readonly id: number;
      /** The error's class name: `OipRequestError` for a bad request, anything else is a fault. */
      readonly errorName: string;
      readonly message: string;
    };

/**
 * The buffers of `views` to transfer with a message: each view that spans its whole buffer, once.
 * A view into a larger buffer is left out (cloned instead), so no one else's data is detached.
 */
export function wholeBuffers(views: Iterable<ArrayBufferView | readonly string[]>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const view of views) {
    if (Array.isArray(view)) continue;
    const v = view as ArrayBufferView;
    if (v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) {
      buffers.add(v.buffer);
    }
  }
  return [...buffers];
}
