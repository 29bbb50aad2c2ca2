/**
 * The stack program as `pulumi preview` starts it: Pulumi's own Node.js runner
 * (`@pulumi/pulumi/cmd/run`) in a child process, as the language host would for `main: stacks/`,
 * so the ts-node compile of stacks/index.ts with stacks/tsconfig.json is checked too. The gate is
 * skipped there (MODELFAB_GATE=skip): this checks the compile and the run, not the measurement,
 * and so it needs no quiet machine (test/pulumi-stack-program.test.ts runs the program's gates).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { devStackConfig } from './support/stack-configs';

const ROOT = path.resolve(__dirname, '..');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-stack-runner-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/**
 * What the child process runs: the language host's job done by hand. It installs mocks in place of
 * the engine, then starts `@pulumi/pulumi/cmd/run` with the arguments and environment the
 * pulumi-language-nodejs host gives it, so Pulumi's own runner registers ts-node with the program
 * directory's tsconfig.json, loads the entry point and runs it inside the root Stack resource.
 */
const RUNNER = `
const fs = require('node:fs');
const path = require('node:path');
const root = process.env.PROJECT_ROOT;
const sdk = (p) => require(require.resolve('@pulumi/pulumi' + p, { paths: [root] }));
const pulumi = sdk('');
pulumi.runtime.setMocks({
  newResource(args) {
    let state = { ...args.inputs };
    if (args.type === 'docker:index/image:Image') {
      state.repoDigest = args.inputs.imageName.replace(/:[^:/]+$/, '') + '@sha256:' + 'a'.repeat(64);
    } else if (args.type.startsWith('kubernetes:')) {
      state = { ...args.inputs, metadata: { namespace: 'default', ...args.inputs.metadata } };
    }
    return { id: args.name + '-id', state };
  },
  call: () => ({}),
}, process.env.PROJECT, process.env.STACK, true);
process.on('exit', () => {
  const registered = sdk('/runtime/settings').getMonitor().getRegisteredResources();
  const stack = [...registered.values()].find((r) => r.urn.includes('::pulumi:pulumi:Stack::'));
  const outputs = stack && stack.state && stack.state.toJavaScript ? stack.state.toJavaScript() : {};
  fs.writeSync(1, '\\n' + JSON.stringify({ urns: [...registered.keys()], outputs }) + '\\n');
});
process.argv = [process.argv[0], path.dirname(require.resolve('@pulumi/pulumi/cmd/run', { paths: [root] })),
  '--monitor', 'mock', '--project', process.env.PROJECT, '--stack', process.env.STACK, '--dry-run',
  '--pwd', process.env.PROGRAM_DIR, process.env.ENTRY_POINT];
sdk('/cmd/run');
`;

describe('as `pulumi preview` runs it', () => {
  it("Pulumi's Node.js runner compiles stacks/index.ts with ts-node and runs it under the root stack", () => {
    const project = parse(fs.readFileSync(path.join(ROOT, 'Pulumi.yaml'), 'utf8')) as {
      name: string;
      runtime: { name: string; options: { typescript: boolean } };
      main: string;
      stackConfigDir: string;
    };
    expect(project).toMatchObject({
      name: 'modelfab',
      runtime: { name: 'nodejs', options: { typescript: true } },
      stackConfigDir: 'stacks',
    });
    // The engine runs a program in the folder of `main` with the entry point "."; the runner then
    // takes the program from the nearest package.json: stacks/package.json, which names index.ts
    // (the root one would name the library's build/lib/index.js, not the stack program).
    expect(project.main).toBe('stacks/');
    const programDir = path.join(ROOT, project.main);
    const script = path.join(scratch, 'run-as-pulumi.js');
    fs.writeFileSync(script, RUNNER);

    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_OPTIONS; // the child is plain node, as the language host starts it
    const child = spawnSync(process.execPath, [script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 240_000,
      env: {
        ...env,
        PROJECT_ROOT: ROOT,
        PROJECT: project.name,
        STACK: 'dev',
        PROGRAM_DIR: programDir,
        ENTRY_POINT: '.',
        // What pulumi-language-nodejs sets: the stack's config, and typescript: true.
        PULUMI_CONFIG: JSON.stringify(devStackConfig(path.join(scratch, 'out'))),
        MODELFAB_GATE: 'skip',
        PULUMI_CONFIG_SECRET_KEYS: '[]',
        PULUMI_NODEJS_TYPESCRIPT: 'true',
      },
    });
    const lastLine = child.stdout.trim().split('\n').pop() ?? '';
    expect(child.status, `${child.stderr}\n${child.stdout}`).toBe(0);
    const { urns, outputs } = JSON.parse(lastLine) as { urns: string[]; outputs: Record<string, any> };

    // Every resource under the root Stack the runner made (the mock monitor's URNs name the
    // parent's type, not the whole chain).
    const under = (parent: string, child: string) => `urn:pulumi:dev::modelfab::${parent}$${child}`;
    expect(urns.sort()).toEqual(
      [
        'urn:pulumi:dev::modelfab::pulumi:pulumi:Stack::modelfab-dev',
        under('pulumi:pulumi:Stack', 'modelfab:index:ModelImage::iris'),
        under('modelfab:index:ModelImage', 'docker:index/image:Image::iris-image'),
        under('pulumi:pulumi:Stack', 'modelfab:index:InferenceService::iris'),
        ...[
          'core/v1:ServiceAccount::iris-service-account',
          'core/v1:Service::iris-service',
          'apps/v1:Deployment::iris-deployment',
          'autoscaling/v2:HorizontalPodAutoscaler::iris-autoscaler',
          'policy/v1:PodDisruptionBudget::iris-disruption-budget',
          'networking.k8s.io/v1:NetworkPolicy::iris-network-policy',
        ].map((k) => under('modelfab:index:InferenceService', `kubernetes:${k}`)),
      ].sort(),
    );
    expect(outputs).toMatchObject({
      serviceName: 'iris',
      namespace: 'ml',
      url: 'http://iris.ml.svc.cluster.local:8080',
      gateStatus: 'skipped',
    });
    expect(outputs.repoDigest).toMatch(/^localhost:5000\/iris@sha256:a{64}$/);
  }, 240_000);
});
