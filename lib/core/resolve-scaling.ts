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
  const scaleDownStabilizationSeconds = check.integer(
    'autoscaling.scaleDownStabilizationSeconds',
    a.scaleDownStabilizationSeconds ?? d.scaleDownStabilizationSeconds,
    0,
    3600,
    'kubernetes allows 0 to 3600',
  );
  const kind = a.kind ?? 'hpa';
  if (kind !== 'hpa' && kind !== 'keda') {
    check.fail(
      'autoscaling.kind',
      `autoscaling.kind ${show(kind)} is not a scaler; use 'hpa' (CPU and memory) or 'keda' (the request rate)`,
    );
  }
  if (kind === 'keda') {
    return {
      ...resolveKeda(check, props, a, { minReplicas, maxReplicas, scaleDownStabilizationSeconds }),
      kind: 'horizontal',
      minReplicasExplicit: a.minReplicas !== undefined,
    };
  }
  for (const prop of KEDA_ONLY) {
    if (a[prop] !== undefined) {
      check.fail(
        `autoscaling.${prop}`,
        `autoscaling.${prop} ${show(a[prop])} is a KEDA setting; set autoscaling.kind: 'keda', or remove it`,
      );
    }
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
    scaleDownStabilizationSeconds,
  };
}

/** The autoscaling props only KEDA reads. */
const KEDA_ONLY = [
  'prometheusAddress',
  'targetRpsPerReplica',
  'scaleToZero',
  'activationRps',
  'pollingIntervalSeconds',
  'cooldownSeconds',
] as const satisfies readonly (keyof AutoscalingProps)[];

/**
 * KEDA's settings: the Prometheus to query, the rate a replica takes (set, or the gate's measured
 * capacity × target utilization, so a gate or the rate is required), scale to zero. CPU and memory
 * targets are the HPA's: refused here, since KEDA owns the HPA.
 */
function resolveKeda(
  check: PropsChecker,
  props: InferenceServiceProps,
  a: AutoscalingProps,
  range: Pick<HorizontalScaling, 'minReplicas' | 'maxReplicas' | 'scaleDownStabilizationSeconds'>,
): Omit<HorizontalScaling, 'kind' | 'minReplicasExplicit'> {
  const d = INFERENCE_SERVICE_DEFAULTS;
  for (const prop of ['cpuUtilization', 'memoryUtilization'] as const) {
    if (a[prop] !== undefined) {
      check.fail(
        `autoscaling.${prop}`,
        `autoscaling.${prop} ${show(a[prop])} is an HPA target, but KEDA scales on the request rate and owns the HPA; remove it, or use autoscaling.kind 'hpa'`,
      );
    }
  }
  const address = a.prometheusAddress;
  if (typeof address !== 'string' || !/^https?:\/\/[^/\s]+/.test(address)) {
    check.fail(
      'autoscaling.prometheusAddress',
      `autoscaling.prometheusAddress ${show(address)} must be the URL of the Prometheus KEDA queries, e.g. 'http://prometheus-operated.monitoring.svc:9090'`,
    );
  }
  const targetRpsPerReplica =
    a.targetRpsPerReplica === undefined
      ? undefined
      : check.positive(
          'autoscaling.targetRpsPerReplica',
          a.targetRpsPerReplica,
          'requests per second one replica takes',
        );
  if (targetRpsPerReplica === undefined && props.gate === undefined) {
    check.fail(
      'autoscaling.targetRpsPerReplica',
      "autoscaling.kind 'keda' scales on the requests one replica takes, which the gate measures, but there is no gate; add gate (its capacity × slo.targetUtilization sets the threshold), or set autoscaling.targetRpsPerReplica",
    );
  }
  if (a.scaleToZero !== undefined && typeof a.scaleToZero !== 'boolean') {
    check.fail(
      'autoscaling.scaleToZero',
      `autoscaling.scaleToZero must be true or false, got ${show(a.scaleToZero)}`,
    );
  }
  const scaleToZero = a.scaleToZero ?? false;
  for (const prop of ['activationRps', 'cooldownSeconds'] as const) {
    if (!scaleToZero && a[prop] !== undefined) {
      check.fail(
        `autoscaling.${prop}`,
        `autoscaling.${prop} ${show(a[prop])} applies to scaling to zero; set autoscaling.scaleToZero: true, or remove it`,
      );
    }
  }
  return {
    ...range,
    keda: {
      prometheusAddress: address,
      ...(targetRpsPerReplica !== undefined ? { targetRpsPerReplica } : {}),
      scaleToZero,
      activationRps: check.between(
        'autoscaling.activationRps',
        a.activationRps ?? d.kedaActivationRps,
        0,
        1e9,
        'requests per second that wake the service',
      ),
      pollingIntervalSeconds: check.integer(
        'autoscaling.pollingIntervalSeconds',
        a.pollingIntervalSeconds ?? d.kedaPollingIntervalSeconds,
        1,
        3600,
        'seconds, e.g. 15',
      ),
      cooldownSeconds: check.integer(
        'autoscaling.cooldownSeconds',
        a.cooldownSeconds ?? d.kedaCooldownSeconds,
        0,
        86_400,
        'seconds, e.g. 300',
      ),
    },
  };
}
