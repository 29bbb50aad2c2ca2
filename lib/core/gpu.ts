/**
 * What every GPU pool and GPU service agree on: the GPU names (as Karpenter's
 * `karpenter.k8s.aws/instance-gpu-name` label spells them), the pool's node label, the device
 * plugin's extended resource and image, and the taint that keeps other pods off GPU nodes.
 */

/** GPU names as Karpenter's `karpenter.k8s.aws/instance-gpu-name` label spells them. */
export const GPU_NAMES = ['t4', 'a10g', 'l4', 'l40s', 'a100', 'h100'] as const;

/** A GPU name a pool knows: t4, a10g, l4, l40s, a100 or h100. */
export type GpuName = (typeof GPU_NAMES)[number];

/** The label every node of a pool carries (`<pool name>`): the device plugin and placed pods select it. */
export const POOL_LABEL = 'modelfab.dev/pool';

/** The device plugin's extended resource: GPUs a pod asks for. */
export const GPU_RESOURCE = 'nvidia.com/gpu';

/** The taint every GPU node carries, so that only pods that tolerate it (GPU pods) land there. */
export const GPU_TAINT = { key: 'nvidia.com/gpu', value: 'true', effect: 'NoSchedule' } as const;

/**
 * NVIDIA's device plugin release a pool runs unless told otherwise: the last of the 0.17 line, whose
 * static manifest this follows (v0.20.0 was the newest release when this was written).
 */
export const DEVICE_PLUGIN_IMAGE = 'nvcr.io/nvidia/k8s-device-plugin:v0.17.4';
