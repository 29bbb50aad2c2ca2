/**
 * The codec worker: a worker_threads entry that decodes large inference request bodies and
 * encodes large responses, so that parsing a body of many megabytes never holds the main thread
 * (and with it the health probes) for more than a message hop. It runs one job at a time under a
 * V8 heap limit (see CodecThread); a body whose decoding needs more ends this worker, not the server.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type CodecAnswer, type CodecJob, type CodecSetup, wholeBuffers } from './codec-protocol';
import { decodeInferRequest } from './oip-infer-request';
import { encodeInferResponse } from './oip-infer-response';

const { model } = workerData as CodecSetup;

function answer(message: CodecAnswer, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(message, transfer);
}

function run(job: CodecJob): void {
  try {
    if (job.kind === 'decode') {
      const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength);
      const decoded = decodeInferRequest(body, { headerLength: job.headerLength, model });
      // The request's parameters stay here: the server does not use them past decoding, and a
      // client's arbitrarily nested JSON must not cross threads (cloning it back could fail).
      const request = { ...decoded, parameters: {} };
      answer(
        { kind: 'decoded', id: job.id, request },
        wholeBuffers(Object.values(request.inputs).map((t) => t.data)),
      );
    } else {
      const encoded = encodeInferResponse(job.response);
      answer(
        {
          kind: 'encoded',
          id: job.id,
          body: encoded.body,
          contentType: encoded.contentType,
          headerLength: encoded.headerLength,
        },
        wholeBuffers([encoded.body]),
      );
    }
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    answer({ kind: 'failed', id: job.id, errorName: e.name, message: e.message });
  }
}

parentPort!.on('message', run);
