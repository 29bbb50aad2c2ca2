/**
 * The image does not depend on how modelfab was installed (`npm run test:image`; needs the npm
 * registry, not podman): `npm pack` this checkout, install the tarball into two fresh cdk8s projects
 * with the README's own commands ("Install it in your infra repo"), one with npm and one with pnpm,
 * synthesize a ModelImage of the Iris model in each, and compare the two build contexts byte for
 * byte. Every child process gets this environment without the `npm_*` variables an `npm run` sets
 * and without `ONNXRUNTIME_NODE_INSTALL`, so the projects see only what a user's shell would and
 * the README's own skip of onnxruntime's CUDA download is what applies.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareModelImage } from '../../lib/pipeline';
import { IMAGE_METADATA_FILE } from '../../lib/render';
import { RUNTIME_LOCK_FILE, SERVER_BUILD_DIR } from '../../lib/server/bundle-server';
import { runCommand } from './podman';
import { fileTree } from '../support/file-tree';

const ROOT = path.resolve(__dirname, '../..');
const IRIS = path.join(ROOT, 'examples/iris/model/iris.onnx');
const REPOSITORY = 'ghcr.io/acme/iris';
/** The pnpm the pnpm project is installed with, from the npm registry. */
const PNPM_VERSION = '12.24.0';
/** What the README's install commands name the tarball; replaced by the one `npm pack` wrote. */
const README_TARBALL = '/path/to/modelfab-0.1.0.tgz';
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
};

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-install-test-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** This environment as a user's shell would have it: no npm_* variables, no onnxruntime skip, no node_modules/.bin on PATH. */
function userEnv(extraPath: readonly string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (
      /^npm_/i.test(name) ||
      /^vitest/i.test(name) ||
      ['ONNXRUNTIME_NODE_INSTALL', 'INIT_CWD'].includes(name)
    )
      continue;
    env[name] = value;
  }
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter((d) => !d.includes('node_modules'));
  env.PATH = [...extraPath, ...dirs].join(path.delimiter);
  return env;
}

/** The sh blocks of the README's install section, in order. */
function readmeInstallBlocks(): string[] {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Install it in your infra repo\n');
  expect(start, 'README.md has an "Install it in your infra repo" section').toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** The README block whose commands install with `installer` (`npm install` or `pnpm add`). */
function readmeBlock(installer: string): string {
  const block = readmeInstallBlocks().find((b) => b.split('\n').some((l) => l.startsWith(`${installer} `)));
  if (block === undefined)
    throw new Error(`README.md's install section has no sh block running ${installer}`);
  return block;
}

/** The cdk8s app each project runs: a ModelImage of the Iris model, its context and reference printed as JSON. */
const APP = `const { App, Chart } = require('cdk8s');
const { ModelImage } = require('modelfab/cdk8s');

const app = new App();
const chart = new Chart(app, 'iris', { namespace: 'ml' });
const image = new ModelImage(chart, 'image', { model: 'model/iris.onnx', repository: '${REPOSITORY}' });
app.synth();
console.log(JSON.stringify({ contextDir: image.contextDir, imageRef: image.imageRef, tag: image.tag }));
`;

interface Project {
  readonly dir: string;
  readonly contextDir: string;
  readonly imageRef: string;
  readonly tag: string;
}

/** A fresh cdk8s project: cdk8s and constructs (the versions modelfab is developed with), the model, the app. */
function createProject(name: string): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(path.join(dir, 'model'), { recursive: true });
  const installed = (pkg: string): string =>
    (
      JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    `${JSON.stringify(
      {
        name: `iris-infra-${name}`,
        version: '1.0.0',
        private: true,
        dependencies: { cdk8s: installed('cdk8s'), constructs: installed('constructs') },
      },
      null,
      2,
    )}\n`,
  );
  fs.copyFileSync(IRIS, path.join(dir, 'model/iris.onnx'));
  fs.writeFileSync(path.join(dir, 'main.js'), APP);
  return dir;
}

/** Runs the README's install block in `dir`, the tarball path replaced by `tarball`. */
async function installAsReadmeSays(dir: string, installer: string, tarball: string, env: NodeJS.ProcessEnv) {
  const block = readmeBlock(installer);
  expect(block, `the README's ${installer} block names the tarball npm pack writes`).toContain(
    README_TARBALL,
  );
  await runCommand('sh', ['-e', '-c', block.split(README_TARBALL).join(tarball)], {
    cwd: dir,
    env,
    timeoutMs: 5 * 60_000,
  });
}

/** Synthesizes the project's app (`node main.js`). */
async function synth(dir: string, env: NodeJS.ProcessEnv): Promise<Project> {
  const { stdout } = await runCommand(process.execPath, ['main.js'], { cwd: dir, env, timeoutMs: 60_000 });
  const printed = JSON.parse(stdout.trim().split('\n').pop()!) as Omit<Project, 'dir'>;
  return { dir, ...printed };
}

let tarball = '';
let npmProject: Project;
let pnpmProject: Project;

beforeAll(async () => {
  const started = Date.now();
  const env = userEnv();
  // npm pack runs prepack: npm run build (tsc, then tools/build-server.ts).
  const packed = path.join(scratch, 'pack');
  fs.mkdirSync(packed);
  await runCommand('npm', ['pack', '--pack-destination', packed], { cwd: ROOT, env, timeoutMs: 5 * 60_000 });
  const tarballs = fs.readdirSync(packed).filter((f) => f.endsWith('.tgz'));
  expect(tarballs).toEqual([`${PACKAGE.name}-${PACKAGE.version}.tgz`]);
  tarball = path.join(packed, tarballs[0]);

  // pnpm itself, from the npm registry, pinned.
  const pnpmHome = path.join(scratch, 'pnpm-cli');
  await runCommand('npm', ['install', '--prefix', pnpmHome, '--no-save', `pnpm@${PNPM_VERSION}`], {
    env,
    timeoutMs: 5 * 60_000,
  });
  const pnpmEnv = userEnv([path.join(pnpmHome, 'node_modules/.bin')]);

  const npmDir = createProject('npm');
  await installAsReadmeSays(npmDir, 'npm install', tarball, env);
  const pnpmDir = createProject('pnpm');
  await installAsReadmeSays(pnpmDir, 'pnpm add', tarball, pnpmEnv);

  npmProject = await synth(npmDir, env);
  pnpmProject = await synth(pnpmDir, pnpmEnv);
  console.warn(`install-from-pack: packed, installed twice and synthesized in ${Date.now() - started} ms`);
}, 15 * 60_000);

describe('modelfab installed from npm pack', () => {
  it('ships the server bundle and the runtime lock, and needs no bundler', () => {
    for (const project of [npmProject, pnpmProject]) {
      const modelfab = fs.realpathSync(path.join(project.dir, 'node_modules/modelfab'));
      expect(fs.readdirSync(path.join(modelfab, SERVER_BUILD_DIR)).sort()).toEqual([
        'codec-worker.js',
        'inference-worker.js',
        'main.js',
        RUNTIME_LOCK_FILE,
      ]);
      const pkg = JSON.parse(fs.readFileSync(path.join(modelfab, 'package.json'), 'utf8'));
      expect(pkg.dependencies.esbuild).toBeUndefined();
      expect(pkg.dependencies['onnxruntime-node']).toMatch(/^\d+\.\d+\.\d+$/);
    }
    expect(fs.existsSync(path.join(npmProject.dir, 'node_modules/esbuild'))).toBe(false);
    const pnpmStore = fs.readdirSync(path.join(pnpmProject.dir, 'node_modules/.pnpm'));
    expect(pnpmStore.filter((name) => name.startsWith('esbuild@'))).toEqual([]);
    // pnpm writes no npm hidden lockfile: the image cannot have come from one.
    expect(fs.existsSync(path.join(pnpmProject.dir, 'node_modules/.package-lock.json'))).toBe(false);
    expect(fs.existsSync(path.join(pnpmProject.dir, 'pnpm-lock.yaml'))).toBe(true);
  });

  it("skips onnxruntime-node's CUDA download in both projects, as the README says", () => {
    for (const project of [npmProject, pnpmProject]) {
      // Where modelfab's require finds it (pnpm links it beside modelfab, not in the project's node_modules).
      const modelfab = fs.realpathSync(path.join(project.dir, 'node_modules/modelfab'));
      const ort = path.dirname(require.resolve('onnxruntime-node/package.json', { paths: [modelfab] }));
      const binaries = (fs.readdirSync(path.join(ort, 'bin'), { recursive: true }) as string[]).map((f) =>
        f.split(path.sep).join('/'),
      );
      expect(binaries).toContain('napi-v6/linux/x64/onnxruntime_binding.node');
      expect(
        binaries.filter((f) => /cuda|tensorrt/i.test(f)),
        project.dir,
      ).toEqual([]);
    }
  });

  it('gives the same ModelImage build context, byte for byte, with npm and with pnpm', () => {
    const npmTree = fileTree(npmProject.contextDir);
    expect(npmTree.map(([file]) => file)).toEqual([
      '.dockerignore',
      IMAGE_METADATA_FILE,
      'Dockerfile',
      'model/iris.onnx',
      'modelfab.json',
      'package-lock.json',
      'package.json',
      'server/codec-worker.js',
      'server/inference-worker.js',
      'server/main.js',
    ]);
    expect(fileTree(pnpmProject.contextDir)).toEqual(npmTree);
    expect(pnpmProject.imageRef).toBe(npmProject.imageRef);
  });

  it('tags the image with the hash of its context, the tag this checkout renders from its sources', () => {
    const lines = fileTree(npmProject.contextDir)
      .filter(([file]) => file !== IMAGE_METADATA_FILE)
      .map(([file, sha]) => `${sha}  ${file}\n`)
      .join('');
    const hash = crypto.createHash('sha256').update(lines).digest('hex');
    expect(npmProject.tag).toBe(hash.slice(0, 16));
    expect(npmProject.imageRef).toBe(`${REPOSITORY}:${npmProject.tag}`);
    const fromSources = prepareModelImage({ model: IRIS, repository: REPOSITORY }, 'iris/image');
    expect(fromSources.context.tag).toBe(npmProject.tag);
  });

  it("pins onnxruntime-node from modelfab's package, not from the project's lockfile", () => {
    const shipped = JSON.parse(fs.readFileSync(path.join(ROOT, SERVER_BUILD_DIR, RUNTIME_LOCK_FILE), 'utf8'));
    const lockfile = JSON.parse(
      fs.readFileSync(path.join(npmProject.contextDir, 'package-lock.json'), 'utf8'),
    );
    expect(lockfile).toEqual(shipped.packageLock);
    expect(lockfile.packages['node_modules/onnxruntime-node'].version).toBe(
      PACKAGE.dependencies['onnxruntime-node'],
    );
    for (const [location, entry] of Object.entries(lockfile.packages as Record<string, any>)) {
      if (location === '') continue;
      expect(entry.resolved, location).toMatch(/^https:\/\/registry\.npmjs\.org\//);
      expect(entry.integrity, location).toMatch(/^sha512-/);
    }
  });
});
