/**
 * Local stand-ins for the generated Dockerfile's base images, since no image registry is reachable:
 * a Debian bookworm builder with this host's Node.js and npm (for `npm ci`), and a distroless-like
 * runtime with only Node.js at /nodejs/bin/node and the C/C++ runtime libraries, no shell.
 * Both come from one `debootstrap --variant=minbase bookworm` and are imported with `podman import`.
 * Creation is cached: an image is rebuilt only when it is missing or its recipe label differs.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { show } from '../../lib/core';
import { APT_INSTALL_LINE, PODMAN_GLOBAL_FLAGS, imageExists, podman, runCommand } from './podman';

/** The builder stage's base: debootstrap minbase bookworm + this host's node and npm. */
export const BUILDER_BASE_IMAGE = 'localhost/modelfab-test-builder';

/** The runtime stage's base: distroless-like, node at /nodejs/bin/node, uid 65532, no shell. */
export const RUNTIME_BASE_IMAGE = 'localhost/modelfab-test-runtime';

/** The label that records which recipe (and which host node) made a base image. */
export const RECIPE_LABEL = 'dev.modelfab.test-base-recipe';

/** Bumped when the recipe below changes, so cached images are rebuilt. */
const RECIPE_VERSION = 2;

/** The Debian packages whose files make the runtime rootfs (what distroless' `cc` images hold). */
const RUNTIME_PACKAGES = ['libc6', 'libgcc-s1', 'libstdc++6'];

/** Debian's default PATH. */
const DEFAULT_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** distroless' users: root, nobody, and nonroot (65532), none with a login shell. */
const PASSWD = [
  'root:x:0:0:root:/root:/sbin/nologin',
  'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin',
  'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin',
];
const GROUP = ['root:x:0:', 'nobody:x:65534:', 'nonroot:x:65532:'];

/** The two base image names, for the Dockerfile's `BUILDER_IMAGE` / `RUNTIME_IMAGE` build args. */
export interface BaseImages {
  readonly builder: string;
  readonly runtime: string;
}

/** Options of {@link ensureBaseImages}. */
export interface EnsureBaseImagesOptions {
  /**
   * Progress lines.
   * @default written to stderr
   */
  readonly log?: (line: string) => void;
}

/** Where this host's Node.js and npm live; they are copied into the builder at the same paths. */
interface HostNode {
  /** Absolute path of the node binary (`process.execPath`, symlinks resolved). */
  readonly node: string;
  /** npm's package folder, e.g. /usr/lib/node_modules/npm. */
  readonly npmDir: string;
  readonly nodeVersion: string;
  readonly npmVersion: string;
}

function hostNode(): HostNode {
  const node = fs.realpathSync(process.execPath);
  // npm's own layout: <prefix>/lib/node_modules/npm next to <prefix>/bin/node (Debian, nodesource, nvm, tarballs).
  const npmDir = path.join(path.dirname(path.dirname(node)), 'lib', 'node_modules', 'npm');
  const npmPackage = path.join(npmDir, 'package.json');
  if (!fs.existsSync(npmPackage)) {
    throw new Error(
      `npm not found at ${show(npmDir)} beside node ${show(node)}; the builder base image copies both from this host: install npm with node's own installer`,
    );
  }
  const { version } = JSON.parse(fs.readFileSync(npmPackage, 'utf8')) as { version: string };
  return { node, npmDir, nodeVersion: process.version, npmVersion: version };
}

/** The recipe key of each image: changes when the recipe or the host's node/npm change. */
function recipeKeys(host: HostNode): BaseImages {
  const key = (kind: string, parts: readonly unknown[]): string =>
    createHash('sha256')
      .update(JSON.stringify([kind, RECIPE_VERSION, ...parts]))
      .digest('hex')
      .slice(0, 16);
  return {
    builder: key('builder', [host.node, host.nodeVersion, host.npmDir, host.npmVersion]),
    runtime: key('runtime', [host.nodeVersion, RUNTIME_PACKAGES]),
  };
}

async function recipeOf(image: string): Promise<string | undefined> {
  if (!(await imageExists(image))) return undefined;
  const { stdout } = await podman([
    'image',
    'inspect',
    '--format',
    `{{index .Labels "${RECIPE_LABEL}"}}`,
    image,
  ]);
  return stdout.trim();
}

async function requireTools(): Promise<void> {
  for (const tool of ['podman', 'debootstrap']) {
    const found = await runCommand('sh', ['-c', `command -v ${tool}`], { check: false });
    if (found.code !== 0) {
      throw new Error(
        `${tool} is not installed; the image tests need podman and debootstrap: run \`${APT_INSTALL_LINE}\` as root (see DEVELOPERS.md)`,
      );
    }
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the image tests run as uid ${show(process.getuid?.())}, but debootstrap and rootful podman need root: run \`npm run test:image\` as root (see DEVELOPERS.md)`,
    );
  }
}

/**
 * Makes sure both base images exist, building the missing or outdated ones from one debootstrap
 * (about 40 s, plus about 10 s per import). Safe to call from every test run.
 */
export async function ensureBaseImages(options: EnsureBaseImagesOptions = {}): Promise<BaseImages> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[base images] ${line}\n`));
  await requireTools();
  const host = hostNode();
  const keys = recipeKeys(host);
  const builderCurrent = (await recipeOf(BUILDER_BASE_IMAGE)) === keys.builder;
  const runtimeCurrent = (await recipeOf(RUNTIME_BASE_IMAGE)) === keys.runtime;
  const images = { builder: BUILDER_BASE_IMAGE, runtime: RUNTIME_BASE_IMAGE };
  if (builderCurrent && runtimeCurrent) {
    log(`cached: ${images.builder} and ${images.runtime}`);
    return images;
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-base-images-'));
  try {
    const debian = path.join(work, 'debian');
    log(`debootstrap --variant=minbase bookworm into ${debian} (about 40 s)`);
    const started = Date.now();
    await runCommand('debootstrap', ['--variant=minbase', '--include=ca-certificates', 'bookworm', debian], {
      onLine: (line) => line.startsWith('I: Retrieving Release') && log(line),
      timeoutMs: 15 * 60_000,
    });
    log(`debootstrap done in ${((Date.now() - started) / 1000).toFixed(0)} s`);

    // The runtime first: it takes files out of the pristine Debian tree; the builder then changes that tree.
    if (!runtimeCurrent) {
      const rootfs = path.join(work, 'runtime');
      makeRuntimeRootfs(debian, rootfs, host);
      log(`importing ${images.runtime}`);
      await importRootfs(rootfs, images.runtime, [
        `LABEL ${RECIPE_LABEL}=${keys.runtime}`,
        `ENV PATH=${DEFAULT_PATH.join(':')}`,
        'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt',
        'USER 65532:65532',
        'WORKDIR /home/nonroot',
        'ENTRYPOINT ["/nodejs/bin/node"]',
      ]);
    }
    if (!builderCurrent) {
      makeBuilderRootfs(debian, host);
      log(`importing ${images.builder}`);
      await importRootfs(debian, images.builder, [
        `LABEL ${RECIPE_LABEL}=${keys.builder}`,
        `ENV PATH=${[...new Set([path.dirname(host.node), ...DEFAULT_PATH])].join(':')}`,
        // npm trusts the CA bundle below, which includes this host's own CAs (TLS-intercepting proxies).
        'ENV NPM_CONFIG_CAFILE=/etc/ssl/certs/ca-certificates.crt',
        'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
        'ENV NPM_CONFIG_UPDATE_NOTIFIER=false',
        'ENV NPM_CONFIG_FUND=false',
        'ENV NPM_CONFIG_AUDIT=false',
        'CMD ["/bin/bash"]',
      ]);
    }
    log(`ready: ${images.builder} and ${images.runtime}`);
    return images;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Adds this host's node and npm at their own paths, and the host's CA bundle, to the Debian tree. */
function makeBuilderRootfs(debian: string, host: HostNode): void {
  const inside = (p: string): string => path.join(debian, p);
  fs.mkdirSync(path.dirname(inside(host.node)), { recursive: true });
  fs.copyFileSync(host.node, inside(host.node));
  fs.chmodSync(inside(host.node), 0o755);
  fs.cpSync(host.npmDir, inside(host.npmDir), { recursive: true, verbatimSymlinks: true });
  const bin = path.dirname(host.node);
  for (const [name, script] of [
    ['npm', 'npm-cli.js'],
    ['npx', 'npx-cli.js'],
  ] as const) {
    const link = inside(path.join(bin, name));
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.relative(bin, path.join(host.npmDir, 'bin', script)), link);
  }
  // The host reaches the npm registry with its own trust store (it may hold a proxy's CA); so does the builder.
  const bundle = inside('etc/ssl/certs/ca-certificates.crt');
  const extra = [
    '/etc/ssl/certs/ca-certificates.crt',
    ...(process.env.NODE_EXTRA_CA_CERTS ? [process.env.NODE_EXTRA_CA_CERTS] : []),
  ];
  let pem = fs.readFileSync(bundle, 'utf8');
  for (const file of new Set(extra)) {
    if (fs.existsSync(file)) pem += `\n${fs.readFileSync(file, 'utf8')}`;
  }
  fs.writeFileSync(bundle, pem);
}

/** The files of one installed Debian package, from dpkg's database in `debian`. */
function packageFiles(debian: string, name: string): string[] {
  const info = path.join(debian, 'var/lib/dpkg/info');
  const list = fs
    .readdirSync(info)
    .find((file) => file === `${name}.list` || (file.startsWith(`${name}:`) && file.endsWith('.list')));
  if (!list)
    throw new Error(
      `package ${show(name)} is not installed in ${show(debian)}; debootstrap's minbase should hold it`,
    );
  return fs
    .readFileSync(path.join(info, list), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('/') && line !== '/.');
}

/** Copies `relative` from `from` to `to`, under the same path with its folders resolved (merged /usr). */
function copyFromTree(from: string, to: string, relative: string): void {
  const source = path.join(from, relative);
  const stat = fs.lstatSync(source, { throwIfNoEntry: false });
  if (!stat || stat.isDirectory()) return;
  // /lib/x86_64-linux-gnu/libc.so.6 lives at /usr/lib/...: /lib is a symlink in bookworm (merged /usr).
  const folder = path.relative(from, fs.realpathSync(path.dirname(source)));
  const target = path.join(to, folder, path.basename(relative));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.cpSync(source, target, { verbatimSymlinks: true, preserveTimestamps: true });
}

/**
 * A distroless-like rootfs (what gcr.io/distroless/nodejs20-debian12 holds): glibc, libgcc and libstdc++
 * (node and onnxruntime need them), the CA bundle, passwd/group with nonroot (65532), /tmp and
 * /nodejs/bin/node. No shell, no package manager, no coreutils.
 */
function makeRuntimeRootfs(debian: string, rootfs: string, host: HostNode): void {
  fs.mkdirSync(rootfs, { mode: 0o755 });
  for (const name of [
    'usr/bin',
    'usr/lib',
    'usr/lib64',
    'usr/sbin',
    'etc',
    'root',
    'home',
    'var',
    'proc',
    'sys',
    'dev',
  ]) {
    fs.mkdirSync(path.join(rootfs, name), { recursive: true, mode: 0o755 });
  }
  for (const name of ['bin', 'lib', 'lib64', 'sbin']) fs.symlinkSync(`usr/${name}`, path.join(rootfs, name));
  for (const name of RUNTIME_PACKAGES) {
    for (const file of packageFiles(debian, name)) {
      if (!file.startsWith('/usr/share/')) copyFromTree(debian, rootfs, file);
    }
  }
  for (const file of [
    '/etc/ld.so.cache',
    '/etc/ld.so.conf',
    '/etc/ssl/certs/ca-certificates.crt',
    '/usr/lib/os-release',
  ]) {
    copyFromTree(debian, rootfs, file);
  }
  fs.symlinkSync('../usr/lib/os-release', path.join(rootfs, 'etc/os-release'));
  fs.writeFileSync(path.join(rootfs, 'etc/passwd'), `${PASSWD.join('\n')}\n`, { mode: 0o644 });
  fs.writeFileSync(path.join(rootfs, 'etc/group'), `${GROUP.join('\n')}\n`, { mode: 0o644 });
  fs.writeFileSync(path.join(rootfs, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
  fs.mkdirSync(path.join(rootfs, 'tmp'));
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  fs.mkdirSync(path.join(rootfs, 'home/nonroot'), { mode: 0o700 });
  fs.chownSync(path.join(rootfs, 'home/nonroot'), 65532, 65532);
  fs.mkdirSync(path.join(rootfs, 'nodejs/bin'), { recursive: true });
  fs.copyFileSync(host.node, path.join(rootfs, 'nodejs/bin/node'));
  fs.chmodSync(path.join(rootfs, 'nodejs/bin/node'), 0o755);
}

/** `tar -C rootfs -c . | podman import --change … - image`. */
async function importRootfs(rootfs: string, image: string, changes: readonly string[]): Promise<void> {
  const tar = spawn('tar', ['-C', rootfs, '--numeric-owner', '-c', '.'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tarErr: Buffer[] = [];
  tar.stderr.on('data', (chunk: Buffer) => tarErr.push(chunk));
  const tarDone = new Promise<number>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) => resolve(code ?? 1));
  });
  const args = ['import'];
  for (const change of changes) args.push('--change', change);
  args.push('-', image);
  await runCommand('podman', [...PODMAN_GLOBAL_FLAGS, ...args], { input: tar.stdout });
  const code = await tarDone;
  if (code !== 0)
    throw new Error(`tar of ${show(rootfs)} exited with ${code}: ${Buffer.concat(tarErr).toString('utf8')}`);
}
