/**
 * The gate's view of this machine's GPUs: nvidia-smi's CSV and the pools' GPU names. No GPU is
 * needed: nvidia-smi's output is given. What a GPU service's gate does with them is in
 * gate-gpu-gate.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { detectGpus, gpuNameOf, NVIDIA_SMI_ARGS, parseNvidiaSmi } from '../lib/gate/gpu-presence';

describe('parseNvidiaSmi', () => {
  it('reads one GPU a line, in index order: product, driver, memory in MiB; and names it as the pools do', () => {
    const csv = 'NVIDIA A10G, 550.127.05, 23028\nNVIDIA A10G, 550.127.05, 23028\n';
    expect(parseNvidiaSmi(csv)).toEqual([
      { index: 0, product: 'NVIDIA A10G', name: 'a10g', driverVersion: '550.127.05', memoryMiB: 23028 },
      { index: 1, product: 'NVIDIA A10G', name: 'a10g', driverVersion: '550.127.05', memoryMiB: 23028 },
    ]);
  });

  it('tells L4 from L40S, and leaves a GPU no pool offers unnamed', () => {
    expect(gpuNameOf('NVIDIA L4')).toBe('l4');
    expect(gpuNameOf('NVIDIA L40S')).toBe('l40s');
    expect(gpuNameOf('Tesla T4')).toBe('t4');
    expect(gpuNameOf('NVIDIA A100-SXM4-40GB')).toBe('a100');
    expect(gpuNameOf('NVIDIA H100 80GB HBM3')).toBe('h100');
    expect(gpuNameOf('NVIDIA H200')).toBeUndefined();
    expect(parseNvidiaSmi('NVIDIA H200, 560.35.03, 143771')).toEqual([
      { index: 0, product: 'NVIDIA H200', driverVersion: '560.35.03', memoryMiB: 143771 },
    ]);
  });

  it('runs the query the parser reads', () => {
    expect(NVIDIA_SMI_ARGS).toEqual([
      '--query-gpu=name,driver_version,memory.total',
      '--format=csv,noheader,nounits',
    ]);
    expect(detectGpus(() => 'Tesla T4, 535.183.01, 15360\n')).toEqual([
      { index: 0, product: 'Tesla T4', name: 't4', driverVersion: '535.183.01', memoryMiB: 15360 },
    ]);
  });

  it('skips what is not a GPU line, and finds none where nvidia-smi fails', () => {
    expect(parseNvidiaSmi('No devices were found\n\n')).toEqual([]);
    expect(
      detectGpus(() => {
        throw new Error('spawnSync nvidia-smi ENOENT');
      }),
    ).toEqual([]);
  });
});
