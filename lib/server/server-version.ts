/**
 * The modelfab version the server reports in `GET /v2`. The bundled server (esbuild) has no
 * package.json beside it: the bundler defines `__MODELFAB_VERSION__` as a string literal. From
 * sources or the compiled package, the version is read from modelfab's package.json.
 */
import fs from 'node:fs';
import path from 'node:path';

declare const __MODELFAB_VERSION__: string | undefined;

let cached: string | undefined;

function fromPackageJson(): string | undefined {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'modelfab' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no (readable) package.json here: look further up
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/**
 * modelfab's version: `__MODELFAB_VERSION__` when the bundler defined it, else the version in
 * the nearest package.json named `modelfab` above this file, else `'unknown'`.
 */
export function serverVersion(): string {
  if (cached === undefined) {
    const defined = typeof __MODELFAB_VERSION__ === 'string' ? __MODELFAB_VERSION__ : undefined;
    cached = defined ?? fromPackageJson() ?? 'unknown';
  }
  return cached;
}
