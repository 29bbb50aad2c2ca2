/**
 * lib/runtime polling: the adaptive SpinBudget (on, off after misses in a row, trials less and
 * less often, back on after a hit), the CPU count it depends on, and — in a process pinned to
 * one CPU, where a polling thread holds the CPU the other thread needs — an executor that stays
 * fast instead of paying the whole budget on every request.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpinBudget, availableCpus, cgroupCpuQuota, cpuCgroupPath, parseCpuMax } from '../lib/runtime';

const ROOT = path.resolve(__dirname, '..');

describe('SpinBudget', () => {
  it('polls the full budget until three polls in a row miss', () => {
    const spin = new SpinBudget(0.5);
    expect(spin.next()).toBe(0.5);
    spin.miss();
    spin.miss();
    spin.hit(); // a hit forgives isolated misses
    spin.miss();
    spin.miss();
    expect(spin.next()).toBe(0.5);
    spin.miss();
    expect(spin.next()).toBe(0);
  });

  it('tries again after 32 waits, then less and less often, and is back on after a hit', () => {
    const spin = new SpinBudget(0.5);
    for (let i = 0; i < 3; i++) spin.miss();
    const waitsUntilTrial = () => {
      let waits = 1;
      while (spin.next() === 0) waits++;
      return waits;
    };
    expect(waitsUntilTrial()).toBe(32);
    spin.miss();
    expect(waitsUntilTrial()).toBe(64);
    spin.miss();
    expect(waitsUntilTrial()).toBe(128);
    for (let i = 0; i < 10; i++) {
      spin.miss();
      waitsUntilTrial();
    }
    spin.miss();
    expect(waitsUntilTrial()).toBe(1024);
    spin.hit();
    expect(spin.next()).toBe(0.5);
    expect(spin.next()).toBe(0.5);
  });

  it('never polls with a budget of 0', () => {
    const spin = new SpinBudget(0);
    spin.hit();
    expect(spin.next()).toBe(0);
  });
});

describe('availableCpus', () => {
  it('reads cgroup v2 quotas', () => {
    expect(parseCpuMax('150000 100000\n')).toBe(1.5);
    expect(parseCpuMax('max 100000\n')).toBeUndefined();
    expect(parseCpuMax('-1 100000')).toBeUndefined();
    expect(parseCpuMax('')).toBeUndefined();
  });

  it('is positive and at most the core count', () => {
    expect(availableCpus()).toBeGreaterThan(0);
    expect(availableCpus()).toBeLessThanOrEqual(os.availableParallelism());
  });
});

const taskset = ['/usr/bin/taskset', '/bin/taskset'].find((f) => fs.existsSync(f));

describe.skipIf(taskset === undefined)('an executor pinned to one CPU', () => {
  it('does not poll by default, and stops polling when forced to, instead of stalling', () => {
    const program = `
      const { Executor } = require(${JSON.stringify(path.join(ROOT, 'lib', 'runtime', 'index.ts'))});
      const inputs = { input: { type: 'float32', dims: [1, 4], data: Float32Array.from([5.1, 3.5, 1.4, 0.2]) } };
      async function p50(options) {
        const executor = await Executor.create({ modelPath: ${JSON.stringify(path.join(ROOT, 'examples', 'iris', 'model', 'iris.onnx'))}, ...options });
        const times = [];
        for (let i = 0; i < 1500; i++) {
          const start = performance.now();
          await executor.infer(inputs);
          times.push((performance.now() - start) * 1000);
        }
        await executor.close();
        times.sort((a, b) => a - b);
        return { spinMs: executor.spinMs, p50: times[times.length >> 1] };
      }
      (async () => {
        process.stdout.write(JSON.stringify({ detected: await p50({}), forced: await p50({ spinMs: 0.5, cpus: 2 }) }));
      })();
    `;
    const stdout = execFileSync(
      taskset!,
      ['-c', '0', process.execPath, '--require', require.resolve('tsx/cjs'), '-e', program],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    const { detected, forced } = JSON.parse(stdout) as Record<string, { spinMs: number; p50: number }>;
    expect(detected.spinMs).toBe(0);
    expect(forced.spinMs).toBe(0.5);
    // Polling on one CPU costs the whole budget (500 µs) per wait until it switches itself off.
    expect(forced.p50).toBeLessThan(250);
  });
});

describe('cgroupCpuQuota', () => {
  /** A cgroup filesystem in a temporary folder: `files` relative to its root. */
  function fakeRoot(files: Record<string, string>): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-cgroup-'));
    for (const [file, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      fs.writeFileSync(path.join(root, file), text);
    }
    return root;
  }

  it('finds the cpu controller line of /proc/self/cgroup, v1 before v2', () => {
    expect(cpuCgroupPath('12:memory:/m\n4:cpu,cpuacct:/kubepods/pod1/c1\n0::/x\n')).toEqual({
      version: 1,
      path: '/kubepods/pod1/c1',
    });
    expect(cpuCgroupPath('0::/system.slice/app.service\n')).toEqual({
      version: 2,
      path: '/system.slice/app.service',
    });
    expect(cpuCgroupPath('')).toEqual({ version: 1, path: '/' });
  });

  it("reads the process's own cgroup, not the hierarchy's root, and the smallest quota above it (v1)", () => {
    const root = fakeRoot({
      'cpu/cpu.cfs_quota_us': '-1',
      'cpu/cpu.cfs_period_us': '100000',
      'cpu/gate/cpu.cfs_quota_us': '200000',
      'cpu/gate/cpu.cfs_period_us': '100000',
      'cpu/gate/server/cpu.cfs_quota_us': '50000',
      'cpu/gate/server/cpu.cfs_period_us': '100000',
    });
    expect(cgroupCpuQuota(root, '1:cpu:/gate/server\n')).toBe(0.5);
    expect(cgroupCpuQuota(root, '1:cpu:/gate\n')).toBe(2);
    expect(cgroupCpuQuota(root, '1:cpu:/\n')).toBeUndefined();
  });

  it('reads cpu.max along the v2 path', () => {
    const root = fakeRoot({
      'cpu.max': 'max 100000',
      'pod/cpu.max': '150000 100000',
      'pod/c/cpu.max': 'max 100000',
    });
    expect(cgroupCpuQuota(root, '0::/pod/c\n')).toBe(1.5);
  });
});
