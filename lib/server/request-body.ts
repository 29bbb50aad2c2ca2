/**
 * Reads a request body into memory up to a limit, and stops at the limit: a body that is too
 * large is never buffered.
 */
import { type IncomingMessage } from 'node:http';

/** The body is larger than the server takes; the server answers 413. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';

  constructor(
    /** The limit, bytes. */
    readonly maxBodyBytes: number,
    /** The declared `Content-Length`, when the request declared one. */
    readonly declaredBytes: number | undefined,
  ) {
    super(
      declaredBytes !== undefined
        ? `the request body is ${declaredBytes} bytes, more than the server's limit of ${maxBodyBytes} bytes; send a smaller batch, or raise MODELFAB_MAX_BODY_BYTES`
        : `the request body is more than the server's limit of ${maxBodyBytes} bytes; send a smaller batch, or raise MODELFAB_MAX_BODY_BYTES`,
    );
  }
}

/** The client went away before its body arrived; there is no one to answer. */
export class ClientGoneError extends Error {
  override readonly name = 'ClientGoneError';
}

/**
 * The request's body, at most `maxBodyBytes`. A declared `Content-Length` over the limit fails
 * before reading anything; a body that grows past it fails as soon as it does, and the rest is
 * not read.
 * @throws BodyTooLargeError over the limit
 * @throws ClientGoneError when the request is aborted
 */
export function readRequestBody(request: IncomingMessage, maxBodyBytes: number): Promise<Buffer> {
  const declared = request.headers['content-length'];
  if (declared !== undefined) {
    const length = Number(declared);
    if (Number.isFinite(length) && length > maxBodyBytes) {
      return Promise.reject(new BodyTooLargeError(maxBodyBytes, length));
    }
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const detach = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBodyBytes) {
        detach();
        request.pause();
        chunks.length = 0;
        reject(new BodyTooLargeError(maxBodyBytes, undefined));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      detach();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
    };
    const onError = (error: Error) => {
      detach();
      reject(new ClientGoneError(`the request body could not be read: ${error.message}`));
    };
    const onClose = () => {
      if (request.complete) return;
      detach();
      reject(new ClientGoneError('the client closed the connection before its body arrived'));
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}
