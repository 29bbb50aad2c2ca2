/**
 * What a model image takes from this installation of modelfab. Both are made when modelfab is
 * built (`npm run build` runs `tools/build-server.ts` after tsc) and ship in its npm package under
 * `build/server/`:
 *
 * - the server bundled by esbuild into three files: the HTTP server (`main.js`), the inference
 *   worker the executor starts (`inference-worker.js`) and the codec worker the server starts for
 *   large bodies (`codec-worker.js`);
 * - `runtime-lock.json`: the image's `package.json` and `package-lock.json`, which pin
 *   onnxruntime-node at the exact version modelfab depends on, and its dependency closure, by
 *   resolved URL and integrity, rendered from modelfab's own `package-lock.json`.
 *
 * Synth only reads these files: no bundler runs, and nothing of the project that installed
 * modelfab (its lockfile, its package manager, its node_modules layout) goes into the image, so a
 * modelfab package gives the same build context installed with npm, pnpm or anything else. When
 * the files are missing, synth fails and says how to make them; it never falls back to building.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type BundleFile } from '../render/render-build-context';
import { parseRuntimeManifests, RUNTIME_PACKAGE, type RuntimeManifests } from '../render/runtime-lockfile';

/** The server bundle or the runtime manifests are missing, unreadable, or do not fit this installation. */
export class ServerBundleError extends Error {
  override readonly name = 'ServerBundleError';
}

/** The bundle's folder in the build context. */
export const SERVER_BUNDLE_DIR = 'server';

/**
 * The bundle's entry points: the bundle file's name without `.js` → its source, relative to
 * modelfab's root. `tools/build-server.ts` bundles them; the names give the files above.
 */
export const SERVER_BUNDLE_ENTRIES: Readonly<Record<string, string>> = {
  main: 'lib/server/main.ts',
  'inference-worker': 'lib/runtime/inference-worker.ts',
  'codec-worker': 'lib/server/codec-worker.ts',
};

/** Where the build writes the bundle and the runtime manifests, relative to modelfab's root (shipped in the package). */
export const SERVER_BUILD_DIR = 'build/server';

/** The runtime manifests' file in {@link SERVER_BUILD_DIR}: a {@link RuntimeManifests} as JSON. */
export const RUNTIME_LOCK_FILE = 'runtime-lock.json';

/** The package name this module looks for above itself to find modelfab's root. */
const PACKAGE_NAME = 'modelfab';

/**
 * modelfab's root: the nearest folder at or above `fromDir` whose package.json is named
 * `modelfab` (the clone when running from sources or `build/`, the installed package otherwise).
 *
 * @throws ServerBundleError when there is none
 */
export function modelfabRoot(fromDir: string = __dirname): string {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === PACKAGE_NAME) return dir;
    } catch {
      // no (readable) package.json here: look further up
    }
    if (path.dirname(dir) === dir) {
      throw new ServerBundleError(
        `cannot find modelfab's package.json above ${fromDir}, so not its server bundle either; reinstall modelfab`,
      );
    }
  }
}

/** What to do when a built file is missing or broken, for the installation at `root`. */
function rebuildHint(root: string): string {
  return `it is made when modelfab is built: run npm run build in ${root} when working from modelfab's sources, or reinstall modelfab (its npm package ships it)`;
}

function readBuiltFile(root: string, name: string, what: string): string {
  const file = path.join(root, SERVER_BUILD_DIR, name);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (error as Error).message;
    throw new ServerBundleError(`${what} ${file} ${reason}; ${rebuildHint(root)}`);
  }
}

/**
 * The server bundle's entry file (`build/server/main.js`) of the modelfab installation at `root`:
 * what the image runs, and what the gate starts to measure the served path.
 *
 * @throws ServerBundleError when it is missing, naming it and how to make it
 */
export function serverEntryFile(root: string = modelfabRoot()): string {
  const file = path.join(root, SERVER_BUILD_DIR, 'main.js');
  if (!fs.existsSync(file))
    throw new ServerBundleError(`the server bundle file ${file} does not exist; ${rebuildHint(root)}`);
  return file;
}

const bundles = new Map<string, readonly BundleFile[]>();

/**
 * The server bundle as the build context holds it: `server/codec-worker.js`,
 * `server/inference-worker.js` and `server/main.js` (sorted), read from `build/server/` of the
 * modelfab installation at `root`. Read once per process and root.
 *
 * @throws ServerBundleError when a file is missing or unreadable, naming it and how to make it
 */
export function loadServerBundle(root: string = modelfabRoot()): readonly BundleFile[] {
  const cached = bundles.get(root);
  if (cached) return cached;
  const files = Object.keys(SERVER_BUNDLE_ENTRIES)
    .map((name) => `${name}.js`)
    .sort()
    .map((name) => ({
      path: `${SERVER_BUNDLE_DIR}/${name}`,
      contents: readBuiltFile(root, name, 'the server bundle file'),
    }));
  bundles.set(root, files);
  return files;
}

/**
 * The version of onnxruntime-node that modelfab at `root` loads (the gate's runtime): what
 * Node.js resolves from there.
 *
 * @throws ServerBundleError when it cannot be found or read
 */
export function installedRuntimeVersion(root: string = modelfabRoot()): string {
  let file: string;
  try {
    file = require.resolve(`${RUNTIME_PACKAGE}/package.json`, { paths: [root] });
  } catch (error) {
    throw new ServerBundleError(
      `cannot find ${RUNTIME_PACKAGE} from ${root}: ${(error as Error).message}; install modelfab's dependencies`,
    );
  }
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch (error) {
    throw new ServerBundleError(
      `cannot read ${file}: ${(error as Error).message}; reinstall ${RUNTIME_PACKAGE}`,
    );
  }
}

const manifests = new Map<string, RuntimeManifests>();

/**
 * The image's runtime manifests (package.json and package-lock.json pinning onnxruntime-node),
 * read from `build/server/runtime-lock.json` of the modelfab installation at `root`, and checked
 * against the onnxruntime-node that installation loads, so the gate measures the runtime the
 * image runs. Read once per process and root.
 *
 * @throws ServerBundleError when the file is missing or unreadable, or the installed
 *   onnxruntime-node is another version (an override or resolution replaced modelfab's pin)
 * @throws RuntimeLockError when the file does not hold valid manifests
 */
export function loadRuntimeManifests(root: string = modelfabRoot()): RuntimeManifests {
  const cached = manifests.get(root);
  if (cached) return cached;
  const file = path.join(root, SERVER_BUILD_DIR, RUNTIME_LOCK_FILE);
  const text = readBuiltFile(root, RUNTIME_LOCK_FILE, "the image's runtime lock");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ServerBundleError(`cannot parse ${file}: ${(error as Error).message}; ${rebuildHint(root)}`);
  }
  const parsed = parseRuntimeManifests(value, file);
  const installed = installedRuntimeVersion(root);
  if (installed !== parsed.version) {
    throw new ServerBundleError(
      `modelfab pins ${RUNTIME_PACKAGE} ${parsed.version} for the image, but ${installed} is installed for the gate; remove the override or resolution that replaced it, so the gate measures the runtime the image runs`,
    );
  }
  manifests.set(root, parsed);
  return parsed;
}
