import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type ResourceBudget,
  affinityCpus,
  cfsQuotaMicros,
  cpuWeightFromShares,
  createResourceBudget,
  detectEnforcement,
  kubeletCpuShares,
  parseCpuList,
} from '../lib/gate/resource-budget';
import { parseProcCgroup } from '../lib/runtime';

const MiB = 2 ** 20;

/** Budgets and temporary directories a test made, released and removed after it. */
const budgets: ResourceBudget[] = [];
const tempDirs: string[] = [];

afterEach(() => {
  for (const budget of budgets.splice(0)) budget.release();
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function budgetOf(...args: Parameters<typeof createResourceBudget>): ResourceBudget {
  const budget = createResourceBudget(...args);
  budgets.push(budget);
  return budget;
}

/** A fake cgroup root: each `relative path → content` becomes a file (a trailing `/` a directory). */
function fakeRoot(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-budget-'));
  tempDirs.push(root);
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(root, relative);
    if (relative.endsWith('/')) {
      fs.mkdirSync(file, { recursive: true });
    } else {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, content);
    }
  }
  return root;
}

/** The budget's cgroups under dir (`modelfab-gate-<this pid>-N`). */
function gateDirs(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((name) => name.startsWith(`modelfab-gate-${process.pid}-`))
    .map((name) => path.join(dir, name));
}

function read(file: string): string {
  return fs.readFileSync(file, 'utf8');
}

/** The cgroup directories a wrapped command line joins. */
function joinedDirs(wrapped: { readonly args: readonly string[] }): string[] {
  return [...(wrapped.args[1] ?? '').matchAll(/echo \$\$ > (\S+)\/cgroup\.procs/g)].map((match) => match[1]);
}

const hasTaskset = ['/usr/bin', ...(process.env.PATH ?? '').split(':')].some((dir) =>
  fs.existsSync(path.join(dir, 'taskset')),
);

describe('parseProcCgroup', () => {
  it('maps each v1 controller to its path and reads the v2 path', () => {
    const parsed = parseProcCgroup(
      [
        '9:name=systemd:/',
        '4:memory:/process_api/596d82de',
        '3:cpu,cpuacct:/kubepods/pod1/abc',
        '0::/',
        '',
      ].join('\n'),
    );
    expect(Object.fromEntries(parsed.v1)).toEqual({
      'name=systemd': '/',
      memory: '/process_api/596d82de',
      cpu: '/kubepods/pod1/abc',
      cpuacct: '/kubepods/pod1/abc',
    });
    expect(parsed.v2).toBe('/');
  });

  it('reads a pure v2 file and skips lines that are not id:controllers:path', () => {
    const parsed = parseProcCgroup('0::/user.slice/session-1.scope\ngarbage\n\n');
    expect(parsed.v1.size).toBe(0);
    expect(parsed.v2).toBe('/user.slice/session-1.scope');
  });

  it('has no v2 path without a 0:: line, and keeps colons inside the path', () => {
    const parsed = parseProcCgroup('2:memory:/a:b\n');
    expect(parsed.v2).toBeUndefined();
    expect(parsed.v1.get('memory')).toBe('/a:b');
  });
});

describe('pure helpers', () => {
  it('sets the CFS quota per 100000 µs period, at least 1000 µs', () => {
    expect(cfsQuotaMicros(500)).toBe(50_000);
    expect(cfsQuotaMicros(1000)).toBe(100_000);
    expect(cfsQuotaMicros(2500)).toBe(250_000);
    expect(cfsQuotaMicros(1.234)).toBe(1000);
    expect(cfsQuotaMicros(12.345)).toBe(1235);
    expect(() => cfsQuotaMicros(0)).toThrow(/received 0/);
    expect(() => cfsQuotaMicros(Number.NaN)).toThrow(/received NaN/);
  });

  it('parses kernel CPU lists', () => {
    expect(parseCpuList('0-1\n')).toEqual([0, 1]);
    expect(parseCpuList('0-2,8,10-11')).toEqual([0, 1, 2, 8, 10, 11]);
    expect(parseCpuList('x')).toEqual([]);
  });

  it('pins to max(1, round(cpus)) of the highest-numbered allowed cores', () => {
    expect(affinityCpus(500, [0, 1])).toEqual([1]);
    expect(affinityCpus(100, [0, 1, 2, 3])).toEqual([3]);
    expect(affinityCpus(1400, [0, 1, 2, 3])).toEqual([3]);
    expect(affinityCpus(1500, [3, 0, 2, 1])).toEqual([2, 3]);
    expect(affinityCpus(8000, [0, 1])).toEqual([0, 1]);
    expect(() => affinityCpus(1000, [])).toThrow(/no cpu is allowed/);
  });
});

describe('createResourceBudget: limits', () => {
  it('rejects limits that are not positive, saying what it got', () => {
    expect(() => createResourceBudget({ cpuMillis: -1, memoryBytes: MiB }, { prefer: 'none' })).toThrow(
      /cpu limit .* received -1/,
    );
    expect(() => createResourceBudget({ cpuMillis: 100, memoryBytes: 1.5 }, { prefer: 'none' })).toThrow(
      /memory limit .* received 1.5/,
    );
  });
});

describe('createResourceBudget on a fake cgroup v1 root', () => {
  const selfCgroup = '9:name=systemd:/\n4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n';
  const v1Files = {
    'cpu/cgroup.procs': '',
    'cpu/cpu.cfs_quota_us': '-1\n',
    'cpu/cpu.cfs_period_us': '100000\n',
    'memory/cgroup.procs': '',
    'memory/process_api/abc/cgroup.procs': '',
    'memory/process_api/abc/memory.limit_in_bytes': '9223372036854771712\n',
    'memory/process_api/abc/memory.memsw.limit_in_bytes': '9223372036854771712\n',
  };

  it('makes a cpu cgroup with the quota and a memory cgroup (with memsw) under its own cgroups', () => {
    const root = fakeRoot(v1Files);
    const budget = budgetOf({ cpuMillis: 500, memoryBytes: 512 * MiB }, { cgroupRoot: root, selfCgroup });
    expect(budget.cpu).toBe('quota');
    expect(budget.memory).toBe('cgroup');
    expect(budget.detail).toBe(
      'CFS quota 50000 µs per 100000 µs (cgroup v1, 512 shares as for a 500m request), memory limit 512 MiB (cgroup v1)',
    );

    const [cpuDir] = gateDirs(path.join(root, 'cpu'));
    const [memoryDir] = gateDirs(path.join(root, 'memory/process_api/abc'));
    expect(read(path.join(cpuDir, 'cpu.cfs_period_us'))).toBe('100000');
    expect(read(path.join(cpuDir, 'cpu.cfs_quota_us'))).toBe('50000');
    expect(read(path.join(cpuDir, 'cpu.shares'))).toBe('512');
    expect(read(path.join(memoryDir, 'memory.limit_in_bytes'))).toBe(String(512 * MiB));
    expect(read(path.join(memoryDir, 'memory.memsw.limit_in_bytes'))).toBe(String(512 * MiB));
    // Nothing in the memory mount's root nor in the parents' own files.
    expect(gateDirs(path.join(root, 'memory'))).toEqual([]);
    expect(read(path.join(root, 'cpu/cpu.cfs_quota_us'))).toBe('-1\n');

    expect(budget.wrap('node', ['server.js', '--port', '8080'])).toEqual({
      command: '/bin/sh',
      args: [
        '-c',
        `echo $$ > ${cpuDir}/cgroup.procs && echo $$ > ${memoryDir}/cgroup.procs && exec "$0" "$@"`,
        'node',
        'server.js',
        '--port',
        '8080',
      ],
    });
  });

  it('reads peak memory and the OOM state from the memory cgroup', () => {
    const root = fakeRoot(v1Files);
    const budget = budgetOf({ cpuMillis: 1000, memoryBytes: 1024 * MiB }, { cgroupRoot: root, selfCgroup });
    expect(budget.detail).toMatch(/memory limit 1 GiB \(cgroup v1\)$/);
    const [memoryDir] = gateDirs(path.join(root, 'memory/process_api/abc'));
    expect(budget.peakMemoryBytes()).toBeUndefined();
    expect(budget.outOfMemory()).toBe(false);

    fs.writeFileSync(path.join(memoryDir, 'memory.max_usage_in_bytes'), '123456789\n');
    fs.writeFileSync(path.join(memoryDir, 'memory.failcnt'), '7\n');
    fs.writeFileSync(
      path.join(memoryDir, 'memory.oom_control'),
      'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
    );
    expect(budget.peakMemoryBytes()).toBe(123456789);
    expect(budget.outOfMemory()).toBe(false); // oom_kill is there and 0: failcnt is not consulted
    fs.writeFileSync(
      path.join(memoryDir, 'memory.oom_control'),
      'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
    );
    expect(budget.outOfMemory()).toBe(true);
    fs.writeFileSync(path.join(memoryDir, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\n');
    expect(budget.outOfMemory()).toBe(true); // an older kernel: failcnt > 0
  });

  it('leaves memsw alone without swap accounting, and names cgroups with a counter', () => {
    const files: Record<string, string> = { ...v1Files };
    delete files['memory/process_api/abc/memory.memsw.limit_in_bytes'];
    const root = fakeRoot(files);
    budgetOf({ cpuMillis: 250, memoryBytes: 100 * MiB }, { cgroupRoot: root, selfCgroup });
    budgetOf({ cpuMillis: 250, memoryBytes: 100 * MiB }, { cgroupRoot: root, selfCgroup });
    const memoryDirs = gateDirs(path.join(root, 'memory/process_api/abc'));
    expect(memoryDirs).toHaveLength(2);
    for (const dir of memoryDirs) {
      expect(fs.existsSync(path.join(dir, 'memory.memsw.limit_in_bytes'))).toBe(false);
      expect(read(path.join(dir, 'memory.limit_in_bytes'))).toBe(String(100 * MiB));
    }
    expect(new Set(memoryDirs).size).toBe(2);
  });

  it('removes stale cgroups of processes that are gone, and keeps live ones', () => {
    const root = fakeRoot({
      ...v1Files,
      'cpu/modelfab-gate-999999999-1/': '',
      [`cpu/modelfab-gate-${process.pid}-999999/`]: '',
      'cpu/modelfab-gate-1-3/': '', // pid 1 is alive
      'cpu/other/': '',
    });
    budgetOf({ cpuMillis: 500, memoryBytes: 64 * MiB }, { cgroupRoot: root, selfCgroup });
    const names = fs.readdirSync(path.join(root, 'cpu'));
    expect(names).not.toContain('modelfab-gate-999999999-1');
    expect(names).toContain(`modelfab-gate-${process.pid}-999999`);
    expect(names).toContain('modelfab-gate-1-3');
    expect(names).toContain('other');
  });

  it('nests under the mount itself when its own path is not there (a container without a cgroup namespace)', () => {
    const root = fakeRoot(v1Files);
    const budget = budgetOf(
      { cpuMillis: 500, memoryBytes: 64 * MiB },
      { cgroupRoot: root, selfCgroup: '4:memory:/docker/f00\n1:cpu:/docker/f00\n' },
    );
    expect(budget.cpu).toBe('quota');
    expect(budget.memory).toBe('cgroup');
    expect(gateDirs(path.join(root, 'cpu'))).toHaveLength(1);
    expect(gateDirs(path.join(root, 'memory'))).toHaveLength(1);
  });

  it.skipIf(!hasTaskset)('falls back to an affinity without a cpu hierarchy, saying why', () => {
    const files: Record<string, string> = { ...v1Files };
    for (const key of Object.keys(files)) if (key.startsWith('cpu/')) delete files[key];
    const root = fakeRoot(files);
    const budget = budgetOf({ cpuMillis: 500, memoryBytes: 64 * MiB }, { cgroupRoot: root, selfCgroup });
    expect(budget.cpu).toBe('affinity');
    expect(budget.memory).toBe('cgroup');
    expect(budget.detail).toMatch(
      /^affinity to 1 core \(cpus \d+\) for want of a CFS quota \(cannot make a cpu cgroup \(v1\): no cpu hierarchy mounted under .*\); memory limit 64 MiB \(cgroup v1\)$/,
    );
    // Joins the memory cgroup, then pins.
    const wrapped = budget.wrap('node', ['a.js']);
    const [memoryDir] = gateDirs(path.join(root, 'memory/process_api/abc'));
    expect(wrapped.command).toBe('/bin/sh');
    expect(wrapped.args.slice(0, 2)).toEqual(['-c', `echo $$ > ${memoryDir}/cgroup.procs && exec "$0" "$@"`]);
    expect(wrapped.args[2]).toMatch(/taskset$/);
    expect(wrapped.args.slice(3, 4)).toEqual(['-c']);
    expect(wrapped.args.slice(5)).toEqual(['node', 'a.js']);
  });

  it('has no memory cgroup without a line for it in /proc/self/cgroup, saying why', () => {
    const root = fakeRoot(v1Files);
    const budget = budgetOf(
      { cpuMillis: 500, memoryBytes: 64 * MiB },
      { cgroupRoot: root, selfCgroup: '1:cpu:/\n' },
    );
    expect(budget.cpu).toBe('quota');
    expect(budget.memory).toBe('none');
    expect(budget.detail).toBe(
      'CFS quota 50000 µs per 100000 µs (cgroup v1, 512 shares as for a 500m request); no memory cgroup: the limit is checked against peak RSS ' +
        '(cannot make a memory cgroup (v1): no memory line in /proc/self/cgroup)',
    );
    expect(budget.peakMemoryBytes()).toBeUndefined();
    expect(budget.outOfMemory()).toBe(false);
  });
});

describe('createResourceBudget on a fake cgroup v2 root', () => {
  const selfCgroup = '0::/pod\n';
  const v2Files = {
    'cgroup.controllers': 'cpuset cpu io memory hugetlb pids\n',
    'cgroup.subtree_control': 'cpu memory pids\n',
    'pod/cgroup.controllers': 'cpu memory pids\n',
    'pod/cgroup.subtree_control': 'pids\n',
    'pod/cgroup.procs': '',
  };

  it('enables cpu and memory for the subtree and sets cpu.max and memory.max in one cgroup', () => {
    const root = fakeRoot(v2Files);
    const budget = budgetOf({ cpuMillis: 1500, memoryBytes: 300 * MiB }, { cgroupRoot: root, selfCgroup });
    expect(budget.cpu).toBe('quota');
    expect(budget.memory).toBe('cgroup');
    expect(budget.detail).toBe(
      'CFS quota 150000 µs per 100000 µs (cgroup v2, 1536 shares as for a 1500m request), memory limit 300 MiB (cgroup v2)',
    );
    expect(read(path.join(root, 'pod/cgroup.subtree_control'))).toBe('+cpu +memory');
    const [dir] = gateDirs(path.join(root, 'pod'));
    expect(read(path.join(dir, 'cpu.max'))).toBe('150000 100000');
    expect(read(path.join(dir, 'cpu.weight'))).toBe('59');
    expect(read(path.join(dir, 'memory.max'))).toBe(String(300 * MiB));
    expect(budget.wrap('/usr/bin/python3', ['-m', 'http.server'])).toEqual({
      command: '/bin/sh',
      args: [
        '-c',
        `echo $$ > ${dir}/cgroup.procs && exec "$0" "$@"`,
        '/usr/bin/python3',
        '-m',
        'http.server',
      ],
    });

    expect(budget.peakMemoryBytes()).toBeUndefined(); // no memory.peak on older kernels
    fs.writeFileSync(path.join(dir, 'memory.peak'), '4096\n');
    expect(budget.peakMemoryBytes()).toBe(4096);
    fs.writeFileSync(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 0\noom_kill 0\n');
    expect(budget.outOfMemory()).toBe(false);
    fs.writeFileSync(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n');
    expect(budget.outOfMemory()).toBe(true);
  });

  it('does not write subtree_control when the controllers are already enabled', () => {
    const root = fakeRoot({ ...v2Files, 'pod/cgroup.subtree_control': 'cpu memory\n' });
    budgetOf({ cpuMillis: 500, memoryBytes: 64 * MiB }, { cgroupRoot: root, selfCgroup });
    expect(read(path.join(root, 'pod/cgroup.subtree_control'))).toBe('cpu memory\n');
  });

  it.skipIf(!hasTaskset)('keeps the memory cgroup when only memory can be delegated', () => {
    const root = fakeRoot({ ...v2Files, 'pod/cgroup.controllers': 'memory pids\n' });
    const budget = budgetOf({ cpuMillis: 500, memoryBytes: 64 * MiB }, { cgroupRoot: root, selfCgroup });
    expect(budget.cpu).toBe('affinity');
    expect(budget.memory).toBe('cgroup');
    expect(budget.detail).toContain(
      '(cannot make a cpu cgroup (v2): the cpu controller is not available in ',
    );
    const [dir] = gateDirs(path.join(root, 'pod'));
    expect(fs.existsSync(path.join(dir, 'cpu.max'))).toBe(false);
    expect(read(path.join(root, 'pod/cgroup.subtree_control'))).toBe('+memory');
  });

  it('falls back and makes nothing when the controllers cannot be enabled', () => {
    // A directory where subtree_control should be: every write to it fails.
    const files: Record<string, string> = { ...v2Files, 'pod/cgroup.subtree_control/': '' };
    delete files['pod/cgroup.subtree_control'];
    const root = fakeRoot(files);
    const budget = budgetOf({ cpuMillis: 500, memoryBytes: 64 * MiB }, { cgroupRoot: root, selfCgroup });
    expect(budget.cpu).toBe(hasTaskset ? 'affinity' : 'none');
    expect(budget.memory).toBe('none');
    expect(budget.detail).toMatch(
      /cannot make a cpu cgroup \(v2\): cannot enable the cpu controller in .*EISDIR/,
    );
    expect(budget.detail).toMatch(
      /no memory cgroup: the limit is checked against peak RSS \(cannot make a memory/,
    );
    expect(gateDirs(path.join(root, 'pod'))).toEqual([]);
  });

  it('says so without a 0:: line', () => {
    const root = fakeRoot(v2Files);
    const budget = budgetOf({ cpuMillis: 500, memoryBytes: 64 * MiB }, { cgroupRoot: root, selfCgroup: '' });
    expect(budget.memory).toBe('none');
    expect(budget.detail).toContain('no 0:: line in /proc/self/cgroup');
  });
});

describe('forced modes', () => {
  it("prefer 'none' leaves the command as it is and makes no cgroup", () => {
    const root = fakeRoot({ 'cpu/cgroup.procs': '', 'memory/cgroup.procs': '' });
    const budget = budgetOf({ cpuMillis: 500, memoryBytes: 64 * MiB }, { cgroupRoot: root, prefer: 'none' });
    expect(budget.cpu).toBe('none');
    expect(budget.memory).toBe('none');
    expect(budget.detail).toBe('no CPU limit; no memory cgroup: the limit is checked against peak RSS');
    expect(budget.wrap('node', ['a.js'])).toEqual({ command: 'node', args: ['a.js'] });
    expect(budget.peakMemoryBytes()).toBeUndefined();
    expect(budget.outOfMemory()).toBe(false);
    expect(gateDirs(path.join(root, 'cpu'))).toEqual([]);
    expect(() => {
      budget.release();
      budget.release();
    }).not.toThrow();
  });

  it.skipIf(!hasTaskset)("prefer 'affinity' pins to whole cores with taskset and makes no cgroup", () => {
    const root = fakeRoot({ 'cpu/cgroup.procs': '', 'memory/cgroup.procs': '' });
    const budget = budgetOf(
      { cpuMillis: 500, memoryBytes: 64 * MiB },
      { cgroupRoot: root, prefer: 'affinity' },
    );
    expect(budget.cpu).toBe('affinity');
    expect(budget.memory).toBe('none');
    expect(budget.detail).toMatch(
      /^affinity to 1 core \(cpus (\d+)\); no memory cgroup: the limit is checked against peak RSS$/,
    );
    const cpuInDetail = /cpus (\d+)/.exec(budget.detail)?.[1];
    const wrapped = budget.wrap('node', ['a.js', '--x']);
    expect(wrapped.command).toMatch(/\/taskset$/);
    expect(wrapped.args).toEqual(['-c', cpuInDetail, 'node', 'a.js', '--x']);
    expect(gateDirs(path.join(root, 'cpu'))).toEqual([]);
  });
});

describe('detectEnforcement', () => {
  it('is memoized per options', () => {
    const root = fakeRoot({ 'cpu/cgroup.procs': '', 'memory/cgroup.procs': '' });
    const options = { cgroupRoot: root, selfCgroup: '1:cpu:/\n2:memory:/\n' };
    const first = detectEnforcement(options);
    expect(first.cpu).toBe('quota');
    expect(first.memory).toBe('cgroup');
    fs.rmSync(root, { recursive: true, force: true });
    expect(detectEnforcement(options)).toBe(first);
    expect(detectEnforcement({ ...options, prefer: 'none' })).toEqual({ cpu: 'none', memory: 'none' });
  });
});

// Real cgroups of this machine: they need root and a writable cgroup filesystem.
const real = detectEnforcement();
const noQuota = real.cpu !== 'quota';
const noMemoryCgroup = real.memory !== 'cgroup';
/** The name of a test skipped for want of a real cgroup. */
const skipped = (what: string): string =>
  `skipped: no real ${what} can be made here (detectEnforcement() gave cpu ${real.cpu}, memory ${real.memory})`;

/** Runs `node -e script` inside the budget: its exit and output. */
function runNode(
  budget: ResourceBudget,
  script: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }> {
  const wrapped = budget.wrap(process.execPath, ['-e', script]);
  return new Promise((resolve, reject) => {
    const child = spawn(wrapped.command, wrapped.args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout }));
  });
}

/** Counts loop iterations for 0.6 s of wall time (six quota periods) and prints the count. */
const BURN = `const end = Date.now() + 600; let n = 0;
while (Date.now() < end) { for (let i = 0; i < 10000; i++) n++; }
console.log(n);`;

describe('real cgroups', () => {
  it.skipIf(noQuota)(
    noQuota ? skipped('cpu cgroup') : 'a 0.5-CPU quota does about half the work of 1 CPU',
    async () => {
      const work = async (cpuMillis: number): Promise<number> => {
        const budget = budgetOf({ cpuMillis, memoryBytes: 1024 * MiB });
        expect(budget.cpu).toBe('quota');
        const { code, stdout } = await runNode(budget, BURN);
        expect(code).toBe(0);
        return Number(stdout.trim());
      };
      const half = await work(500);
      const full = await work(1000);
      expect(full).toBeGreaterThan(0);
      const ratio = half / full;
      expect(ratio, `0.5 CPU did ${half} iterations, 1 CPU ${full}`).toBeGreaterThan(0.35);
      expect(ratio, `0.5 CPU did ${half} iterations, 1 CPU ${full}`).toBeLessThan(0.7);
    },
  );

  it.skipIf(noMemoryCgroup)(
    noMemoryCgroup ? skipped('memory cgroup') : 'a child touching 300 MB under a 100 MiB limit is OOM-killed',
    async () => {
      const budget = budgetOf({ cpuMillis: 1000, memoryBytes: 100 * MiB });
      expect(budget.outOfMemory()).toBe(false);
      const { signal, stdout } = await runNode(
        budget,
        'const b = Buffer.alloc(300e6); b.fill(1); console.log(b[1]);',
      );
      expect(signal).toBe('SIGKILL');
      expect(stdout).toBe('');
      expect(budget.outOfMemory()).toBe(true);
      expect(budget.peakMemoryBytes()).toBeLessThanOrEqual(100 * MiB);
    },
  );

  it.skipIf(noMemoryCgroup)(
    noMemoryCgroup
      ? skipped('memory cgroup')
      : 'reads the peak of a small child under 256 MiB, and release() removes the cgroups',
    async () => {
      const budget = createResourceBudget({ cpuMillis: 1000, memoryBytes: 256 * MiB });
      try {
        const { code } = await runNode(budget, 'Buffer.alloc(20e6).fill(1);');
        expect(code).toBe(0);
        expect(budget.peakMemoryBytes()).toBeGreaterThan(20e6);
        expect(budget.peakMemoryBytes()).toBeLessThanOrEqual(256 * MiB);
        expect(budget.outOfMemory()).toBe(false);
        const dirs = joinedDirs(budget.wrap('node', []));
        expect(dirs.length).toBeGreaterThan(0);
        for (const dir of dirs) expect(fs.existsSync(dir)).toBe(true);
        budget.release();
        for (const dir of dirs) expect(fs.existsSync(dir)).toBe(false);
      } finally {
        budget.release();
      }
    },
  );

  it.skipIf(noQuota && noMemoryCgroup)(
    noQuota && noMemoryCgroup ? skipped('cgroup') : 'detectEnforcement() leaves no cgroup behind',
    () => {
      const self = parseProcCgroup(fs.readFileSync('/proc/self/cgroup', 'utf8'));
      const parents =
        self.v2 !== undefined && fs.existsSync('/sys/fs/cgroup/cgroup.controllers')
          ? [path.join('/sys/fs/cgroup', self.v2)]
          : (['cpu', 'memory'] as const).map((name) =>
              path.join('/sys/fs/cgroup', name, self.v1.get(name) ?? '/'),
            );
      for (const parent of parents) if (fs.existsSync(parent)) expect(gateDirs(parent)).toEqual([]);
    },
  );
});

describe("the server's CPU share", () => {
  it('gives the server the shares the kubelet gives a pod whose request is its limit', () => {
    expect(kubeletCpuShares(1000)).toBe(1024);
    expect(kubeletCpuShares(500)).toBe(512);
    expect(kubeletCpuShares(1)).toBe(2);
    expect(kubeletCpuShares(4000)).toBe(4096);
    // runc's conversion for cgroup v2: the minimum and maximum shares map to weight 1 and 10000.
    expect(cpuWeightFromShares(2)).toBe(1);
    expect(cpuWeightFromShares(1024)).toBe(39);
    expect(cpuWeightFromShares(262144)).toBe(10000);
  });
});
