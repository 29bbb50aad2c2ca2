/**
 * The image's `package.json` and `package-lock.json`: onnxruntime-node at exactly the version
 * modelfab pins and its dependency closure, each package pinned by version, resolved URL and
 * integrity, taken from modelfab's own `package-lock.json`. They are rendered when modelfab is
 * built (`tools/build-server.ts` writes them to `build/server/runtime-lock.json`, which ships in
 * the npm package) and read back at synth time ({@link parseRuntimeManifests}), so the image does
 * not depend on how, or with which package manager, a project installed modelfab. Pure: callers
 * read the files and pass their JSON in.
 */

/** The package the image installs; everything else in the lockfile is its dependency closure. */
export const RUNTIME_PACKAGE = 'onnxruntime-node';

/** The registry the image's lockfile names in `resolved` when the source lock has no URL. */
export const NPM_REGISTRY = 'https://registry.npmjs.org/';

/** Where the lock data comes from: modelfab's package-lock.json, parsed, and where the runtime package sits in it. */
export interface RuntimeLockSource {
  /** Path of the lockfile read, for messages. */
  readonly lockfilePath: string;
  /** The parsed JSON of that file. */
  readonly lock: unknown;
  /** The runtime package's location among the lock's packages, e.g. `node_modules/onnxruntime-node`. */
  readonly rootLocation: string;
  /** The exact version modelfab's package.json pins the runtime package at; the lock must hold it. */
  readonly pinnedVersion: string;
}

/** One package entry of a lockfile v3 (the fields this module keeps). */
export interface LockedPackage {
  /** The package's real name, when the location's folder name is an alias. */
  readonly name?: string;
  readonly version: string;
  /** Absent when npm was configured to leave registry URLs out (`omit-lockfile-registry-resolved`). */
  readonly resolved?: string;
  readonly integrity?: string;
  readonly license?: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>;
  readonly bin?: unknown;
  readonly engines?: unknown;
  readonly os?: readonly string[];
  readonly cpu?: readonly string[];
  readonly hasInstallScript?: boolean;
  readonly inBundle?: boolean;
  /** Recomputed: set when only optional dependencies lead to the package. */
  readonly optional?: boolean;
}

/** The two files npm ci installs from. */
export interface RuntimeManifests {
  /** The runtime package's exact version. */
  readonly version: string;
  readonly packageJson: {
    readonly name: string;
    readonly version: string;
    readonly private: true;
    readonly description: string;
    readonly license: string;
    readonly dependencies: Readonly<Record<string, string>>;
  };
  readonly packageLock: {
    readonly name: string;
    readonly version: string;
    readonly lockfileVersion: 3;
    readonly requires: true;
    readonly packages: Readonly<Record<string, unknown>>;
  };
}

/** The lock data cannot produce a lockfile for the image. */
export class RuntimeLockError extends Error {
  override readonly name = 'RuntimeLockError';
}

const KEPT_FIELDS = [
  'name',
  'version',
  'resolved',
  'integrity',
  'license',
  'dependencies',
  'optionalDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'bin',
  'engines',
  'os',
  'cpu',
  'hasInstallScript',
  'inBundle',
] as const;

const IMAGE_PACKAGE_NAME = 'modelfab-model-image';
const IMAGE_PACKAGE_VERSION = '1.0.0';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The package name a lock location holds: the folder after its last `node_modules/` (with its scope). */
export function lockedPackageName(location: string): string {
  const cut = location.lastIndexOf('node_modules/');
  return location.slice(cut < 0 ? 0 : cut + 'node_modules/'.length);
}

/**
 * The URL npm's registry serves `name@version` at (`https://registry.npmjs.org/@scope/pkg/-/pkg-1.0.0.tgz`).
 * npm writes it in `resolved` unless configured not to (`omit-lockfile-registry-resolved`); npm ci
 * maps it onto the registry configured where it runs (`replace-registry-host`).
 */
export function registryTarballUrl(name: string, version: string, registry: string = NPM_REGISTRY): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return `${registry.replace(/\/?$/, '/')}${name}/-/${base}-${version}.tgz`;
}

/** The location of the package that `name`, required from `from`, resolves to (Node's lookup). */
export function resolveLockedDependency(
  packages: Readonly<Record<string, unknown>>,
  from: string,
  name: string,
): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (packages[candidate] !== undefined) return candidate;
    if (base === '') return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut < 0 ? '' : base.slice(0, cut);
  }
}

/** The dependency edges of a locked package: name and whether the edge is optional. */
function edges(entry: LockedPackage): Array<{ name: string; optional: boolean }> {
  const out = new Map<string, boolean>();
  for (const name of Object.keys(entry.dependencies ?? {})) out.set(name, false);
  for (const name of Object.keys(entry.optionalDependencies ?? {})) out.set(name, true);
  for (const name of Object.keys(entry.peerDependencies ?? {})) {
    if (!out.has(name)) out.set(name, entry.peerDependenciesMeta?.[name]?.optional === true);
  }
  return [...out].map(([name, optional]) => ({ name, optional }));
}

/**
 * The image's package.json and package-lock.json: the runtime package and every package its
 * dependencies resolve to in the source lock, at the same relative places (the runtime package's
 * own `node_modules` folder becomes the image's), each entry with its version, resolved URL (the
 * source's, or npm's registry URL for the name and version when the source lock omits it) and
 * integrity. Development flags are dropped: every package is a production dependency of the image.
 *
 * @throws RuntimeLockError naming the lockfile, the package at fault and the fix
 */
export function renderRuntimeManifests(source: RuntimeLockSource): RuntimeManifests {
  const file = source.lockfilePath;
  function fail(what: string, fix: string): never {
    throw new RuntimeLockError(`${file}: ${what}; ${fix}`);
  }
  const lock = source.lock;
  if (!isRecord(lock) || !isRecord(lock.packages)) {
    fail(
      'has no "packages" map (lockfileVersion 2 or 3 expected)',
      'reinstall with npm 7 or later (npm install)',
    );
  }
  const packages = (lock as { packages: Record<string, unknown> }).packages;
  const entryAt = (location: string): LockedPackage => {
    const entry = packages[location];
    if (!isRecord(entry) || typeof entry.version !== 'string') {
      if (isRecord(entry) && entry.link === true) {
        fail(
          `${location} is a link to ${String(entry.resolved)}, which cannot be pinned for the image`,
          `install ${RUNTIME_PACKAGE} and its dependencies from the registry`,
        );
      }
      fail(`${location} has no version`, 'reinstall (npm install) to rewrite the lockfile');
    }
    return entry as unknown as LockedPackage;
  };

  const root = source.rootLocation;
  if (root !== `node_modules/${RUNTIME_PACKAGE}` && !root.endsWith(`/node_modules/${RUNTIME_PACKAGE}`)) {
    fail(
      `${RUNTIME_PACKAGE} is at ${JSON.stringify(root)}, not in a node_modules folder`,
      `install ${RUNTIME_PACKAGE} from the registry with npm`,
    );
  }
  const rootEntry = entryAt(root);
  if (rootEntry.version !== source.pinnedVersion) {
    fail(
      `locks ${RUNTIME_PACKAGE} ${rootEntry.version} but package.json pins ${source.pinnedVersion}`,
      'the lockfile is stale: run npm install',
    );
  }

  // Every package the runtime package's dependencies reach; `required` marks those a chain of
  // non-optional edges reaches.
  const reached = new Map<string, boolean>([[root, true]]);
  const queue: string[] = [root];
  const resolvedEdges = new Map<string, Map<string, string>>();
  while (queue.length > 0) {
    const location = queue.shift()!;
    const required = reached.get(location)!;
    const targets = new Map<string, string>();
    for (const edge of edges(entryAt(location))) {
      const target = resolveLockedDependency(packages, location, edge.name);
      if (target === undefined) {
        if (edge.optional) continue; // skipped on this platform, or an absent optional peer
        fail(
          `${location} depends on ${edge.name}, which the lockfile does not have`,
          'reinstall (npm install) to complete the lockfile',
        );
      }
      targets.set(edge.name, target);
      const wasRequired = reached.get(target);
      const nowRequired = required && !edge.optional;
      if (wasRequired === undefined || (nowRequired && !wasRequired)) {
        reached.set(target, nowRequired);
        queue.push(target);
      }
    }
    resolvedEdges.set(location, targets);
  }

  // The runtime package's folder becomes the image's root.
  const prefix = root.slice(0, root.length - `node_modules/${RUNTIME_PACKAGE}`.length);
  const relocate = (location: string): string =>
    location.startsWith(prefix) ? location.slice(prefix.length) : location;
  const relocated = new Map<string, string>();
  for (const location of reached.keys()) {
    const target = relocate(location);
    const clash = [...relocated].find(([, other]) => other === target);
    if (clash) {
      fail(
        `${clash[0]} and ${location} would both install at ${target}`,
        'run npm dedupe so one version of the package serves both',
      );
    }
    relocated.set(location, target);
  }

  const out: Record<string, unknown> = {};
  const order = [...reached.keys()].sort((a, b) => (relocate(a) < relocate(b) ? -1 : 1));
  for (const location of order) {
    const entry = entryAt(location);
    if (entry.integrity === undefined && entry.inBundle !== true) {
      fail(
        `${location} has no integrity hash`,
        'reinstall from a registry (npm install) so every package is pinned by its hash',
      );
    }
    const resolved =
      entry.resolved ??
      (entry.inBundle === true
        ? undefined
        : registryTarballUrl(entry.name ?? lockedPackageName(location), entry.version));
    const kept: Record<string, unknown> = {};
    for (const field of KEPT_FIELDS) {
      const value = field === 'resolved' ? resolved : entry[field];
      if (value !== undefined) kept[field] = value;
    }
    if (!reached.get(location)) kept.optional = true;
    out[relocate(location)] = kept;
  }

  // The relocated tree must resolve every edge to the same package as the source tree.
  for (const [location, targets] of resolvedEdges) {
    for (const [name, target] of targets) {
      const now = resolveLockedDependency(out, relocate(location), name);
      if (now !== relocate(target)) {
        fail(
          `${location} resolves ${name} to ${target}, but in the image it would resolve to ${String(now)}`,
          'run npm dedupe so the dependency tree is flat',
        );
      }
    }
  }

  const version = rootEntry.version;
  const dependencies = { [RUNTIME_PACKAGE]: version };
  return {
    version,
    packageJson: {
      name: IMAGE_PACKAGE_NAME,
      version: IMAGE_PACKAGE_VERSION,
      private: true,
      description: `The runtime dependencies of a modelfab model image: ${RUNTIME_PACKAGE} ${version}.`,
      license: 'UNLICENSED',
      dependencies,
    },
    packageLock: {
      name: IMAGE_PACKAGE_NAME,
      version: IMAGE_PACKAGE_VERSION,
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: IMAGE_PACKAGE_NAME, version: IMAGE_PACKAGE_VERSION, license: 'UNLICENSED', dependencies },
        ...out,
      },
    },
  };
}

/**
 * Checks runtime manifests read back from a file (what {@link renderRuntimeManifests} returned
 * when modelfab was built) and returns them typed: the same runtime version in the manifest, the
 * package.json, the lockfile's root and its `node_modules/onnxruntime-node` entry, and every
 * locked package pinned by version, resolved URL and integrity.
 *
 * @param file the file the value was read from, for messages
 * @throws RuntimeLockError naming the file, what is wrong, and that rebuilding modelfab rewrites it
 */
export function parseRuntimeManifests(value: unknown, file: string): RuntimeManifests {
  function fail(what: string): never {
    throw new RuntimeLockError(
      `${file}: ${what}; the file is written when modelfab is built: run npm run build in modelfab's sources, or reinstall modelfab`,
    );
  }
  if (!isRecord(value)) fail('is not a JSON object');
  const { version, packageJson, packageLock } = value;
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/.test(version)) {
    fail(`"version" is ${JSON.stringify(version)}, not an exact version of ${RUNTIME_PACKAGE}`);
  }
  const dependencies = { [RUNTIME_PACKAGE]: version };
  const sameDependencies = (deps: unknown): boolean =>
    isRecord(deps) && Object.keys(deps).length === 1 && deps[RUNTIME_PACKAGE] === version;
  if (!isRecord(packageJson) || !sameDependencies(packageJson.dependencies)) {
    fail(`"packageJson.dependencies" is not ${JSON.stringify(dependencies)}`);
  }
  if (!isRecord(packageLock) || packageLock.lockfileVersion !== 3 || !isRecord(packageLock.packages)) {
    fail('"packageLock" is not a lockfile of lockfileVersion 3 with a "packages" map');
  }
  const packages = packageLock.packages;
  const root = packages[''];
  if (!isRecord(root) || !sameDependencies(root.dependencies)) {
    fail(`"packageLock.packages[""].dependencies" is not ${JSON.stringify(dependencies)}`);
  }
  const runtime = packages[`node_modules/${RUNTIME_PACKAGE}`];
  if (!isRecord(runtime) || runtime.version !== version) {
    fail(`the lockfile does not lock node_modules/${RUNTIME_PACKAGE} at ${version}`);
  }
  for (const [location, entry] of Object.entries(packages)) {
    if (location === '') continue;
    if (!isRecord(entry) || typeof entry.version !== 'string') fail(`${location} has no version`);
    if (entry.inBundle === true) continue;
    if (typeof entry.resolved !== 'string' || typeof entry.integrity !== 'string') {
      fail(`${location} is not pinned by a resolved URL and an integrity hash`);
    }
  }
  return value as unknown as RuntimeManifests;
}
