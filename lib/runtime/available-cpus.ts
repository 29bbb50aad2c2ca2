/**
 * How many CPUs this process may really use: the cores it may run on, capped by the CPU quota of
 * its cgroup (a container's CPU limit), which the core count does not show.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The CPU quota in a cgroup v2 `cpu.max` file (`"150000 100000"` → 1.5), or undefined for no
 * quota (`"max 100000"`) or text that is not a quota.
 */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && q > 0 && Number.isFinite(p) && p > 0 ? q / p : undefined;
}

function readFile(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Parses `/proc/self/cgroup` text into the path of each cgroup v1 controller (lines `N:cpu,cpuacct:/x`
 * give `cpu` and `cpuacct` the path `/x`; `N:name=systemd:/x` gives `name=systemd`) and the cgroup v2
 * path (the line `0::/x`). Lines that are not `id:controllers:path` are skipped.
 */
export function parseProcCgroup(text: string): {
  readonly v1: ReadonlyMap<string, string>;
  readonly v2?: string;
} {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of text.split('\n')) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (match === null) continue;
    const [, id, controllers, cgroupPath] = match;
    if (id === '0' && controllers === '') {
      v2 = cgroupPath;
      continue;
    }
    for (const controller of controllers.split(',')) if (controller !== '') v1.set(controller, cgroupPath);
  }
  return v2 === undefined ? { v1 } : { v1, v2 };
}

/**
 * This process's cgroup path for the CPU controller from `/proc/self/cgroup` text: the v1 line
 * whose controllers include `cpu` (`4:cpu,cpuacct:/kubepods/pod1/c1`), else the v2 line (`0::/x`);
 * `/` when neither is there.
 */
export function cpuCgroupPath(procSelfCgroup: string): { readonly version: 1 | 2; readonly path: string } {
  const { v1, v2 } = parseProcCgroup(procSelfCgroup);
  const cpu = v1.get('cpu');
  if (cpu !== undefined) return { version: 1, path: cpu };
  return { version: v2 === undefined ? 1 : 2, path: v2 ?? '/' };
}

/** `/a/b` → `['/a/b', '/a', '/']`. */
function selfAndAncestors(cgroupPath: string): string[] {
  const parts = cgroupPath.split('/').filter((p) => p !== '');
  return Array.from({ length: parts.length + 1 }, (_, i) => `/${parts.slice(0, parts.length - i).join('/')}`);
}

/**
 * The cgroup CPU quota of this process in CPUs, or undefined when there is none (or no cgroup): the
 * smallest quota of its own CPU cgroup and the ones above it. In a container the process's cgroup
 * is usually the hierarchy's root; a process placed in a cgroup of its own without a cgroup
 * namespace (the gate's server, some runtimes) sees the whole hierarchy, and its own quota is at
 * its own path.
 */
export function cgroupCpuQuota(
  root = '/sys/fs/cgroup',
  procSelfCgroup = readFile('/proc/self/cgroup') ?? '',
): number | undefined {
  const { version, path: own } = cpuCgroupPath(procSelfCgroup);
  const quotas: number[] = [];
  for (const dir of selfAndAncestors(own)) {
    let quota: number | undefined;
    if (version === 2) {
      const text = readFile(path.join(root, dir, 'cpu.max'));
      quota = text === undefined ? undefined : parseCpuMax(text);
    } else {
      for (const mount of ['cpu', 'cpu,cpuacct', 'cpuacct,cpu']) {
        const q = readFile(path.join(root, mount, dir, 'cpu.cfs_quota_us'));
        const p = readFile(path.join(root, mount, dir, 'cpu.cfs_period_us'));
        if (q !== undefined && p !== undefined) {
          quota = parseCpuMax(`${q} ${p}`);
          break;
        }
      }
    }
    if (quota !== undefined) quotas.push(quota);
  }
  return quotas.length > 0 ? Math.min(...quotas) : undefined;
}

/** The CPUs this process may use: `os.availableParallelism()`, capped by the cgroup CPU quota. */
export function availableCpus(): number {
  const cores = os.availableParallelism();
  const quota = cgroupCpuQuota();
  return quota === undefined ? cores : Math.min(cores, quota);
}
