/**
 * The image's `package.json` and `package-lock.json`: onnxruntime-node at exactly the installed
 * version and its dependency closure, each package pinned by version and integrity, taken from the
 * lock data of the project that installed modelfab (npm's hidden lockfile,
 * `node_modules/.package-lock.json`). Pure: the caller reads the file and passes its JSON in.
 */

/** The package the image installs; everything else in the lockfile is its dependency closure. */
export const RUNTIME_PACKAGE = 'onnxruntime-node';

/** Where the lock data comes from: npm's hidden lockfile, parsed, and where the runtime package sits in it. */
export interface RuntimeLockSource {
  /** Absolute path of the lockfile read, for messages. */
  readonly lockfilePath: string;
  /** The parsed JSON of that file. */
  readonly lock: unknown;
  /** The runtime package's location among the lock's packages, e.g. `node_modules/onnxruntime-node`. */
  readonly rootLocation: string;
  /** The version of the runtime package installed there (its own package.json). */
  readonly installedVersion: string;
}

/** One package entry of a lockfile v3 (the fields this module keeps). */
export interface LockedPackage {
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
 * own `node_modules` folder becomes the image's), each entry with its version, resolved URL (when
 * the source has one) and integrity. Development flags are dropped: every package is a
 * production dependency of the image.
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
  if (rootEntry.version !== source.installedVersion) {
    fail(
      `locks ${RUNTIME_PACKAGE} ${rootEntry.version} but ${source.installedVersion} is installed`,
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
    const kept: Record<string, unknown> = {};
    for (const field of KEPT_FIELDS) {
      if (entry[field] !== undefined) kept[field] = entry[field];
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
