/**
 * The Pulumi packages as installed: one copy of @pulumi/pulumi in the tree (two copies keep two
 * runtimes, so mocks, resource references and `instanceof` checks break across them), and a clear
 * error when the optional @pulumi/aws is missing but ECR is asked for.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAws } from '../lib/pulumi/load-aws';

const ROOT = path.resolve(__dirname, '..');

/** Every installed copy of a package under node_modules, at any depth, with its version. */
function copiesOf(name: string, dir = path.join(ROOT, 'node_modules')): string[] {
  const found: string[] = [];
  const visit = (modules: string) => {
    if (!fs.existsSync(modules)) return;
    const manifest = path.join(modules, name, 'package.json');
    if (fs.existsSync(manifest)) {
      const { version } = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string };
      found.push(`${path.relative(ROOT, path.dirname(manifest))}@${version}`);
    }
    for (const entry of fs.readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const packages = entry.name.startsWith('@')
        ? fs.readdirSync(path.join(modules, entry.name)).map((p) => path.join(modules, entry.name, p))
        : [path.join(modules, entry.name)];
      for (const pkg of packages) visit(path.join(pkg, 'node_modules'));
    }
  };
  visit(dir);
  return found;
}

describe('installed Pulumi packages', () => {
  it('has exactly one copy of @pulumi/pulumi, which every provider package shares', () => {
    const copies = copiesOf('@pulumi/pulumi');
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatch(/^node_modules\/@pulumi\/pulumi@3\./);
    for (const provider of ['@pulumi/kubernetes', '@pulumi/docker', '@pulumi/aws']) {
      const resolved = require.resolve('@pulumi/pulumi', {
        paths: [path.dirname(require.resolve(`${provider}/package.json`))],
      });
      expect(resolved).toBe(require.resolve('@pulumi/pulumi'));
    }
  });
});

describe('loadAws', () => {
  it('says to install @pulumi/aws, or to use a registry, when it cannot be loaded', () => {
    expect(() =>
      loadAws(
        'iris',
        {
          prop: 'ecr',
          asked: 'ecr: true',
          otherwise: 'push to a registry with registry: { server, username, password }',
        },
        () => {
          throw new Error("Cannot find module '@pulumi/aws'\nRequire stack: ...");
        },
      ),
    ).toThrow(
      "[iris] ecr: true needs @pulumi/aws, which could not be loaded (Cannot find module '@pulumi/aws'); run npm install @pulumi/aws, or push to a registry with registry: { server, username, password }",
    );
  });
});
