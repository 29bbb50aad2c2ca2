/**
 * The gate's view of this machine's GPUs: nvidia-smi's CSV, the pools' GPU names, and what a
 * GPU service's gate does with or without its GPU. No GPU is needed: nvidia-smi's output is given.
 */
import { describe, expect, it } from 'vitest';
import { detectGpus, gpuNameOf, parseNvidiaSmi, gpuGateRefusal } from '../lib/gate/gpu-presence';

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

describe('gpuGateRefusal', () => {
  it('names the GPU, what this machine has, and the ways on', () => {
    expect(gpuGateRefusal('a10g', [])).toBe(
      "gate cannot measure a service placed on a10g GPUs: CPU figures never pass a GPU service's thresholds, and this machine has no NVIDIA GPU; remove gate from this service, or set MODELFAB_GATE=skip to skip the gate (the Deployment is annotated as skipped)",
    );
    expect(gpuGateRefusal('h100', parseNvidiaSmi('NVIDIA H200, 560.35.03, 143771'))).toContain(
      'and this machine has only NVIDIA H200;',
    );
  });

  it('refuses on a machine with the pool GPU too, saying the gate measures on the CPU only', () => {
    expect(gpuGateRefusal('a10g', parseNvidiaSmi('NVIDIA A10G, 550.127.05, 23028'))).toContain(
      "this machine has NVIDIA A10G (driver 550.127.05), but modelfab's gate measures with onnxruntime's CPU provider only",
    );
  });
});
