/**
 * The second step of `npm run build` (after tsc): writes what a model image takes from modelfab
 * into `build/server/`, which ships in the npm package (`files` in package.json):
 *
 * - `main.js`, `inference-worker.js`, `codec-worker.js`: the server bundled by esbuild from the
 *   TypeScript sources (`SERVER_BUNDLE_ENTRIES`), CommonJS for Node.js 20, everything inlined but
 *   onnxruntime-node (a native addon the image installs with npm ci). Not minified, so people can
 *   read what runs; no source maps; licence comments kept in place; modelfab's version compiled in
 *   (`__MODELFAB_VERSION__`, the bundle has no package.json beside it in the image).
 * - `runtime-lock.json`: the image's package.json and package-lock.json (`RuntimeManifests`),
 *   onnxruntime-node at the exact version package.json pins and its dependency closure, rendered
 *   from modelfab's own package-lock.json.
 *
 * The same sources and lockfile give the same bytes. Each file is written to a temporary name and
 * renamed, so a synth running meanwhile (another test, another build) reads whole files. Files
 * of an earlier layout are removed, so the package ships only these four.
 *
 * Run: `tsx tools/build-server.ts` (what `npm run build` runs); the vitest global setup
 * (`test/global-setup.ts`) calls {@link buildServer} so tests from sources read a fresh bundle.
 * Development tooling: esbuild is a dev dependency, and synth never runs it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { buildSync, type Message } from 'esbuild';
import { renderRuntimeManifests, RUNTIME_PACKAGE } from '../lib/render/runtime-lockfile';
import { RUNTIME_LOCK_FILE, SERVER_BUILD_DIR, SERVER_BUNDLE_ENTRIES } from '../lib/server/bundle-server';

/** What {@link buildServer} wrote. */
export interface BuiltServer {
  /** The folder written (absolute). */
  readonly dir: string;
  /** The file names written in it, sorted, with their sizes in bytes. */
  readonly files: ReadonlyArray<{ readonly name: string; readonly bytes: number }>;
  /** The onnxruntime-node version the runtime lock pins. */
  readonly runtimeVersion: string;
  /** How many packages the runtime lock pins (onnxruntime-node and its dependency closure). */
  readonly runtimePackages: number;
}

/** The build failed: a message that names the file at fault and the fix. */
export class ServerBuildError extends Error {
  override readonly name = 'ServerBuildError';
}

/** modelfab's root: the folder above this script. */
const ROOT = path.resolve(__dirname, '..');

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ServerBuildError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

function formatMessages(messages: readonly Message[]): string {
  return messages
    .map((m) => (m.location ? `${m.location.file}:${m.location.line}: ${m.text}` : m.text))
    .join('; ');
}

/** The server bundle's files (name → contents), bundled from the sources under `root`. */
function bundle(root: string, version: string): Map<string, string> {
  const entryPoints: Record<string, string> = {};
  for (const [name, source] of Object.entries(SERVER_BUNDLE_ENTRIES)) {
    const file = path.join(root, source);
    if (!fs.existsSync(file)) throw new ServerBuildError(`cannot bundle the server: ${file} does not exist`);
    entryPoints[name] = file;
  }
  let outputFiles;
  try {
    ({ outputFiles } = buildSync({
      entryPoints,
      // Relative to the root, so the bundle's comments name stable paths (`// lib/server/main.ts`),
      // also when the root, its lib/ or its node_modules/ is reached through a symbolic link.
      absWorkingDir: root,
      preserveSymlinks: true,
      // The compiler settings tsc builds with (strict mode: the bundle starts with "use strict").
      tsconfig: path.join(root, 'tsconfig.json'),
      outdir: path.join(root, SERVER_BUILD_DIR),
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
      define: { __MODELFAB_VERSION__: JSON.stringify(version) },
    }));
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    throw new ServerBuildError(
      `cannot bundle the server: ${errors ? formatMessages(errors) : (error as Error).message}`,
    );
  }
  const files = new Map(outputFiles.map((output) => [path.basename(output.path), output.text]));
  const expected = Object.keys(SERVER_BUNDLE_ENTRIES).map((name) => `${name}.js`);
  if (files.size !== expected.length || !expected.every((name) => files.has(name))) {
    throw new ServerBuildError(
      `esbuild wrote ${JSON.stringify([...files.keys()])} instead of ${JSON.stringify(expected)}`,
    );
  }
  return files;
}

/** The exact version package.json pins the runtime package at. */
function pinnedRuntimeVersion(packageJsonFile: string, pkg: unknown): string {
  const spec = (pkg as { dependencies?: Record<string, unknown> }).dependencies?.[RUNTIME_PACKAGE];
  if (typeof spec !== 'string' || !/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/.test(spec)) {
    throw new ServerBuildError(
      `${packageJsonFile}: dependencies.${RUNTIME_PACKAGE} is ${JSON.stringify(spec)}; pin it at an exact version (e.g. "1.30.0", no ^ or ~), so the gate and the image run the same runtime`,
    );
  }
  return spec;
}

/** Writes `contents` to `file` through a temporary file in the same folder and a rename. */
function writeAtomically(file: string, contents: string): void {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(temporary, contents);
    fs.renameSync(temporary, file);
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}

/**
 * Bundles the server and renders the image's runtime lock into `<root>/build/server/`.
 *
 * @param root modelfab's root (its package.json, package-lock.json and `lib/` sources)
 * @throws ServerBuildError when a source is missing or esbuild fails, or package.json does not pin
 *   onnxruntime-node exactly
 * @throws RuntimeLockError when package-lock.json cannot pin onnxruntime-node and its dependencies
 */
export function buildServer(root: string = ROOT): BuiltServer {
  const packageJsonFile = path.join(root, 'package.json');
  const pkg = readJson(packageJsonFile) as { version?: unknown };
  if (typeof pkg.version !== 'string') throw new ServerBuildError(`${packageJsonFile} has no version`);
  const lockfilePath = path.join(root, 'package-lock.json');
  const manifests = renderRuntimeManifests({
    lockfilePath,
    lock: readJson(lockfilePath),
    rootLocation: `node_modules/${RUNTIME_PACKAGE}`,
    pinnedVersion: pinnedRuntimeVersion(packageJsonFile, pkg),
  });
  const files = bundle(root, pkg.version);
  files.set(RUNTIME_LOCK_FILE, `${JSON.stringify(manifests, null, 2)}\n`);

  const dir = path.join(root, SERVER_BUILD_DIR);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, contents] of files) writeAtomically(path.join(dir, name), contents);
  // What an earlier layout left: not ours to ship. Dot files are other builds' temporary files.
  for (const name of fs.readdirSync(dir)) {
    if (!files.has(name) && !name.startsWith('.')) fs.rmSync(path.join(dir, name), { recursive: true });
  }
  return {
    dir,
    files: [...files]
      .map(([name, contents]) => ({ name, bytes: Buffer.byteLength(contents) }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
    runtimeVersion: manifests.version,
    runtimePackages: Object.keys(manifests.packageLock.packages).length - 1,
  };
}

if (require.main === module) {
  try {
    const built = buildServer();
    const sizes = built.files.map((f) => `${f.name} (${(f.bytes / 1024).toFixed(1)} KiB)`).join(', ');
    console.log(`${path.relative(process.cwd(), built.dir) || '.'}: ${sizes}`);
    console.log(
      `  the image pins ${RUNTIME_PACKAGE} ${built.runtimeVersion} (${built.runtimePackages} packages with their dependencies)`,
    );
  } catch (error) {
    console.error(`tools/build-server: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
