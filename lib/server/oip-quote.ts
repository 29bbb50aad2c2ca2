/**
 * How the codec's messages (OipRequestError) quote what a client sent: briefly, so that an error
 * answer never carries a request's tensor data in full.
 */
import { show } from '../core';

/** The longest a received value is quoted in a message. */
const MAX_QUOTE = 80;

/** `show(value)`, cut to {@link MAX_QUOTE} characters so a message never carries tensor data in full. */
export function brief(value: unknown): string {
  const text = show(value);
  return text.length > MAX_QUOTE ? `${text.slice(0, MAX_QUOTE)}…` : text;
}

/** A message cut to a length an error answer can carry. */
export function clip(message: string): string {
  return message.length > 4 * MAX_QUOTE ? `${message.slice(0, 4 * MAX_QUOTE)}…` : message;
}
