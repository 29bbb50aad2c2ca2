/**
 * InferenceService resources and scaling: quantities parsed, requests and limits, fixed replicas or the HPA's range.
 */

import { show } from './errors';
import {
  type AutoscalingProps,
  type InferenceServiceProps,
  type ResourcesProps,
  INFERENCE_SERVICE_DEFAULTS,
} from './inference-service-props';
import { type HorizontalScaling, type FixedScaling, type ResourceAmounts } from './inference-service-spec';
import { formatCpu, formatMemory, parseCpuMillis, parseMemoryBytes, QuantityError } from './quantity';
import { type PropsChecker } from './props-checker';

export function resolveQuantity(
  check: PropsChecker,
  prop: string,
  value: unknown,
  parse: (s: string) => number,
  example: string,
): number {
  if (typeof value !== 'string') {
    check.fail(prop, `${prop} must be a kubernetes quantity string, got ${show(value)}; e.g. ${example}`);
  }
  try {
    return parse(value);
  } catch (error) {
    if (error instanceof QuantityError) {
      check.fail(
        prop,
        `${prop} ${show(value)} is not valid: ${error.message}; use a quantity such as ${example}`,
      );
    }
    throw error;
  }
}

export function resolveResources(
  check: PropsChecker,
  props: ResourcesProps,
): { requests: ResourceAmounts; limits: ResourceAmounts } {
  check.record('resources', props);
  const d = INFERENCE_SERVICE_DEFAULTS;
  const requests = {
    cpuMillis: resolveQuantity(check, 'resources.cpu', props.cpu ?? d.cpu, parseCpuMillis, "'500m' or '2'"),
    memoryBytes: resolveQuantity(
      check,
      'resources.memory',
      props.memory ?? d.memory,
      parseMemoryBytes,
      "'512Mi' or '2Gi'",
    ),
  };
  const limits = {
    cpuMillis:
      props.limits?.cpu === undefined
        ? requests.cpuMillis
        : resolveQuantity(check, 'resources.limits.cpu', props.limits.cpu, parseCpuMillis, "'500m' or '2'"),
    memoryBytes:
      props.limits?.memory === undefined
        ? requests.memoryBytes
        : resolveQuantity(
            check,
            'resources.limits.memory',
            props.limits.memory,
            parseMemoryBytes,
            "'512Mi' or '2Gi'",
          ),
  };
  if (limits.cpuMillis < requests.cpuMillis) {
    check.fail(
      'resources.limits.cpu',
      `resources.limits.cpu ${formatCpu(limits.cpuMillis)} is below the request ${formatCpu(requests.cpuMillis)}; raise the limit or lower resources.cpu`,
    );
  }
  if (limits.memoryBytes < requests.memoryBytes) {
    check.fail(
      'resources.limits.memory',
      `resources.limits.memory ${formatMemory(limits.memoryBytes)} is below the request ${formatMemory(requests.memoryBytes)}; raise the limit or lower resources.memory`,
    );
  }
  return { requests, limits };
}

export function resolveScaling(
  check: PropsChecker,
  props: InferenceServiceProps,
  resources: { requests: ResourceAmounts; limits: ResourceAmounts },
): FixedScaling | HorizontalScaling {
  if (props.replicas !== undefined && props.autoscaling !== undefined) {
    check.fail(
      'replicas',
      `replicas ${show(props.replicas)} and autoscaling are both set; the autoscaler owns the replica count, so set one of them`,
    );
  }
  if (props.replicas !== undefined) {
    return {
      kind: 'fixed',
      replicas: check.integer(
        'replicas',
        props.replicas,
        1,
        10_000,
        'use at least 1 (2 or more to survive a node drain)',
      ),
    };
  }
  const d = INFERENCE_SERVICE_DEFAULTS;
  const a: AutoscalingProps = props.autoscaling ?? {};
  check.record('autoscaling', a);
  const minReplicas = check.integer(
    'autoscaling.minReplicas',
    a.minReplicas ?? d.minReplicas,
    1,
    10_000,
    'use at least 1',
  );
  const maxReplicas = check.integer(
    'autoscaling.maxReplicas',
    a.maxReplicas ?? Math.max(d.maxReplicas, minReplicas),
    1,
    10_000,
    'use at least 1',
  );
  if (minReplicas > maxReplicas) {
    check.fail(
      'autoscaling.minReplicas',
      `autoscaling.minReplicas ${minReplicas} is greater than autoscaling.maxReplicas ${maxReplicas}; raise maxReplicas or lower minReplicas`,
    );
  }
  const cpuTarget = a.cpuUtilization ?? (a.memoryUtilization === undefined ? d.cpuUtilization : undefined);
  // A target above limit/request can never be reached: the container is throttled first.
  const cpuCeiling = Math.floor((100 * resources.limits.cpuMillis) / resources.requests.cpuMillis);
  const memoryCeiling = Math.floor((100 * resources.limits.memoryBytes) / resources.requests.memoryBytes);
  const cpuUtilization =
    cpuTarget === undefined
      ? undefined
      : check.integer(
          'autoscaling.cpuUtilization',
          cpuTarget,
          1,
          cpuCeiling,
          `a percentage of the cpu request the pods can reach (limit/request = ${cpuCeiling}%)`,
        );
  const memoryUtilization =
    a.memoryUtilization === undefined
      ? undefined
      : check.integer(
          'autoscaling.memoryUtilization',
          a.memoryUtilization,
          1,
          memoryCeiling,
          `a percentage of the memory request the pods can reach (limit/request = ${memoryCeiling}%)`,
        );
  return {
    kind: 'horizontal',
    minReplicas,
    minReplicasExplicit: a.minReplicas !== undefined,
    maxReplicas,
    ...(cpuUtilization !== undefined ? { cpuUtilization } : {}),
    ...(memoryUtilization !== undefined ? { memoryUtilization } : {}),
    scaleDownStabilizationSeconds: check.integer(
      'autoscaling.scaleDownStabilizationSeconds',
      a.scaleDownStabilizationSeconds ?? d.scaleDownStabilizationSeconds,
      0,
      3600,
      'kubernetes allows 0 to 3600',
    ),
  };
}
