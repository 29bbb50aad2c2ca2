/**
 * `modelfab build`: what it decides before a container tool runs (which tool, which commands,
 * which reference) and every usage error. The real build with podman runs in `npm run test:image`
 * (test/image/), since it needs podman and minutes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelImage } from '../lib/cdk8s';
import { pickContainerTool, planBuild, readImageMetadata, runBuild } from '../lib/cli/build-command';
import { runCli } from '../lib/cli/run-cli';

const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-cli-build-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function synthImage(): ModelImage {
  const app = new App({ outdir: fs.mkdtempSync(path.join(scratch, 'out-')) });
  const image = new ModelImage(new Chart(app, 'iris'), 'image', {
    model: IRIS,
    repository: 'registry.example.com/ml/iris',
    platform: 'linux/arm64',
  });
  app.synth();
  return image;
}

describe('modelfab build', () => {
  it('builds the reference the manifests use, for the platform the ModelImage declares, then pushes it', () => {
    const image = synthImage();
    const metadata = readImageMetadata(image.contextDir);
    expect(metadata).toMatchObject({ imageRef: image.imageRef, platform: 'linux/arm64' });
    const plan = planBuild(image.contextDir, metadata, 'podman', true, ['--isolation=chroot']);
    expect(plan.imageRef).toBe(image.imageRef);
    expect(plan.commands).toEqual([
      [
        'podman',
        'build',
        '--platform',
        'linux/arm64',
        '-t',
        image.imageRef,
        '--isolation=chroot',
        image.contextDir,
      ],
      ['podman', 'push', image.imageRef],
    ]);
    expect(planBuild(image.contextDir, metadata, 'docker', false, []).commands).toHaveLength(1);
  });

  it('uses the tool asked for, else a docker daemon that answers, else podman', () => {
    const calls: string[] = [];
    const probe = (answering: string[]) => (command: string, args: readonly string[]) => {
      calls.push(`${command} ${args.join(' ')}`);
      return answering.includes(command);
    };
    expect(pickContainerTool('podman', probe(['docker']))).toBe('podman');
    expect(pickContainerTool(undefined, probe(['docker', 'podman']))).toBe('docker');
    // a docker client without a daemon fails `docker info`
    expect(pickContainerTool(undefined, probe(['podman']))).toBe('podman');
    expect(calls).toEqual(['docker info', 'docker info', 'podman --version']);
    expect(() => pickContainerTool(undefined, probe([]))).toThrow(
      /neither a docker daemon nor podman answers; start docker, or install podman/,
    );
    expect(() => pickContainerTool('buildkit', probe([]))).toThrow(
      /--tool "buildkit" is not one of docker, podman/,
    );
  });

  it('refuses a folder that is not a ModelImage context, saying what to pass', () => {
    const empty = fs.mkdtempSync(path.join(scratch, 'empty-'));
    const result = runBuild([empty]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(
      `"${empty}" has no Dockerfile; pass the build context folder a ModelImage wrote`,
    );

    const handWritten = fs.mkdtempSync(path.join(scratch, 'hand-'));
    fs.writeFileSync(path.join(handWritten, 'Dockerfile'), 'FROM scratch\n');
    expect(runBuild([handWritten]).stderr).toMatch(/cannot read .*\.modelfab-image\.json .*synthesize again/);

    fs.writeFileSync(
      path.join(handWritten, '.modelfab-image.json'),
      JSON.stringify({ imageRef: 'x', platform: 7 }),
    );
    expect(runBuild([handWritten]).stderr).toMatch(
      /platform must be a non-empty string, received 7; synthesize again/,
    );
  });

  it('reports usage errors with exit status 2', async () => {
    expect((await runCli(['build'])).stderr).toMatch(/^modelfab build: missing the build context folder\n/);
    expect((await runCli(['build', 'a', 'b'])).stderr).toContain(
      'expected one build context folder, received 2: "a" "b"',
    );
    const unknown = await runCli(['build', 'ctx', '--platform', 'x']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--platform'/);
    const image = synthImage();
    expect(runBuild([image.contextDir, '--tool', 'buildah']).stderr).toContain(
      '--tool "buildah" is not one of docker, podman',
    );
    const help = await runCli(['build', '--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('usage: modelfab build <context> [--push]');
  });
});
