/**
 * What a model image takes from this installation of modelfab: the server bundled into two
 * files (the HTTP server and the inference worker it starts), and the lock data that pins the
 * server's one runtime dependency, onnxruntime-node, with its dependency closure. Both are effects
 * (esbuild, files); the renderer takes their results as plain data.
 *
 * The bundles come from the sources next to this file: `.ts` when running from sources (tests,
 * tsx), the compiled `.js` from `build/`. cdk8s synth is synchronous, so esbuild runs with
 * `buildSync`; the result is kept for the life of the process, as a synth may create many images.
 */
import fs from 'node:fs';
import path from 'node:path';
import { buildSync, type Message } from 'esbuild';
import { serverVersion } from './server-version';
import { type BundleFile } from '../render/render-build-context';
import { RUNTIME_PACKAGE, type RuntimeLockSource } from '../render/runtime-lockfile';

/** The entry files the bundle is built from. */
export interface ServerEntries {
  /** The HTTP server (`lib/server/main`). */
  readonly main: string;
  /** The inference worker the executor starts (`lib/runtime/inference-worker`). */
  readonly worker: string;
  /** The codec worker the server starts for large bodies (`lib/server/codec-worker`). */
  readonly codecWorker: string;
}

/** The server bundle could not be built. */
export class ServerBundleError extends Error {
  override readonly name = 'ServerBundleError';
}

/** The bundle's folder in the build context, and the file names the Dockerfile and the executor expect. */
export const SERVER_BUNDLE_DIR = 'server';
export const SERVER_MAIN_FILE = `${SERVER_BUNDLE_DIR}/main.js`;
export const SERVER_WORKER_FILE = `${SERVER_BUNDLE_DIR}/inference-worker.js`;
export const SERVER_CODEC_WORKER_FILE = `${SERVER_BUNDLE_DIR}/codec-worker.js`;

/**
 * The server's entry files for a module at `fromFile` (this file by default): `.ts` sources when
 * `fromFile` is TypeScript, compiled `.js` otherwise.
 */
export function serverEntries(fromFile: string = __filename): ServerEntries {
  const dir = path.dirname(fromFile);
  const ext = fromFile.endsWith('.ts') ? '.ts' : '.js';
  return {
    main: path.join(dir, `main${ext}`),
    worker: path.join(dir, '..', 'runtime', `inference-worker${ext}`),
    codecWorker: path.join(dir, `codec-worker${ext}`),
  };
}

/** The nearest folder at or above `dir` with a package.json: esbuild's working directory, so comments name stable paths. */
function packageRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return dir;
  }
}

function formatMessages(messages: readonly Message[]): string {
  return messages
    .map((m) => (m.location ? `${m.location.file}:${m.location.line}: ${m.text}` : m.text))
    .join('; ');
}

const bundles = new Map<string, readonly BundleFile[]>();

/**
 * The server bundled for the image: `server/main.js`, `server/inference-worker.js` and
 * `server/codec-worker.js`, CommonJS
 * for Node.js 20, everything inlined but onnxruntime-node (a native addon the image installs with
 * npm). Not minified, so people can read what runs; no source maps; licence comments kept in
 * place. The same sources give the same bytes. Built once per process and set of entries.
 *
 * @throws ServerBundleError when an entry file is missing or esbuild fails
 */
export function bundleServer(entries: ServerEntries = serverEntries()): readonly BundleFile[] {
  const key = `${entries.main}\0${entries.worker}\0${entries.codecWorker}`;
  const cached = bundles.get(key);
  if (cached) return cached;
  for (const file of [entries.main, entries.worker, entries.codecWorker]) {
    if (!fs.existsSync(file)) {
      throw new ServerBundleError(
        `cannot bundle the server: ${file} does not exist; reinstall modelfab, or run npm run build when working from its sources`,
      );
    }
  }
  const root = packageRoot(path.dirname(entries.main));
  let outputFiles;
  try {
    ({ outputFiles } = buildSync({
      entryPoints: {
        main: entries.main,
        'inference-worker': entries.worker,
        'codec-worker': entries.codecWorker,
      },
      absWorkingDir: root,
      outdir: path.join(root, SERVER_BUNDLE_DIR),
      bundle: true,
      write: false,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: [RUNTIME_PACKAGE],
      minify: false,
      sourcemap: false,
      legalComments: 'inline',
      charset: 'utf8',
      logLevel: 'silent',
      // The bundle has no package.json above it in the image: pin the version GET /v2 reports.
      define: { __MODELFAB_VERSION__: JSON.stringify(serverVersion()) },
    }));
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    throw new ServerBundleError(
      `cannot bundle the server from ${entries.main}: ${errors ? formatMessages(errors) : (error as Error).message}; reinstall modelfab`,
    );
  }
  const files = outputFiles
    .map((output) => ({ path: `${SERVER_BUNDLE_DIR}/${path.basename(output.path)}`, contents: output.text }))
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const names = files.map((f) => f.path);
  const expected = [SERVER_MAIN_FILE, SERVER_WORKER_FILE, SERVER_CODEC_WORKER_FILE];
  if (!expected.every((name) => names.includes(name))) {
    throw new ServerBundleError(
      `esbuild wrote ${JSON.stringify(names)} instead of ${expected.join(', ')}; reinstall modelfab`,
    );
  }
  bundles.set(key, files);
  return files;
}

/** The folder of the installed runtime package (`…/node_modules/onnxruntime-node`). */
function runtimePackageDir(): string {
  try {
    return path.dirname(require.resolve(`${RUNTIME_PACKAGE}/package.json`));
  } catch (error) {
    throw new ServerBundleError(
      `cannot find ${RUNTIME_PACKAGE}: ${(error as Error).message}; install modelfab's dependencies (npm install)`,
    );
  }
}

/**
 * Reads the lock data that pins the image's runtime dependencies: npm's hidden lockfile
 * (`node_modules/.package-lock.json`) of the project that installed onnxruntime-node, found by
 * walking up from the installed package, and where the package sits in it.
 *
 * @throws ServerBundleError when no hidden lockfile is found (the project was not installed with
 *   npm 7 or later) or it cannot be read
 */
export function loadRuntimeLockSource(packageDir: string = runtimePackageDir()): RuntimeLockSource {
  const installed = path.join(packageDir, 'package.json');
  let installedVersion: string;
  try {
    installedVersion = (JSON.parse(fs.readFileSync(installed, 'utf8')) as { version: string }).version;
  } catch (error) {
    throw new ServerBundleError(
      `cannot read ${installed}: ${(error as Error).message}; reinstall ${RUNTIME_PACKAGE} (npm install)`,
    );
  }
  for (let dir = path.dirname(packageDir); path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (path.basename(dir) !== 'node_modules') continue;
    const lockfilePath = path.join(dir, '.package-lock.json');
    if (!fs.existsSync(lockfilePath)) continue;
    let lock: unknown;
    try {
      lock = JSON.parse(fs.readFileSync(lockfilePath, 'utf8'));
    } catch (error) {
      throw new ServerBundleError(
        `cannot read npm's hidden lockfile ${lockfilePath}: ${(error as Error).message}; reinstall (npm install) to rewrite it`,
      );
    }
    const rootLocation = path.relative(path.dirname(dir), packageDir).split(path.sep).join('/');
    return { lockfilePath, lock, rootLocation, installedVersion };
  }
  throw new ServerBundleError(
    `cannot find npm's hidden lockfile (node_modules/.package-lock.json) above ${packageDir}; the image pins ${RUNTIME_PACKAGE} and its dependencies from it, so install your project with npm 7 or later (npm install or npm ci)`,
  );
}
