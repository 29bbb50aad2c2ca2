/**
 * Small podman helpers for the image tests: run a command, build a context, run a container the way the
 * Kubernetes pod runs it (non-root, read-only root filesystem, /tmp on tmpfs, no capabilities), wait for
 * readiness, collect logs, and always remove what was started. See DEVELOPERS.md for the set-up.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Readable } from 'node:stream';
import { show } from '../../lib/core';
import { freePort } from '../support/free-port';

/** The `modelfab` command line's entry, in this checkout. */
const CLI_MAIN = path.resolve(__dirname, '../../lib/cli/main.ts');

/** The apt-get line that installs everything the image tests need (Debian/Ubuntu, as root). */
export const APT_INSTALL_LINE = 'apt-get install -y podman buildah runc debootstrap';

/**
 * Global podman flags, explicit so that a run does not depend on the host's containers.conf: runc as the
 * OCI runtime and cgroupfs as the cgroup manager (no systemd needed).
 */
export const PODMAN_GLOBAL_FLAGS: readonly string[] = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs'];

/**
 * Resource limits for `podman run`. Without them podman asks for its own
 * nofile limit, which sandboxed hosts refuse ("error setting rlimit type 7: operation not permitted").
 */
export const PODMAN_ULIMIT_FLAGS: readonly string[] = [
  '--ulimit',
  'nofile=1024:1024',
  '--ulimit',
  'nproc=1024:1024',
];

/** The outcome of a finished command. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /**
   * Data for the command's standard input: a string, or a stream piped in.
   * @default no input (stdin is closed)
   */
  readonly input?: string | Readable;
  /**
   * Called with each line of stdout and stderr as it arrives (for progress output).
   * @default lines are only collected
   */
  readonly onLine?: (line: string) => void;
  /**
   * Reject instead of resolving when the command exits non-zero.
   * @default true
   */
  readonly check?: boolean;
  /**
   * Kill the command (SIGKILL) after this many milliseconds and reject.
   * @default no limit
   */
  readonly timeoutMs?: number;
  /**
   * The working directory.
   * @default process.cwd()
   */
  readonly cwd?: string;
  /**
   * The command's environment.
   * @default this process's environment
   */
  readonly env?: NodeJS.ProcessEnv;
}

/** Thrown when a command the image tests need is not installed. */
export class MissingToolError extends Error {
  override readonly name = 'MissingToolError';
}

/** Runs `command args…` without a shell and collects its output. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  const { input, onLine, check = true, timeoutMs, cwd, env } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(cwd ? { cwd } : {}),
      ...(env ? { env } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let partial = '';
    const lines = (chunk: Buffer): void => {
      if (!onLine) return;
      partial += chunk.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) onLine(line);
    };
    child.stdout.on('data', (chunk: Buffer) => (out.push(chunk), lines(chunk)));
    child.stderr.on('data', (chunk: Buffer) => (err.push(chunk), lines(chunk)));
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`${command} ${args.join(' ')} ran longer than ${timeoutMs} ms and was killed`));
          }, timeoutMs);
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(
        error.code === 'ENOENT'
          ? new MissingToolError(
              `${show(command)} is not installed; the image tests need podman and debootstrap: run \`${APT_INSTALL_LINE}\` as root (see DEVELOPERS.md)`,
            )
          : error,
      );
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (onLine && partial) onLine(partial);
      const result = {
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (check && result.code !== 0) {
        // Both streams: npm prints its own errors on stderr and the failed script's (tsc's) on stdout.
        const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-40).join('\n');
        reject(new Error(`${command} ${args.join(' ')} exited with ${show(code ?? signal)}:\n${tail}`));
      } else {
        resolve(result);
      }
    });
    if (input === undefined) child.stdin.end();
    else if (typeof input === 'string') child.stdin.end(input);
    else input.pipe(child.stdin);
  });
}

/** Runs `podman <global flags> args…`. */
export function podman(args: readonly string[], options: RunCommandOptions = {}): Promise<CommandResult> {
  return runCommand('podman', [...PODMAN_GLOBAL_FLAGS, ...args], options);
}

/** Whether an image with this name exists in local storage. */
export async function imageExists(image: string): Promise<boolean> {
  return (await podman(['image', 'exists', image], { check: false })).code === 0;
}

/**
 * `podman build` options for {@link modelfabBuild}: `RUN` steps isolated by chroot (no nested container
 * runtime needed), host networking so the builder's `npm ci` reaches the registry the host reaches.
 */
export const PODMAN_BUILD_FLAGS: readonly string[] = ['--isolation=chroot', '--network=host'];

/** Options of {@link modelfabBuild}. */
export interface ModelfabBuildOptions {
  /** The build context a ModelImage wrote. */
  readonly context: string;
  /**
   * `--build-arg` values, e.g. the Dockerfile's base images.
   * @default none
   */
  readonly buildArgs?: Readonly<Record<string, string>>;
  /**
   * Called with each line the build prints (progress).
   * @default the `STEP` lines go to stderr
   */
  readonly onLine?: (line: string) => void;
}

/**
 * Builds a ModelImage's context the way a user does: `modelfab build <context> --tool podman --
 * <podman build options>`, run from this checkout's source with tsx. Returns what it printed on
 * stdout (the image reference).
 */
export async function modelfabBuild(options: ModelfabBuildOptions): Promise<string> {
  const args = [
    '--import',
    'tsx',
    CLI_MAIN,
    'build',
    options.context,
    '--tool',
    'podman',
    '--',
    ...PODMAN_BUILD_FLAGS,
  ];
  for (const [name, value] of Object.entries(options.buildArgs ?? {}))
    args.push('--build-arg', `${name}=${value}`);
  const onLine =
    options.onLine ??
    ((line: string) =>
      /^(\[\d+\/\d+\] )?STEP /.test(line) && process.stderr.write(`[podman build] ${line}\n`));
  // From the checkout's root, where `--import tsx` resolves.
  const { stdout } = await runCommand(process.execPath, args, {
    onLine,
    cwd: path.resolve(__dirname, '../..'),
  });
  return stdout.trim();
}

/** Options of {@link startContainer}. */
export interface StartContainerOptions {
  /** The image to run. */
  readonly image: string;
  /**
   * The uid (and gid) the container runs as.
   * @default 65532
   */
  readonly user?: number;
  /**
   * Extra environment variables; `MODELFAB_PORT` and `MODELFAB_METRICS_PORT` are always set to free ports.
   * @default none
   */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Files or folders of this host mounted read-only, e.g. a Secret's file.
   * @default none
   */
  readonly mounts?: ReadonlyArray<{ readonly source: string; readonly target: string }>;
}

/** A container started by {@link startContainer}. */
export interface RunningContainer {
  /** The container's id. */
  readonly id: string;
  /** The HTTP port on 127.0.0.1 (host networking: the server listens on the host's port). */
  readonly httpPort: number;
  /** The metrics port on 127.0.0.1. */
  readonly metricsPort: number;
  /** `http://127.0.0.1:<httpPort>`. */
  readonly baseUrl: string;
  /** `http://127.0.0.1:<metricsPort>`. */
  readonly metricsUrl: string;
}

/**
 * Starts a container detached, locked down as the restricted pod runs it: `--read-only` root filesystem
 * with a tmpfs on /tmp, non-root user, all capabilities dropped, no privilege escalation; host
 * networking with free ports passed as `MODELFAB_PORT` / `MODELFAB_METRICS_PORT`.
 */
export async function startContainer(options: StartContainerOptions): Promise<RunningContainer> {
  const user = options.user ?? 65532;
  const httpPort = await freePort();
  let metricsPort = await freePort();
  while (metricsPort === httpPort) metricsPort = await freePort();
  const env: Record<string, string> = {
    ...options.env,
    MODELFAB_PORT: String(httpPort),
    MODELFAB_METRICS_PORT: String(metricsPort),
  };
  const args = [
    'run',
    '--detach',
    '--network=host',
    ...PODMAN_ULIMIT_FLAGS,
    '--read-only',
    '--tmpfs',
    '/tmp:rw,nosuid,nodev,size=64m',
    '--user',
    `${user}:${user}`,
    '--cap-drop=ALL',
    '--security-opt',
    'no-new-privileges',
  ];
  for (const [name, value] of Object.entries(env)) args.push('--env', `${name}=${value}`);
  for (const { source, target } of options.mounts ?? []) args.push('--volume', `${source}:${target}:ro`);
  args.push(options.image);
  const { stdout } = await podman(args);
  const id = stdout.trim().split('\n').pop() ?? '';
  return {
    id,
    httpPort,
    metricsPort,
    baseUrl: `http://127.0.0.1:${httpPort}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
  };
}

/** The container's state as podman reports it. */
export interface ContainerState {
  readonly status: string;
  readonly running: boolean;
  readonly exitCode: number;
}

/** Reads the container's state (`podman container inspect`). */
export async function containerState(id: string): Promise<ContainerState> {
  const { stdout } = await podman([
    'container',
    'inspect',
    '--format',
    '{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}',
    id,
  ]);
  const [status = '', running = '', exitCode = ''] = stdout.trim().split(' ');
  return { status, running: running === 'true', exitCode: Number(exitCode) };
}

/** What the kernel says about a container's main process (read from the host's /proc: no shell needed inside). */
export interface ContainerProcess {
  readonly pid: number;
  /** The command line, arguments joined by spaces. */
  readonly command: string;
  /** Real, effective, saved and file-system uid. */
  readonly uids: readonly number[];
  readonly gids: readonly number[];
  /** The effective capability mask, hexadecimal. */
  readonly capEff: string;
  readonly noNewPrivs: boolean;
}

/** Reads the container's main process from /proc on this host (rootful podman: same pid namespace view). */
export async function containerProcess(id: string): Promise<ContainerProcess> {
  const { stdout } = await podman(['container', 'inspect', '--format', '{{.State.Pid}}', id]);
  const pid = Number(stdout.trim());
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => {
    const match = new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status);
    if (!match) throw new Error(`/proc/${pid}/status has no ${name} line: ${show(status)}`);
    return match[1].trim();
  };
  return {
    pid,
    command: fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' '),
    uids: field('Uid').split(/\s+/).map(Number),
    gids: field('Gid').split(/\s+/).map(Number),
    capEff: field('CapEff'),
    noNewPrivs: field('NoNewPrivs') === '1',
  };
}

/** The container's stdout and stderr so far. */
export async function containerLogs(id: string): Promise<string> {
  const { stdout, stderr } = await podman(['logs', id], { check: false });
  return `${stdout}${stderr}`;
}

/**
 * Polls `GET <baseUrl>/v2/health/ready` until it answers 200. Fails early, with the container's logs,
 * when the container stops; fails with the logs after `timeoutMs`.
 */
export async function waitForReady(container: RunningContainer, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  let last = 'no answer yet';
  while (Date.now() - started < timeoutMs) {
    try {
      const response = await fetch(`${container.baseUrl}/v2/health/ready`, {
        signal: AbortSignal.timeout(2_000),
      });
      if (response.status === 200) return Date.now() - started;
      last = `status ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    const state = await containerState(container.id);
    if (!state.running) {
      throw new Error(
        `container ${container.id.slice(0, 12)} stopped (${state.status}, exit code ${state.exitCode}) before it was ready; logs:\n${await containerLogs(container.id)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `container ${container.id.slice(0, 12)} not ready after ${timeoutMs} ms (last: ${last}); logs:\n${await containerLogs(container.id)}`,
  );
}

/** Sends SIGTERM (`podman stop`), waits up to `graceSeconds`, then SIGKILL. Returns the exit code and time. */
export async function stopContainer(
  id: string,
  graceSeconds: number,
): Promise<{ readonly exitCode: number; readonly seconds: number }> {
  const started = process.hrtime.bigint();
  await podman(['stop', '--time', String(graceSeconds), id]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { exitCode: (await containerState(id)).exitCode, seconds };
}

/** Removes a container, running or not; never throws (teardown). */
export async function removeContainer(id: string): Promise<void> {
  await podman(['rm', '--force', '--time', '0', id], { check: false }).catch(() => undefined);
}

/** Removes an image; never throws (teardown). */
export async function removeImage(image: string): Promise<void> {
  await podman(['rmi', '--force', image], { check: false }).catch(() => undefined);
}

/**
 * The paths of every file in an image (no shell needed inside it): creates a container without starting
 * it, exports its filesystem to a tar file and lists it. Paths have no leading `/` or `./`; folders end in `/`.
 */
export async function listImageFiles(image: string): Promise<string[]> {
  const { stdout } = await podman(['create', image]);
  const id = stdout.trim().split('\n').pop() ?? '';
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-image-export-'));
  try {
    const tarFile = path.join(folder, 'rootfs.tar');
    await podman(['export', '--output', tarFile, id]);
    const { stdout: listing } = await runCommand('tar', ['-tf', tarFile]);
    return listing
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.replace(/^\.?\//, ''));
  } finally {
    await removeContainer(id);
    fs.rmSync(folder, { recursive: true, force: true });
  }
}
