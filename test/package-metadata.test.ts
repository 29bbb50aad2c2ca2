/**
 * What a new user meets before running anything: the package's metadata, its documents and its
 * dependencies agree with each other and with the repository.
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import semver from 'semver';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  license: string;
  engines: { node: string };
  files: string[];
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const DOCUMENTS = ['README.md', 'DESIGN.md', 'DEVELOPERS.md'];

/** The package a module specifier names (`@pulumi/pulumi/x` → `@pulumi/pulumi`), or undefined for a path. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The packages a source file loads when it runs: type-only imports and exports left out. */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) found.push(node.moduleSpecifier.text);
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      if (!node.isTypeOnly) found.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
      node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.flatMap((s) => packageOf(s) ?? []);
}

function sourceFiles(dir: string): string[] {
  return fs
    .readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(ROOT, dir, f));
}

describe('package metadata', () => {
  it('has the LICENSE file package.json names', () => {
    expect(PACKAGE.license).toBe('Apache-2.0');
    const license = fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
  });

  it('every relative link in the documents points to a file in the repository (none into ../shared)', () => {
    const broken: string[] = [];
    for (const document of DOCUMENTS) {
      const text = fs.readFileSync(path.join(ROOT, document), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
        const resolved = path.resolve(ROOT, target);
        if (!resolved.startsWith(ROOT + path.sep) || !fs.existsSync(resolved))
          broken.push(`${document}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('engines.node is within what every runtime and peer dependency supports, and the README says the same', () => {
    const required = PACKAGE.engines.node;
    const narrower: string[] = [];
    for (const name of [...Object.keys(PACKAGE.dependencies), ...Object.keys(PACKAGE.peerDependencies)]) {
      const manifest = JSON.parse(
        fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8'),
      ) as { engines?: { node?: string } };
      const theirs = manifest.engines?.node;
      if (theirs !== undefined && !semver.subset(required, theirs)) narrower.push(`${name} needs ${theirs}`);
    }
    expect(narrower, `engines.node ${required}`).toEqual([]);
    const minimum = semver.minVersion(required)!;
    expect(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).toContain(
      `Node.js ${minimum.major}.${minimum.minor} or later`,
    );
  });

  it('lib/ loads only node built-ins and the dependencies or peer dependencies package.json declares', () => {
    const declared = new Set([
      ...Object.keys(PACKAGE.dependencies),
      ...Object.keys(PACKAGE.peerDependencies),
    ]);
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const undeclared = sourceFiles('lib').flatMap((file) =>
      runtimeImports(file)
        .filter((name) => !declared.has(name) && !builtins.has(name) && !name.startsWith('node:'))
        .map((name) => `${path.relative(ROOT, file)}: ${name}`),
    );
    expect(undeclared).toEqual([]);
  });

  it('pins onnxruntime-node exactly, and keeps build tools and benchmark-only packages out of dependencies', () => {
    expect(semver.valid(PACKAGE.dependencies['onnxruntime-node'])).not.toBeNull();
    for (const name of ['esbuild', 'cdk8s-plus-27', 'typescript', '@microsoft/api-extractor']) {
      expect(PACKAGE.dependencies[name], name).toBeUndefined();
      expect(PACKAGE.devDependencies[name], name).toBeDefined();
    }
  });
});
