import { inspect } from 'node:util';

/**
 * Errors raised for bad props. Every message starts with the construct path in brackets so a
 * user with many services knows which one to fix, then says the value received and the fix.
 */
export class ModelfabValidationError extends Error {
  override readonly name = 'ModelfabValidationError';

  constructor(
    /** The construct path (cdk8s) or resource name (Pulumi) the props belong to. */
    readonly constructPath: string,
    /** The prop at fault, dotted (`autoscaling.minReplicas`). */
    readonly prop: string,
    /** The problem, lower-case, with the value received and the fix. */
    readonly detail: string,
  ) {
    super(`[${constructPath}] ${detail}`);
  }
}

/** Formats a received value for a message: strings quoted, everything else as JSON. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  try {
    return JSON.stringify(value) ?? inspect(value);
  } catch {
    return inspect(value, { depth: 2, breakLength: Infinity }); // circular or BigInt
  }
}
