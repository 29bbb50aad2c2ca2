/**
 * The gate's view of this machine's GPUs (WIP): nvidia-smi's CSV, the pools' GPU names, and what a
 * GPU service's gate does with or without its GPU. No GPU is needed: nvidia-smi's output is given.
 */
import { describe, expect, it } from 'vitest';
import { detectGpus, gpuNameOf, parseNvidiaSmi, planGpuGate } from '../lib/gate/gpu-presence';

describe('parseNvidiaSmi', () => {
  it('reads one GPU a line: product, driver, memory in MiB; and names it as the pools do', () => {
    const csv = 'NVIDIA A10G, 550.127.05, 23028\nNVIDIA A10G, 550.127.05, 23028\n';
    expect(parseNvidiaSmi(csv)).toEqual([
      { product: 'NVIDIA A10G', name: 'a10g', driverVersion: '550.127.05', memoryMiB: 23028 },
      { product: 'NVIDIA A10G', name: 'a10g', driverVersion: '550.127.05', memoryMiB: 23028 },
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
      { product: 'NVIDIA H200', driverVersion: '560.35.03', memoryMiB: 143771 },
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

describe('planGpuGate', () => {
  const a10g = parseNvidiaSmi('NVIDIA A10G, 550.127.05, 23028');
  const bench = 'modelfab bench --gpu a10g examples/gpu/gate.json';

  it('measures on this machine when it has the pool GPU', () => {
    expect(planGpuGate('a10g', a10g, false, bench)).toEqual({ action: 'measure', gpu: a10g[0] });
  });

  it('takes a report measured on that GPU when this machine lacks it', () => {
    expect(planGpuGate('a10g', [], true, bench)).toEqual({ action: 'use-cached' });
  });

  it('refuses otherwise, naming the GPU, what is here, the command and the skip', () => {
    const none = planGpuGate('a10g', [], false, bench);
    expect(none).toEqual({
      action: 'refuse',
      message:
        "the service is placed on a10g GPUs and its gate must measure on one (CPU figures never pass a GPU service's thresholds), but there is no NVIDIA GPU here and no report measured on a10g in the gate cache; run `modelfab bench --gpu a10g examples/gpu/gate.json` on a machine with a10g GPUs and share its cache, or set MODELFAB_GATE=skip to skip the gate",
    });
    const other = planGpuGate('h100', parseNvidiaSmi('NVIDIA H200, 560.35.03, 143771'), false, bench);
    expect(other).toMatchObject({ action: 'refuse' });
    expect((other as { message: string }).message).toContain('but there is only NVIDIA H200 here');
  });
});
