/**
 * The error of the Open Inference Protocol codec: a request that does not follow the protocol
 * (REST JSON, binary tensor data extension) or the model's signature.
 */

/**
 * A request body that does not follow the protocol or the model's signature; the server answers
 * 400 with its message. Messages are lower-case, name the part of the request that is wrong
 * (the input, the output, the field) and say what was received and what is expected, without
 * echoing tensor data in full.
 */
export class OipRequestError extends Error {
  override readonly name = 'OipRequestError';
}
