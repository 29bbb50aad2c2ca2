/**
 * Cost figures against a hand computation from a node price and a measured capacity.
 */
import { describe, expect, it } from 'vitest';
import { planCost } from '../lib/core/cost';

describe('planCost', () => {
  it('bills whole nodes, and a million inferences at the planned utilization of the measured capacity', () => {
    // One pod a node at 1.006 USD an hour; 3 replicas; 400 rps each at the bound, run at 70%:
    // 3 nodes = 3.018 USD/h; a pod serves 400 × 0.7 × 3,600 = 1,008,000 inferences an hour,
    // so a million cost 1.006 / 1.008 = 0.998016 USD.
    const plan = planCost({
      instanceType: 'g5.xlarge',
      pricePerNodeHour: 1.006,
      podsPerNode: 1,
      replicas: 3,
      perReplicaRps: 400,
      targetUtilization: 0.7,
    });
    expect(plan.nodes).toBe(3);
    expect(plan.costPerHour).toBeCloseTo(3.018, 12);
    expect(plan.costPerPodHour).toBeCloseTo(1.006, 12);
    expect(plan.costPerMillionInferences).toBeCloseTo(0.998016, 6);
  });

  it('shares a node between its pods, and rounds the nodes up', () => {
    // 4 pods a node at 5.672 USD/h: 1.418 USD a pod-hour; 5 replicas need 2 nodes, 11.344 USD/h.
    // 2,000 rps × 0.5 × 3,600 = 3.6 M an hour: 1.418 / 3.6 = 0.393889 USD a million.
    const plan = planCost({
      instanceType: 'g5.12xlarge',
      pricePerNodeHour: 5.672,
      podsPerNode: 4,
      replicas: 5,
      perReplicaRps: 2000,
      targetUtilization: 0.5,
    });
    expect(plan).toMatchObject({ nodes: 2 });
    expect(plan.costPerHour).toBeCloseTo(11.344, 12);
    expect(plan.costPerPodHour).toBeCloseTo(1.418, 12);
    expect(plan.costPerMillionInferences).toBeCloseTo(0.393889, 6);
  });

  it('gives the bill without a per-million figure when no capacity was measured', () => {
    const plan = planCost({
      instanceType: 'c6i.xlarge',
      pricePerNodeHour: 0.17,
      podsPerNode: 3,
      replicas: 2,
      targetUtilization: 0.7,
    });
    expect(plan).toMatchObject({ nodes: 1, costPerHour: 0.17 });
    expect(plan.costPerMillionInferences).toBeUndefined();
  });

  it.each([
    [{ pricePerNodeHour: 0 }, 'pricePerNodeHour must be a positive number, received 0'],
    [{ perReplicaRps: Number.NaN }, 'perReplicaRps must be a positive number, received NaN'],
    [{ podsPerNode: 0 }, 'podsPerNode must be a whole number of at least 1, received 0'],
    [{ replicas: 1.5 }, 'replicas must be a whole number of at least 1, received 1.5'],
    [{ targetUtilization: 1.2 }, 'targetUtilization must be in (0, 1], received 1.2'],
  ])('refuses %o', (bad, message) => {
    const good = {
      instanceType: 'c6i.xlarge',
      pricePerNodeHour: 1,
      podsPerNode: 1,
      replicas: 1,
      perReplicaRps: 1,
      targetUtilization: 0.7,
    };
    expect(() => planCost({ ...good, ...bad })).toThrow(new RangeError(message));
  });
});
