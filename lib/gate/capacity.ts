/**
 * The capacity plan: how many replicas carry the service's target rate, from the throughput one
 * replica sustained at the latency bound. Pure.
 */
import { type SloSpec } from '../core';
import { type CapacityPlan } from './gate-report';

/**
 * Replicas for an SLO: `ceil(targetRps / (perReplicaRps × targetUtilization))`, at least 1.
 *
 * @param perReplicaRps the throughput one replica sustained at the latency bound (the gate's measurement)
 * @throws RangeError when perReplicaRps is not a positive number (capacity could not be measured) or
 *   the SLO is invalid
 */
export function planCapacity(slo: SloSpec, perReplicaRps: number): CapacityPlan {
  if (!Number.isFinite(perReplicaRps) || perReplicaRps <= 0) {
    throw new RangeError(
      `capacity could not be measured: one replica sustained ${perReplicaRps} rps within the latency bound; ` +
        'raise resources.cpu, relax latencyP99Ms or allow batching (gate.maxBatchSize) so a replica can serve requests in time',
    );
  }
  if (!Number.isFinite(slo.targetRps) || slo.targetRps <= 0) {
    throw new RangeError(`slo.targetRps must be a positive number, received ${slo.targetRps}`);
  }
  if (!Number.isFinite(slo.targetUtilization) || slo.targetUtilization <= 0 || slo.targetUtilization > 1) {
    throw new RangeError(`slo.targetUtilization must be in (0, 1], received ${slo.targetUtilization}`);
  }
  const exact = slo.targetRps / (perReplicaRps * slo.targetUtilization);
  // Forgive floating-point noise so 280 / (400 × 0.7) is 1 replica, not 2.
  const replicas = Math.max(1, Math.ceil(exact - 1e-9 * Math.max(1, exact)));
  return {
    targetRps: slo.targetRps,
    targetUtilization: slo.targetUtilization,
    perReplicaRps,
    replicas,
  };
}
