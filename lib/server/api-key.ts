/**
 * The API key: read once from a mounted secret file, and compared with what a request presents in
 * constant time (both sides hashed first, so neither the key's length nor its content leaks
 * through timing).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { type IncomingHttpHeaders } from 'node:http';
import { SERVER_ENV } from '../core';

/** The API key file cannot be used. */
export class ApiKeyFileError extends Error {
  override readonly name = 'ApiKeyFileError';
}

function digest(text: string): Buffer {
  return crypto.createHash('sha256').update(text, 'utf8').digest();
}

/** The key a request presents: `Authorization: Bearer <key>`, else `X-API-Key: <key>`. */
export function presentedApiKey(headers: IncomingHttpHeaders): string | undefined {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const header = headers['x-api-key'];
  const value = Array.isArray(header) ? header[0] : header;
  return value === undefined ? undefined : value.trim();
}

/** Checks presented keys against one API key. */
export class ApiKey {
  private readonly expected: Buffer;

  private constructor(key: string) {
    this.expected = digest(key);
  }

  /**
   * Reads the key from `file` (a mounted secret); whitespace around it (a trailing newline) is
   * ignored.
   * @throws ApiKeyFileError when the file cannot be read, is empty, or holds whitespace inside the key
   */
  static fromFile(file: string): ApiKey {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new ApiKeyFileError(
        `cannot read the api key file ${file}: ${(error as Error).message}; mount the secret there or unset ${SERVER_ENV.apiKeyFile}`,
      );
    }
    const key = text.trim();
    if (key === '') {
      throw new ApiKeyFileError(`the api key file ${file} is empty; write the key into the secret`);
    }
    if (/\s/.test(key)) {
      throw new ApiKeyFileError(
        `the api key in ${file} contains whitespace, which an Authorization header cannot carry; use a key without spaces or line breaks`,
      );
    }
    return new ApiKey(key);
  }

  /** True when the request presents this key; constant time in the presented key. */
  accepts(headers: IncomingHttpHeaders): boolean {
    const presented = presentedApiKey(headers);
    // Hash even when nothing is presented, so a missing key takes as long as a wrong one.
    const matches = crypto.timingSafeEqual(digest(presented ?? ''), this.expected);
    return presented !== undefined && matches;
  }
}
