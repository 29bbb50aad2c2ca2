/**
 * How many CPUs this process may really use: the cores it may run on, capped by the CPU quota of
 * its cgroup (a container's CPU limit), which the core count does not show.
 */
import fs from 'node:fs';
import os from 'node:os';

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

/** The cgroup CPU quota of this process in CPUs, or undefined when there is none (or no cgroup). */
export function cgroupCpuQuota(): number | undefined {
  const v2 = readFile('/sys/fs/cgroup/cpu.max');
  if (v2 !== undefined) return parseCpuMax(v2);
  const quota = readFile('/sys/fs/cgroup/cpu/cpu.cfs_quota_us');
  const period = readFile('/sys/fs/cgroup/cpu/cpu.cfs_period_us');
  return quota !== undefined && period !== undefined ? parseCpuMax(`${quota} ${period}`) : undefined;
}

/** The CPUs this process may use: `os.availableParallelism()`, capped by the cgroup CPU quota. */
export function availableCpus(): number {
  const cores = os.availableParallelism();
  const quota = cgroupCpuQuota();
  return quota === undefined ? cores : Math.min(cores, quota);
}
