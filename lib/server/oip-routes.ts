/**
 * The Open Inference Protocol's REST paths, matched without a framework: which endpoint a request
 * path names, and which methods each endpoint takes.
 */

/** The paths of the server-wide endpoints. */
export const OIP_PATHS = {
  live: '/v2/health/live',
  ready: '/v2/health/ready',
  serverMetadata: '/v2',
} as const;

/** An endpoint of the server. */
export type OipRoute =
  | { readonly kind: 'live' }
  | { readonly kind: 'ready' }
  | { readonly kind: 'server-metadata' }
  | OipModelRoute;

/** An endpoint of the served model. */
export interface OipModelRoute {
  readonly kind: 'model-metadata' | 'model-ready' | 'infer';
  /** The model name in the path. */
  readonly model: string;
  /** The version in the path, when it names one. */
  readonly version: string | undefined;
}

/** The methods an endpoint takes (HEAD goes with GET). */
export function allowedMethods(route: OipRoute): readonly string[] {
  return route.kind === 'infer' ? ['POST'] : ['GET', 'HEAD'];
}

function decodeSegment(segment: string): string | undefined {
  try {
    const decoded = decodeURIComponent(segment);
    return decoded === '' || decoded.includes('/') ? undefined : decoded;
  } catch {
    return undefined; // a malformed %-escape: no such path
  }
}

/**
 * The endpoint a request target names (its query string ignored), or undefined when none:
 * `/v2/health/live`, `/v2/health/ready`, `/v2`, and `/v2/models/{name}[/versions/{version}]`
 * followed by nothing (metadata), `/ready` or `/infer`. Names are %-decoded.
 */
export function matchOipRoute(target: string): OipRoute | undefined {
  const query = target.indexOf('?');
  const path = query < 0 ? target : target.slice(0, query);
  if (path === OIP_PATHS.live) return { kind: 'live' };
  if (path === OIP_PATHS.ready) return { kind: 'ready' };
  if (path === OIP_PATHS.serverMetadata) return { kind: 'server-metadata' };
  const parts = path.split('/');
  // ['', 'v2', 'models', name, ...rest]
  if (parts.length < 4 || parts[0] !== '' || parts[1] !== 'v2' || parts[2] !== 'models') return undefined;
  const model = decodeSegment(parts[3]);
  if (model === undefined) return undefined;
  let rest = parts.slice(4);
  let version: string | undefined;
  if (rest[0] === 'versions') {
    if (rest.length < 2) return undefined;
    version = decodeSegment(rest[1]);
    if (version === undefined) return undefined;
    rest = rest.slice(2);
  }
  if (rest.length === 0) return { kind: 'model-metadata', model, version };
  if (rest.length === 1 && rest[0] === 'ready') return { kind: 'model-ready', model, version };
  if (rest.length === 1 && rest[0] === 'infer') return { kind: 'infer', model, version };
  return undefined;
}
