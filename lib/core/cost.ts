/**
 * What a service costs to run, from the node its pods land on (its price, and how many of the pods
 * it holds), the planned replicas and the capacity the gate measured: whole nodes per hour (the
 * bill), a pod's share of a node, and the cost per million inferences served at the planned
 * utilization. Pure arithmetic; every input is checked, since a price or a capacity of 0 would
 * divide to nonsense.
 */

/** The figures a cost is computed from. */
export interface CostInputs {
  /** The instance type the pods land on. */
  readonly instanceType: string;
  /** Price of one node, USD per hour. */
  readonly pricePerNodeHour: number;
  /** Pods of the service one node holds (from the fit of its requests). */
  readonly podsPerNode: number;
  /** Replicas planned (the capacity plan's floor, or the fixed count). */
  readonly replicas: number;
  /** Requests per second one replica serves at the latency bound, as the gate measured: absent without a measurement. */
  readonly perReplicaRps?: number;
  /** The share of that capacity the plan runs at (`slo.targetUtilization`). */
  readonly targetUtilization: number;
}

/** What the service costs, with the figures it came from. */
export interface CostPlan extends CostInputs {
  /** Nodes the replicas need: whole nodes, as they are billed. */
  readonly nodes: number;
  /** Those nodes, USD per hour. */
  readonly costPerHour: number;
  /** One pod's share of a node, USD per hour. */
  readonly costPerPodHour: number;
  /**
   * USD per million inferences: a pod's share of a node over what it serves in an hour at the
   * planned utilization of its measured capacity. Absent when the gate measured no capacity.
   */
  readonly costPerMillionInferences?: number;
}

/**
 * The cost plan for `inputs`.
 *
 * @throws RangeError naming the input when one is not a positive finite number (replicas and pods
 * per node: whole numbers of at least 1; utilization: in (0, 1])
 */
export function planCost(inputs: CostInputs): CostPlan {
  const { pricePerNodeHour, podsPerNode, replicas, perReplicaRps, targetUtilization } = inputs;
  const positive = (name: string, value: number) => {
    if (!(Number.isFinite(value) && value > 0)) {
      throw new RangeError(`${name} must be a positive number, received ${value}`);
    }
  };
  positive('pricePerNodeHour', pricePerNodeHour);
  if (perReplicaRps !== undefined) positive('perReplicaRps', perReplicaRps);
  for (const [name, value] of [
    ['podsPerNode', podsPerNode],
    ['replicas', replicas],
  ] as const) {
    if (!(Number.isInteger(value) && value >= 1)) {
      throw new RangeError(`${name} must be a whole number of at least 1, received ${value}`);
    }
  }
  if (!(targetUtilization > 0 && targetUtilization <= 1)) {
    throw new RangeError(`targetUtilization must be in (0, 1], received ${targetUtilization}`);
  }
  const nodes = Math.ceil(replicas / podsPerNode);
  const costPerPodHour = pricePerNodeHour / podsPerNode;
  return {
    ...inputs,
    nodes,
    costPerHour: nodes * pricePerNodeHour,
    costPerPodHour,
    ...(perReplicaRps !== undefined
      ? { costPerMillionInferences: (costPerPodHour / (perReplicaRps * targetUtilization * 3600)) * 1e6 }
      : {}),
  };
}
