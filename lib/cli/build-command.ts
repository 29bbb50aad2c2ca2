/**
 * `modelfab build <context> [--push]`: builds the image of a ModelImage build context with docker
 * or podman, tagged with the reference the manifests use, and pushes it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { show } from '../core';
import { IMAGE_METADATA_FILE, type ImageMetadata } from '../render';
import {
  type CliCommand,
  type CommandResult,
  failure,
  isCommandResult,
  parseCommandLine,
  positionalError,
  success,
  usageError,
} from './cli-command';

const NAME = 'build';

/** The container tools `modelfab build` can drive. */
export const CONTAINER_TOOLS = ['docker', 'podman'] as const;
export type ContainerTool = (typeof CONTAINER_TOOLS)[number];

/** The help text of `modelfab build`. */
export const BUILD_USAGE = `usage: modelfab build <context> [--push] [--tool docker|podman] [-- <build tool options>]

build the image of a ModelImage build context (the folder synth wrote, e.g. dist/iris-image.image),
tagged with the reference the manifests use (repository:<hash of the context>), for the platform
the ModelImage declares. the build tool's output goes to stderr; the image reference (and, with
--push, its repository digest) is printed on stdout.

options:
  --push        push the image after building it (log in to the registry first)
  --tool <t>    docker or podman (default: $MODELFAB_CONTAINER_TOOL, else docker when its daemon
                answers, else podman)
  -h, --help    print this help

everything after -- is passed to the build command, e.g.
  modelfab build dist/iris-image.image -- --build-arg RUNTIME_IMAGE=registry.local/distroless-node:20

exit status: 0 built (and pushed), 1 the build or push failed, 2 bad usage or no usable context.`;

/** What `modelfab build` does, decided before anything runs. */
export interface BuildPlan {
  readonly tool: ContainerTool;
  readonly imageRef: string;
  /** Each command as argv, in order. */
  readonly commands: ReadonlyArray<readonly string[]>;
}

/** Reads and checks the metadata ModelImage wrote into the context. */
export function readImageMetadata(contextDir: string): ImageMetadata {
  const file = path.join(contextDir, IMAGE_METADATA_FILE);
  if (!fs.existsSync(path.join(contextDir, 'Dockerfile'))) {
    throw new Error(
      `${show(contextDir)} has no Dockerfile; pass the build context folder a ModelImage wrote at synth (<outdir>/<construct path>.image)`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot read ${file} (${reason}); synthesize again so ModelImage writes it, or build by hand with '<tool> build -t <ref> ${contextDir}'`,
      { cause: error },
    );
  }
  const metadata = parsed as Partial<ImageMetadata>;
  for (const key of ['imageRef', 'platform'] as const) {
    if (typeof metadata[key] !== 'string' || metadata[key] === '') {
      throw new Error(
        `${file}: ${key} must be a non-empty string, received ${show(metadata[key])}; synthesize again`,
      );
    }
  }
  return metadata as ImageMetadata;
}

/** The build (and push) commands for a context. */
export function planBuild(
  contextDir: string,
  metadata: ImageMetadata,
  tool: ContainerTool,
  push: boolean,
  extraBuildArgs: readonly string[],
): BuildPlan {
  const build = [
    tool,
    'build',
    '--platform',
    metadata.platform,
    '-t',
    metadata.imageRef,
    ...extraBuildArgs,
    contextDir,
  ];
  return {
    tool,
    imageRef: metadata.imageRef,
    commands: push ? [build, [tool, 'push', metadata.imageRef]] : [build],
  };
}

/** Whether a command runs and exits 0 (used to find a working container tool). */
function answers(command: string, args: readonly string[]): boolean {
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 15_000 });
  return result.status === 0;
}

/**
 * The container tool to use: the one asked for, else docker when its daemon answers (`docker
 * info`), else podman when it is installed.
 */
export function pickContainerTool(
  requested: string | undefined,
  probe: (command: string, args: readonly string[]) => boolean = answers,
): ContainerTool {
  if (requested !== undefined) {
    if (!(CONTAINER_TOOLS as readonly string[]).includes(requested)) {
      throw new Error(`--tool ${show(requested)} is not one of docker, podman`);
    }
    return requested as ContainerTool;
  }
  if (probe('docker', ['info'])) return 'docker';
  if (probe('podman', ['--version'])) return 'podman';
  throw new Error(
    'neither a docker daemon nor podman answers; start docker, or install podman (e.g. apt-get install -y podman)',
  );
}

/** The repository digest a pushed image got, when the tool reports one. */
function repoDigest(tool: ContainerTool, imageRef: string): string | undefined {
  const result = spawnSync(tool, ['image', 'inspect', '--format', '{{json .RepoDigests}}', imageRef], {
    encoding: 'utf8',
  });
  if (result.status !== 0) return undefined;
  try {
    const digests = JSON.parse(result.stdout) as string[] | null;
    const repository = imageRef.slice(0, imageRef.lastIndexOf(':'));
    return digests?.find((d) => d.startsWith(`${repository}@`)) ?? digests?.[0];
  } catch {
    return undefined;
  }
}

/** Runs `modelfab build` with the arguments after `build`. */
export function runBuild(args: readonly string[]): CommandResult {
  const separator = args.indexOf('--');
  const own = separator === -1 ? args : args.slice(0, separator);
  const passThrough = separator === -1 ? [] : args.slice(separator + 1);
  const parsed = parseCommandLine(NAME, BUILD_USAGE, own, {
    push: { type: 'boolean' },
    tool: { type: 'string' },
  });
  if (isCommandResult(parsed)) return parsed;
  const { values, positionals } = parsed;
  const misuse = positionalError(NAME, positionals, 'build context folder');
  if (misuse) return misuse;
  const contextDir = path.resolve(positionals[0]);
  let plan: BuildPlan;
  try {
    const metadata = readImageMetadata(contextDir);
    const tool = pickContainerTool(values.tool ?? process.env.MODELFAB_CONTAINER_TOOL);
    plan = planBuild(contextDir, metadata, tool, values.push === true, passThrough);
  } catch (error) {
    return usageError(NAME, error instanceof Error ? error.message : String(error));
  }
  for (const [command, ...commandArgs] of plan.commands) {
    process.stderr.write(`modelfab build: ${[command, ...commandArgs].join(' ')}\n`);
    // The tool's progress goes to stderr: stdout carries only the result.
    const result = spawnSync(command, commandArgs, { stdio: ['ignore', process.stderr, process.stderr] });
    if (result.error) return failure(NAME, `${command} could not run: ${result.error.message}`);
    if (result.status !== 0) {
      return failure(
        NAME,
        `'${command} ${commandArgs[0]}' exited with ${result.status ?? result.signal}; see its output above`,
      );
    }
  }
  const digest = values.push ? repoDigest(plan.tool, plan.imageRef) : undefined;
  return success(digest ? `${plan.imageRef}\n${digest}` : plan.imageRef);
}

/** The `build` entry of the command table. */
export const buildCommand: CliCommand = {
  name: NAME,
  summary: 'build (and push) the image of a ModelImage build context with docker or podman',
  usage: BUILD_USAGE,
  run: runBuild,
};
