/**
 * Admission: whether the server takes a new inference request, decided from its headers alone,
 * before a byte of its body is read or parsed. A request the server cannot serve soon is refused
 * while refusing costs almost nothing, so the requests it did take keep their CPU (goodput holds
 * past saturation), and the memory held by bodies in flight stays bounded.
 */
/** Bodies the server may hold at once, as a multiple of the largest body. */
export const BODY_BUDGET_BODIES = 4;

/** The server already holds as many request body bytes as it may; the server answers 429. */
export class BodyBudgetError extends Error {
  override readonly name = 'BodyBudgetError';

  constructor(
    /** Bytes of bodies the server holds now. */
    readonly heldBytes: number,
    /** The most it holds. */
    readonly budgetBytes: number,
  ) {
    super(
      `the server is reading or decoding ${heldBytes} bytes of other request bodies, near its limit of ${budgetBytes}; retry later, or send smaller requests`,
    );
  }
}

/** An upload still under way when the server began to shut down; the server answers 503 and closes the connection. */
export class UploadCancelledError extends Error {
  override readonly name = 'UploadCancelledError';

  constructor() {
    super('the server is shutting down and takes no new requests; send the request to another replica');
  }
}

/** What admission counts. */
export interface AdmissionState {
  /** Requests admitted and not yet queued in the executor (their bodies are arriving or being decoded). */
  readonly admitted: number;
  /** Requests queued in the executor, waiting for a worker. */
  readonly queued: number;
  /** The queue bound: admitted and queued requests together stay within it. */
  readonly maxQueueSize: number;
  /** Body bytes reserved by admitted requests. */
  readonly heldBodyBytes: number;
  /** The most body bytes held at once. */
  readonly bodyBudgetBytes: number;
}

/**
 * The body bytes a request reserves on admission: its declared `Content-Length`, or the largest
 * body when it declares none (a chunked body may grow up to it).
 */
export function bodyReservation(declaredBytes: number | undefined, maxBodyBytes: number): number {
  return declaredBytes === undefined ? maxBodyBytes : Math.min(declaredBytes, maxBodyBytes);
}

/** Why admission refused a request. */
export type AdmissionRefusal =
  | { readonly reason: 'queue_full' }
  | { readonly reason: 'body_budget'; readonly heldBytes: number; readonly budgetBytes: number };

const QUEUE_FULL: AdmissionRefusal = { reason: 'queue_full' };

/**
 * Whether to admit a request that reserves `reserveBytes`: undefined to admit it, else why not. A
 * request is refused when the queue (admitted and queued requests) is full, or when its body
 * would take the bodies held past the budget (which holds several of the largest bodies, so a
 * lone request always fits). Refusing allocates nothing: it is the hot path under overload.
 */
export function admissionRefusal(state: AdmissionState, reserveBytes: number): AdmissionRefusal | undefined {
  if (state.admitted + state.queued >= state.maxQueueSize) return QUEUE_FULL;
  if (state.heldBodyBytes + reserveBytes > state.bodyBudgetBytes) {
    return { reason: 'body_budget', heldBytes: state.heldBodyBytes, budgetBytes: state.bodyBudgetBytes };
  }
  return undefined;
}
