/**
 * Runs a child process of the quality gate inside a Kubernetes pod's resource limits the way the
 * kubelet enforces them: the CPU limit as a CFS quota and the memory limit through the memory
 * cgroup, in child cgroups made under this process's own cgroup (cgroup v1 or v2), so they nest in
 * whatever limit this process already lives in. Where no cgroup can be made it falls back, never
 * throwing: the CPU limit to an affinity to whole cores (`taskset`), then to nothing; the memory
 * limit to nothing (the caller then checks it against peak RSS). `detail` says what was done and why.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseProcCgroup } from '../runtime';

/** How the CPU limit is enforced: a CFS quota in a cgroup, an affinity to whole cores, or not at all. */
export type CpuEnforcement = 'quota' | 'affinity' | 'none';

/** How the memory limit is enforced: by a memory cgroup, or not at all. */
export type MemoryEnforcement = 'cgroup' | 'none';

/** A pod's limits: CPU in millicores (`500m` → 500) and memory in bytes. */
export interface ResourceLimits {
  readonly cpuMillis: number;
  readonly memoryBytes: number;
}

/** Limits set up for child processes, and what can be read back after they ran. */
export interface ResourceBudget {
  readonly cpu: CpuEnforcement;
  readonly memory: MemoryEnforcement;
  /**
   * One line for the report: e.g. `CFS quota 50000 µs per 100000 µs (cgroup v1), memory limit
   * 512 MiB (cgroup v1)` or `affinity to 1 core (cpus 1); no memory cgroup: the limit is checked
   * against peak RSS`.
   */
  readonly detail: string;
  /**
   * The command line that starts `command args` inside this budget (for `child_process.spawn`).
   * For cgroups: `/bin/sh -c 'echo $$ > <cpu>/cgroup.procs && echo $$ > <mem>/cgroup.procs && exec
   * "$0" "$@"' command ...args`; affinity: `taskset -c <list> command ...args`; none: unchanged.
   */
  wrap(
    command: string,
    args: readonly string[],
  ): { readonly command: string; readonly args: readonly string[] };
  /**
   * Peak memory charged to the memory cgroup so far, bytes (v1 `memory.max_usage_in_bytes`, v2
   * `memory.peak`); undefined without a memory cgroup or when unreadable.
   */
  peakMemoryBytes(): number | undefined;
  /**
   * Whether the memory cgroup OOM-killed something or hit its limit (v1: `memory.oom_control`
   * `oom_kill N` > 0, else `memory.failcnt` > 0 on kernels without that line; v2: `memory.events`
   * `oom_kill` > 0). false without a memory cgroup.
   */
  outOfMemory(): boolean;
  /**
   * Removes the cgroups it made (call after the processes in them have exited; retries rmdir briefly
   * on EBUSY; never throws). Calling it again does nothing.
   */
  release(): void;
}

/** Where cgroups live and which enforcement to use. */
export interface BudgetOptions {
  /** cgroup filesystem root @default '/sys/fs/cgroup' */
  readonly cgroupRoot?: string;
  /** /proc/self/cgroup text @default read from /proc/self/cgroup */
  readonly selfCgroup?: string;
  /**
   * 'auto' | 'quota' | 'affinity' | 'none' to force a mode (tests, and the env var
   * MODELFAB_GATE_CPU_ENFORCEMENT read by the caller). 'affinity' and 'none' make no cgroup at all
   * (so no memory cgroup either); 'quota' is 'auto' (it falls back all the same, saying why).
   * @default 'auto'
   */
  readonly prefer?: 'auto' | CpuEnforcement;
}

/** The CFS period every quota is set in, µs (the kernel's default). */
export const CFS_PERIOD_US = 100_000;
/**
 * The kubelet's `cpu.shares` for a CPU request (`MilliCPUToShares`): `floor(cpuMillis × 1024 / 1000)`,
 * at least 2 (`500` → 512, `1000` → 1024). The server's cgroup gets the shares of a pod whose request
 * equals its limit, so beside other busy processes it gets the share such a pod gets beside its
 * neighbours on a node, no less: at a sixteenth of that, a test runner's two busy workers left a 1-CPU
 * server 3% of a core and the gate's verdict was about the neighbours. The load generator keeps its
 * ordinary priority: raised (nice -13) it took a core from the machine's other work (a neighbouring
 * test's server missed its 30 s start) and held no more (Iris, two fresh synths each: 15,191 and
 * about 19,000 rps at -13; 22,255 and 18,863 at 0). Where it falls behind, its late sends say so.
 */
export function kubeletCpuShares(cpuMillis: number): number {
  return Math.max(2, Math.floor((cpuMillis * 1024) / 1000));
}

/**
 * cgroup v2 `cpu.weight` for v1 shares, as runc converts them: `1 + floor((shares − 2) × 9999 / 262142)`
 * (`1024` → 39).
 */
export function cpuWeightFromShares(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** The smallest CFS quota set, µs (the kernel refuses less than 1000). */
const MIN_CFS_QUOTA_US = 1000;

const NAME_PREFIX = 'modelfab-gate-';
const STALE_NAME = /^modelfab-gate-(\d+)-\d+$/;

let created = 0;

/**
 * The CFS quota for a CPU limit, µs per {@link CFS_PERIOD_US}: `round(cpuMillis / 1000 × period)`,
 * at least 1000 (`500` → 50000).
 *
 * @throws RangeError when cpuMillis is not a positive finite number
 */
export function cfsQuotaMicros(cpuMillis: number): number {
  checkCpuMillis(cpuMillis);
  return Math.max(MIN_CFS_QUOTA_US, Math.round((cpuMillis / 1000) * CFS_PERIOD_US));
}

/**
 * Parses a kernel CPU list (`"0-3,8,10-11"`, as in `Cpus_allowed_list`) into ascending CPU numbers;
 * text that is not such a list gives none.
 */
export function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  for (const part of text.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (match === null) return [];
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/**
 * The CPUs an affinity for a CPU limit pins to: `max(1, round(cpuMillis / 1000))` whole cores, the
 * highest-numbered of those allowed (all of them when fewer are allowed), ascending.
 *
 * @param allowed the CPUs this process may run on
 * @throws RangeError when cpuMillis is not a positive finite number or no CPU is allowed
 */
export function affinityCpus(cpuMillis: number, allowed: readonly number[]): number[] {
  checkCpuMillis(cpuMillis);
  if (allowed.length === 0) throw new RangeError('cannot pin to cores: no cpu is allowed');
  const cores = Math.max(1, Math.round(cpuMillis / 1000));
  return [...allowed].sort((a, b) => a - b).slice(-cores);
}

function checkCpuMillis(cpuMillis: number): void {
  if (!Number.isFinite(cpuMillis) || cpuMillis <= 0) {
    throw new RangeError(`cpu limit must be a positive number of millicores, received ${cpuMillis}`);
  }
}

/** Bytes in MiB or GiB for the report (`536870912` → `512 MiB`, `1073741824` → `1 GiB`). */
function formatBytes(bytes: number): string {
  const gib = bytes / 2 ** 30;
  if (Number.isInteger(gib)) return `${gib} GiB`;
  const mib = bytes / 2 ** 20;
  return Number.isInteger(mib) ? `${mib} MiB` : `${mib.toFixed(1)} MiB`;
}

/** A word for the shell: as it is when it is plainly safe, else in single quotes. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function readFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A non-negative integer read from a cgroup file, or undefined. */
function readNumber(file: string): number | undefined {
  const text = readFile(file);
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** The number after `key` in a flat-keyed cgroup file (`oom_kill 1`), or undefined. */
function readKey(file: string, key: string): number | undefined {
  const text = readFile(file);
  if (text === undefined) return undefined;
  for (const line of text.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name === key && value !== undefined && Number.isFinite(Number(value))) return Number(value);
  }
  return undefined;
}

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Writes a cgroup control file (a write error, such as a refused value, throws). */
function writeControl(dir: string, file: string, value: string): void {
  fs.writeFileSync(path.join(dir, file), value);
}

/** Blocks the thread for ms (release must stay synchronous). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** rmdir, retried for up to ~1 s while the cgroup is busy; true when the directory is gone. */
function removeCgroup(dir: string): boolean {
  for (let attempt = 0; ; attempt++) {
    try {
      fs.rmdirSync(dir);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY' || attempt >= 50) return false;
      sleepSync(20);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the empty `modelfab-gate-<pid>-*` cgroups under parent whose process is gone (best effort). */
function removeStale(parent: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    const match = STALE_NAME.exec(name);
    if (match === null) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    try {
      fs.rmdirSync(path.join(parent, name));
    } catch {
      // Still busy or not ours to remove: left for a later run.
    }
  }
}

/**
 * The directory of this process's cgroup `cgroupPath` in a hierarchy mounted at mount: the path
 * itself, or (where the mount shows only this container's part, without a cgroup namespace) its
 * longest tail that exists, down to the mount itself.
 */
function ownCgroupDir(mount: string, cgroupPath: string): string | undefined {
  const parts = cgroupPath.split('/').filter((part) => part !== '');
  for (let skip = 0; skip <= parts.length; skip++) {
    const dir = path.join(mount, ...parts.slice(skip));
    if (isDirectory(dir)) return dir;
  }
  return undefined;
}

/** The mount directory of a cgroup v1 controller under root (`cpu`, or `cpu,cpuacct` without the link). */
function v1Mount(root: string, controller: string): string | undefined {
  const candidates = controller === 'cpu' ? ['cpu', 'cpu,cpuacct', 'cpuacct,cpu'] : [controller];
  return candidates.map((name) => path.join(root, name)).find(isDirectory);
}

/** Makes a fresh child cgroup under parent (clearing stale ones first); the error says why not. */
function makeChild(parent: string): string {
  removeStale(parent);
  const dir = path.join(parent, `${NAME_PREFIX}${process.pid}-${++created}`);
  fs.mkdirSync(dir);
  return dir;
}

/** What one controller's setup gave: the cgroup made, or why none was. */
type Made = { readonly dir: string } | { readonly why: string };

function tryMake(what: string, make: () => string): Made {
  try {
    return { dir: make() };
  } catch (error) {
    return { why: `${what}: ${errorText(error)}` };
  }
}

/** Sets up the v1 cpu and memory cgroups (each independently). */
function setUpV1(
  root: string,
  self: ReadonlyMap<string, string>,
  limits: ResourceLimits,
): { cpu: Made; memory: Made } {
  const parentOf = (controller: string): string => {
    const mount = v1Mount(root, controller);
    if (mount === undefined) throw new Error(`no ${controller} hierarchy mounted under ${root}`);
    const own = self.get(controller);
    if (own === undefined) throw new Error(`no ${controller} line in /proc/self/cgroup`);
    const dir = ownCgroupDir(mount, own);
    if (dir === undefined) throw new Error(`cgroup ${own} not found under ${mount}`);
    return dir;
  };
  const cpu = tryMake('cannot make a cpu cgroup (v1)', () => {
    const dir = makeChild(parentOf('cpu'));
    try {
      writeControl(dir, 'cpu.cfs_period_us', String(CFS_PERIOD_US));
      writeControl(dir, 'cpu.cfs_quota_us', String(cfsQuotaMicros(limits.cpuMillis)));
      writeControl(dir, 'cpu.shares', String(kubeletCpuShares(limits.cpuMillis)));
    } catch (error) {
      removeCgroup(dir);
      throw error;
    }
    return dir;
  });
  const memory = tryMake('cannot make a memory cgroup (v1)', () => {
    const parent = parentOf('memory');
    const dir = makeChild(parent);
    try {
      // The memory limit first: the kernel wants memsw >= the memory limit at every step.
      writeControl(dir, 'memory.limit_in_bytes', String(limits.memoryBytes));
      // With swap accounting, limit memory + swap too so that swap does not hide the limit. Every
      // memory cgroup of a hierarchy has the same files, so the parent shows whether it is on.
      const memsw = 'memory.memsw.limit_in_bytes';
      if (fs.existsSync(path.join(dir, memsw)) || fs.existsSync(path.join(parent, memsw))) {
        writeControl(dir, memsw, String(limits.memoryBytes));
      }
    } catch (error) {
      removeCgroup(dir);
      throw error;
    }
    return dir;
  });
  return { cpu, memory };
}

function controllerSet(text: string | undefined): Set<string> {
  return new Set(
    (text ?? '')
      .split(/\s+/)
      .filter((word) => word !== '')
      .map((word) => word.replace(/^\+/, '')),
  );
}

/** Sets up one v2 cgroup holding whichever of cpu and memory the parent can delegate. */
function setUpV2(root: string, own: string | undefined, limits: ResourceLimits): { cpu: Made; memory: Made } {
  const fail = (why: string): { cpu: Made; memory: Made } => ({
    cpu: { why: `cannot make a cpu cgroup (v2): ${why}` },
    memory: { why: `cannot make a memory cgroup (v2): ${why}` },
  });
  if (own === undefined) return fail('no 0:: line in /proc/self/cgroup');
  const parent = ownCgroupDir(root, own);
  if (parent === undefined) return fail(`cgroup ${own} not found under ${root}`);

  const subtree = path.join(parent, 'cgroup.subtree_control');
  const available = controllerSet(readFile(path.join(parent, 'cgroup.controllers')));
  const wanted = ['cpu', 'memory'].filter((name) => available.has(name));
  let missing = wanted.filter((name) => !controllerSet(readFile(subtree)).has(name));
  let enableError = '';
  if (missing.length > 0) {
    try {
      fs.writeFileSync(subtree, missing.map((name) => `+${name}`).join(' '));
    } catch (error) {
      enableError = errorText(error);
      // One may be refused where the other is not (a threaded subtree, a busy parent).
      for (const name of missing) {
        try {
          fs.writeFileSync(subtree, `+${name}`);
        } catch {
          // Reported below as not enabled.
        }
      }
    }
    missing = wanted.filter((name) => !controllerSet(readFile(subtree)).has(name));
  }
  const notEnabled = (name: string): string | undefined => {
    if (!available.has(name)) return `the ${name} controller is not available in ${parent}`;
    if (!missing.includes(name)) return undefined;
    return `cannot enable the ${name} controller in ${subtree}${enableError === '' ? '' : `: ${enableError}`}`;
  };
  const cpuWhy = notEnabled('cpu');
  const memoryWhy = notEnabled('memory');
  if (cpuWhy !== undefined && memoryWhy !== undefined) {
    return {
      cpu: { why: `cannot make a cpu cgroup (v2): ${cpuWhy}` },
      memory: { why: `cannot make a memory cgroup (v2): ${memoryWhy}` },
    };
  }

  let dir: string;
  try {
    dir = makeChild(parent);
  } catch (error) {
    return fail(errorText(error));
  }
  let cpu: Made = { why: `cannot make a cpu cgroup (v2): ${cpuWhy}` };
  if (cpuWhy === undefined) {
    try {
      writeControl(dir, 'cpu.max', `${cfsQuotaMicros(limits.cpuMillis)} ${CFS_PERIOD_US}`);
      writeControl(dir, 'cpu.weight', String(cpuWeightFromShares(kubeletCpuShares(limits.cpuMillis))));
      cpu = { dir };
    } catch (error) {
      cpu = { why: `cannot set cpu.max (v2): ${errorText(error)}` };
    }
  }
  let memory: Made = { why: `cannot make a memory cgroup (v2): ${memoryWhy}` };
  if (memoryWhy === undefined) {
    try {
      writeControl(dir, 'memory.max', String(limits.memoryBytes));
      memory = { dir };
      // Without swap: the kubelet's default, so that swap does not hide the limit (best effort).
      if (fs.existsSync(path.join(dir, 'memory.swap.max'))) {
        try {
          writeControl(dir, 'memory.swap.max', '0');
        } catch {
          // Swap stays as the parent allows.
        }
      }
    } catch (error) {
      memory = { why: `cannot set memory.max (v2): ${errorText(error)}` };
    }
  }
  if (!('dir' in cpu) && !('dir' in memory)) removeCgroup(dir);
  return { cpu, memory };
}

/** An executable by name: in /usr/bin, else the first on PATH; undefined when there is none. */
export function findExecutable(name: string): string | undefined {
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(path.delimiter).filter((dir) => dir !== '')];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // Next directory.
    }
  }
  return undefined;
}

/** The CPUs this process may run on: `Cpus_allowed_list` of /proc/self/status, else 0..n-1. */
function allowedCpus(): number[] {
  const status = readFile('/proc/self/status') ?? '';
  const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
  const listed = line === null ? [] : parseCpuList(line[1]);
  return listed.length > 0 ? listed : Array.from({ length: Math.max(1, os.cpus().length) }, (_, i) => i);
}

function checkLimits(limits: ResourceLimits): void {
  checkCpuMillis(limits.cpuMillis);
  const bytes = limits.memoryBytes;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new RangeError(`memory limit must be a positive whole number of bytes, received ${bytes}`);
  }
}

/**
 * Sets up limits for child processes started with {@link ResourceBudget.wrap}: child cgroups of this
 * process's own cgroups (cgroup v2 when `<root>/cgroup.controllers` exists, else v1), with the CPU
 * limit as a CFS quota of `cfsQuotaMicros(cpuMillis)` µs per 100000 µs and the memory limit (v1: and
 * memory + swap) at `memoryBytes`. Never throws on cgroup failures: the CPU limit falls back to an
 * affinity to whole cores when taskset is there, else to none, and the memory limit to none; `detail`
 * says why. Call {@link ResourceBudget.release} when the children have exited.
 *
 * @throws RangeError when cpuMillis is not a positive number or memoryBytes not a positive whole number
 */
export function createResourceBudget(limits: ResourceLimits, options: BudgetOptions = {}): ResourceBudget {
  checkLimits(limits);
  const root = options.cgroupRoot ?? '/sys/fs/cgroup';
  const prefer = options.prefer ?? 'auto';
  const version = fs.existsSync(path.join(root, 'cgroup.controllers')) ? 'v2' : 'v1';

  const forced = prefer === 'affinity' || prefer === 'none';
  let cpuMade: Made = { why: '' };
  let memoryMade: Made = { why: '' };
  if (!forced) {
    const self = parseProcCgroup(options.selfCgroup ?? readFile('/proc/self/cgroup') ?? '');
    ({ cpu: cpuMade, memory: memoryMade } =
      version === 'v2' ? setUpV2(root, self.v2, limits) : setUpV1(root, self.v1, limits));
  }
  const cpuDir = 'dir' in cpuMade ? cpuMade.dir : undefined;
  const memoryDir = 'dir' in memoryMade ? memoryMade.dir : undefined;
  const because = (made: Made): string => ('why' in made && made.why !== '' ? ` (${made.why})` : '');

  let cpu: CpuEnforcement = 'none';
  let cpuDetail = forced ? 'no CPU limit' : `no CPU limit: no CFS quota${because(cpuMade)} and no taskset`;
  let affinity: { readonly taskset: string; readonly list: string } | undefined;
  const taskset = cpuDir !== undefined || prefer === 'none' ? undefined : findExecutable('taskset');
  if (cpuDir !== undefined) {
    cpu = 'quota';
    const shares = `${kubeletCpuShares(limits.cpuMillis)} shares as for a ${limits.cpuMillis}m request`;
    cpuDetail = `CFS quota ${cfsQuotaMicros(limits.cpuMillis)} µs per ${CFS_PERIOD_US} µs (cgroup ${version}, ${shares})`;
  } else if (taskset !== undefined) {
    const cpus = affinityCpus(limits.cpuMillis, allowedCpus());
    affinity = { taskset, list: cpus.join(',') };
    cpu = 'affinity';
    cpuDetail = `affinity to ${cpus.length} core${cpus.length === 1 ? '' : 's'} (cpus ${affinity.list})`;
    if (!forced) cpuDetail += ` for want of a CFS quota${because(cpuMade)}`;
  }
  const memory: MemoryEnforcement = memoryDir === undefined ? 'none' : 'cgroup';
  const memoryDetail =
    memoryDir === undefined
      ? `no memory cgroup: the limit is checked against peak RSS${because(memoryMade)}`
      : `memory limit ${formatBytes(limits.memoryBytes)} (cgroup ${version})`;
  const detail = `${cpuDetail}${cpu === 'quota' && memory === 'cgroup' ? ', ' : '; '}${memoryDetail}`;

  const cgroupDirs = [...new Set([cpuDir, memoryDir].filter((dir): dir is string => dir !== undefined))];
  let released = false;

  return {
    cpu,
    memory,
    detail,
    wrap(command, args) {
      const inner =
        affinity === undefined
          ? [command, ...args]
          : [affinity.taskset, '-c', affinity.list, command, ...args];
      if (cgroupDirs.length === 0) return { command: inner[0], args: inner.slice(1) };
      const joins = cgroupDirs.map((dir) => `echo $$ > ${shellQuote(path.join(dir, 'cgroup.procs'))}`);
      return { command: '/bin/sh', args: ['-c', `${joins.join(' && ')} && exec "$0" "$@"`, ...inner] };
    },
    peakMemoryBytes() {
      if (memoryDir === undefined) return undefined;
      return readNumber(path.join(memoryDir, version === 'v2' ? 'memory.peak' : 'memory.max_usage_in_bytes'));
    },
    outOfMemory() {
      if (memoryDir === undefined) return false;
      if (version === 'v2') return (readKey(path.join(memoryDir, 'memory.events'), 'oom_kill') ?? 0) > 0;
      const kills = readKey(path.join(memoryDir, 'memory.oom_control'), 'oom_kill');
      if (kills !== undefined) return kills > 0;
      return (readNumber(path.join(memoryDir, 'memory.failcnt')) ?? 0) > 0;
    },
    release() {
      if (released) return;
      released = true;
      for (const dir of cgroupDirs) {
        try {
          removeCgroup(dir);
        } catch {
          // Never throws: a cgroup left behind is removed as stale by a later run.
        }
      }
    },
  };
}

const detected = new Map<string, { readonly cpu: CpuEnforcement; readonly memory: MemoryEnforcement }>();

/**
 * What {@link createResourceBudget} would get here, without leaving anything behind (it probes by
 * making a budget of 1 CPU and 256 MiB and releasing it): for cache keys. Memoized per process and
 * options.
 */
export function detectEnforcement(options: BudgetOptions = {}): {
  readonly cpu: CpuEnforcement;
  readonly memory: MemoryEnforcement;
} {
  const key = JSON.stringify([options.cgroupRoot ?? '', options.selfCgroup ?? '', options.prefer ?? 'auto']);
  let result = detected.get(key);
  if (result === undefined) {
    const budget = createResourceBudget({ cpuMillis: 1000, memoryBytes: 256 * 2 ** 20 }, options);
    budget.release();
    result = { cpu: budget.cpu, memory: budget.memory };
    detected.set(key, result);
  }
  return result;
}
