/**
 * The global SLO split over the targets of a MultiCloudDeployment: what share of the hostname's
 * traffic each target takes with every target up, and the load it must carry in the worst loss of
 * up to `slo.survive` other targets, so that each target's capacity can be planned from its own
 * measured per-replica rate. Pure arithmetic over the resolved routing.
 *
 * How traffic spreads over the targets that are up, per routing policy:
 * - `weighted`: Route53's rule. A target takes weight ÷ the sum of the weights of the targets up.
 *   A weight-0 record takes traffic only when every record with a non-zero weight is gone; when
 *   every target left has weight 0, they share equally. So a weighted plan never runs out of targets
 *   with traffic while one target is up.
 * - `latency` and `geolocation`: DNS decides by where each client is, so the planner takes each
 *   target's declared `expectedShare`, normalised over the targets up: a lost target's share spreads
 *   over the others in proportion to theirs. That is a model, not what DNS guarantees: Route53 sends a
 *   lost latency record's clients to the next-nearest healthy region, and a lost geolocation record's
 *   to the enclosing location's record (or the default one), which may put more of it on one target.
 * - `failover`: the primary takes everything while healthy, the secondary everything when it is not;
 *   both must carry the whole rate, whatever `slo.survive` is.
 */
import { show } from './errors';
import { formatNumber } from './format-number';
import {
  type MultiCloudSloSpec,
  ROUTING_POLICIES,
  type RoutingPolicy,
  type TargetLoad,
  type TargetTrafficInput,
  type TrafficPlan,
} from './multicloud-spec';

/**
 * Two shares (0 to 1) closer than this are a tie: sums of the same shares in another order may
 * differ in the last bit, and a tie must be broken by the rule (the smaller loss, then the
 * lexicographically first), not by rounding.
 */
const SHARE_TIE = 1e-12;

/**
 * The global SLO split over `targets` under `policy`: each target's share with every target up, and
 * the requests per second it must carry over every loss of up to `slo.survive` other targets (the
 * largest share it takes in any of them, times `slo.targetRps`), with the loss that gives it that load.
 *
 * A target's binding loss is sorted by name and empty when the all-up split is its largest; among
 * losses that give it the same load, the one with fewer targets wins, then the lexicographically
 * first (names compared by UTF-16 code units). Losses are enumerated as combinations, so 20 targets
 * with `survive` 3 cost 1,351 splits. The plan lists the targets in the order given.
 *
 * @throws RangeError when there are no targets or two share a name; when `slo.targetRps` is not a
 *   positive number, `slo.targetUtilization` is outside (0, 1], or `slo.survive` is not a whole number
 *   below the number of targets; when a weight (`weighted`) or an expected share (`latency`,
 *   `geolocation`) is missing, negative or not finite; when `failover` does not have exactly one
 *   primary and one secondary; and when a covered loss (or the all-up case) leaves no target with
 *   traffic
 */
export function planTraffic(
  slo: MultiCloudSloSpec,
  policy: RoutingPolicy,
  targets: readonly TargetTrafficInput[],
): TrafficPlan {
  checkSlo(slo, targets);
  if (!(ROUTING_POLICIES as readonly string[]).includes(policy)) {
    throw new RangeError(
      `routing policy must be one of ${ROUTING_POLICIES.join(', ')}, received ${show(policy)}; set routing.policy to one of them`,
    );
  }
  const plan = (loads: readonly TargetLoad[]): TrafficPlan => ({
    policy,
    targetRps: slo.targetRps,
    survive: slo.survive,
    targets: loads,
  });
  if (policy === 'failover') return plan(planFailover(slo, targets));

  const values = policy === 'weighted' ? weights(targets) : expectedShares(policy, targets);
  const split = policy === 'weighted' ? weightedSplit : proportionalSplit;
  const names = targets.map((target) => target.name);
  // Indices in name order, so combinations come out in lexicographic order of their sorted names.
  const byName = names.map((_, index) => index).sort((a, b) => compareNames(names[a], names[b]));

  const allUp = split(values, new Set());
  if (allUp === undefined) throw noTraffic(policy, names, []);
  const best = allUp.map((share) => ({ share, loss: [] as readonly number[] }));
  for (let size = 1; size <= slo.survive; size++) {
    for (const loss of combinations(byName, size)) {
      const lost = new Set(loss);
      const shares = split(values, lost);
      if (shares === undefined) throw noTraffic(policy, names, loss);
      shares.forEach((share, index) => {
        // Smaller losses and lexicographically earlier ones come first: only a larger share replaces.
        if (!lost.has(index) && share > best[index].share + SHARE_TIE) best[index] = { share, loss };
      });
    }
  }
  return plan(
    targets.map((target, index) => ({
      name: target.name,
      share: allUp[index],
      requiredRps: best[index].share * slo.targetRps,
      bindingLoss: best[index].loss.map((lostIndex) => names[lostIndex]),
    })),
  );
}

/**
 * A traffic plan as Markdown: a table of each target's all-up share, the requests per second it must
 * carry and the loss that gives it that load (with, when `measured` is given, the per-replica rate
 * the gate measured and the replicas planned for the target; `n/a` for a target it lacks), then a line
 * naming the loss that binds the plan overall: the one whose binding raises the total required
 * capacity (the sum of the targets' required rps) most above the all-up split's `targetRps`. Ties go
 * to the smaller loss, then the lexicographically first.
 *
 * @param measured per target name: the rate one replica sustained at the latency bound, and the
 *   replicas planned
 */
export function formatTrafficPlan(
  plan: TrafficPlan,
  measured?: ReadonlyMap<string, { readonly perReplicaRps: number; readonly replicas: number }>,
): string {
  const header = ['target', 'share', 'required rps', 'binding loss'];
  const align = ['---', '---:', '---:', '---'];
  if (measured) {
    header.push('per replica rps', 'replicas');
    align.push('---:', '---:');
  }
  const rows = plan.targets.map((target) => {
    const cells = [
      cell(target.name),
      `${formatNumber(target.share * 100)}%`,
      formatNumber(target.requiredRps),
      target.bindingLoss.length === 0 ? 'none (all up)' : cell(target.bindingLoss.join(', ')),
    ];
    if (measured) {
      const figures = measured.get(target.name);
      cells.push(
        figures ? formatNumber(figures.perReplicaRps) : 'n/a',
        figures ? formatNumber(figures.replicas) : 'n/a',
      );
    }
    return cells;
  });
  const lines = [header, align, ...rows].map((cells) => `| ${cells.join(' | ')} |`);
  const survive = `${plan.survive} target${plan.survive === 1 ? '' : 's'}`;
  return [
    `${plan.policy} routing of ${formatNumber(plan.targetRps)} rps over ${plan.targets.length} target${plan.targets.length === 1 ? '' : 's'}, covering the loss of up to ${survive}:`,
    '',
    ...lines,
    '',
    overallBindingLine(plan),
    '',
  ].join('\n');
}

function checkSlo(slo: MultiCloudSloSpec, targets: readonly TargetTrafficInput[]): void {
  if (targets.length === 0) {
    throw new RangeError(
      'no targets to split slo.targetRps over, received 0 targets; add at least one target',
    );
  }
  const seen = new Set<string>();
  for (const { name } of targets) {
    if (seen.has(name)) {
      throw new RangeError(`target names must be unique, received ${show(name)} twice; rename one of them`);
    }
    seen.add(name);
  }
  if (!(Number.isFinite(slo.targetRps) && slo.targetRps > 0)) {
    throw new RangeError(
      `slo.targetRps must be a positive number, received ${slo.targetRps}; set the requests per second the hostname must carry`,
    );
  }
  if (!(slo.targetUtilization > 0 && slo.targetUtilization <= 1)) {
    throw new RangeError(
      `slo.targetUtilization must be in (0, 1], received ${slo.targetUtilization}; set the share of each replica's measured capacity to plan at, e.g. 0.7`,
    );
  }
  if (!(Number.isInteger(slo.survive) && slo.survive >= 0)) {
    throw new RangeError(
      `slo.survive must be a whole number of at least 0, received ${slo.survive}; set how many targets may be lost at once`,
    );
  }
  if (slo.survive >= targets.length) {
    const of = `${targets.length} target${targets.length === 1 ? '' : 's'}`;
    throw new RangeError(
      `slo.survive ${slo.survive} is too high for ${of}: losing ${slo.survive} of ${of} leaves none to serve; lower slo.survive to at most ${targets.length - 1} or add targets`,
    );
  }
}

function planFailover(slo: MultiCloudSloSpec, targets: readonly TargetTrafficInput[]): TargetLoad[] {
  const primaries = targets.filter((target) => target.routing.failover === 'primary');
  const secondaries = targets.filter((target) => target.routing.failover === 'secondary');
  const others = targets.filter(
    (target) => target.routing.failover !== 'primary' && target.routing.failover !== 'secondary',
  );
  if (primaries.length !== 1 || secondaries.length !== 1 || others.length > 0) {
    const list = (group: readonly TargetTrafficInput[]) =>
      group.length === 0 ? 'none' : group.map((target) => show(target.name)).join(', ');
    throw new RangeError(
      `the failover policy needs exactly one primary and one secondary target, received primary: ${list(primaries)}; secondary: ${list(secondaries)}; neither: ${list(others)}; set routing.failover to primary on one target and secondary on another, and remove the rest`,
    );
  }
  // Both carry everything: the primary while healthy, the secondary when the primary is lost (a loss
  // the plan covers even with survive 0, since failing over is the policy's whole point).
  return targets.map((target) =>
    target.routing.failover === 'primary'
      ? { name: target.name, share: 1, requiredRps: slo.targetRps, bindingLoss: [] }
      : { name: target.name, share: 0, requiredRps: slo.targetRps, bindingLoss: [primaries[0].name] },
  );
}

function weights(targets: readonly TargetTrafficInput[]): number[] {
  return targets.map(({ name, routing: { weight } }) => {
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
      throw new RangeError(
        `target ${show(name)} routing.weight must be a finite number of at least 0 for the weighted policy, received ${show(weight)}; set a weight from 0 to 255`,
      );
    }
    return weight;
  });
}

function expectedShares(policy: RoutingPolicy, targets: readonly TargetTrafficInput[]): number[] {
  return targets.map(({ name, routing: { expectedShare } }) => {
    if (typeof expectedShare !== 'number' || !(expectedShare >= 0 && expectedShare <= 1)) {
      throw new RangeError(
        `target ${show(name)} routing.expectedShare must be in [0, 1] for the ${policy} policy, received ${show(expectedShare)}; declare the share of the global traffic the target is expected to take`,
      );
    }
    return expectedShare;
  });
}

/**
 * Route53's weighted split over the targets not `lost`: by weight among the non-zero weights, else
 * equally among the zero weights left. Undefined when no target is left (never, for a valid survive).
 */
function weightedSplit(values: readonly number[], lost: ReadonlySet<number>): number[] | undefined {
  const up = values.map((_, index) => !lost.has(index));
  const total = values.reduce((sum, weight, index) => (up[index] ? sum + weight : sum), 0);
  const count = up.filter(Boolean).length;
  if (count === 0) return undefined;
  return values.map((weight, index) => (!up[index] ? 0 : total > 0 ? weight / total : 1 / count));
}

/** Declared shares normalised over the targets not `lost`; undefined when those shares are all 0. */
function proportionalSplit(values: readonly number[], lost: ReadonlySet<number>): number[] | undefined {
  const total = values.reduce((sum, share, index) => (lost.has(index) ? sum : sum + share), 0);
  if (!(total > 0)) return undefined;
  return values.map((share, index) => (lost.has(index) ? 0 : share / total));
}

function noTraffic(policy: RoutingPolicy, names: readonly string[], loss: readonly number[]): RangeError {
  const lost = new Set(loss);
  const left = names
    .filter((_, index) => !lost.has(index))
    .map((name) => show(name))
    .join(', ');
  const what = policy === 'weighted' ? 'routing.weight' : 'routing.expectedShare';
  if (loss.length === 0) {
    return new RangeError(
      `no target takes traffic with every target up: the ${what} of ${left} are all 0 under the ${policy} policy; declare a ${what} above 0 for the targets clients reach`,
    );
  }
  const losing = loss.map((index) => show(names[index])).join(', ');
  return new RangeError(
    `losing ${losing} leaves no target with traffic: the ${what} of ${left} are all 0 under the ${policy} policy; declare a ${what} above 0 for a target that takes over, or lower slo.survive to ${loss.length - 1}`,
  );
}

/** The combinations of `size` items of `items`, in the order of `items`. */
function* combinations(items: readonly number[], size: number): Generator<number[]> {
  const picked: number[] = [];
  function* from(start: number): Generator<number[]> {
    if (picked.length === size) {
      yield [...picked];
      return;
    }
    for (let at = start; at <= items.length - (size - picked.length); at++) {
      picked.push(items[at]);
      yield* from(at + 1);
      picked.pop();
    }
  }
  yield* from(0);
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The lexicographic order of two sorted losses of the same size. */
function compareLosses(a: readonly string[], b: readonly string[]): number {
  for (let index = 0; index < Math.min(a.length, b.length); index++) {
    const order = compareNames(a[index], b[index]);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

/** The line naming the loss whose binding raises the plan's total required capacity most. */
function overallBindingLine(plan: TrafficPlan): string {
  const total = plan.targets.reduce((sum, target) => sum + target.requiredRps, 0);
  const raises = new Map<string, { loss: readonly string[]; rps: number }>();
  for (const target of plan.targets) {
    if (target.bindingLoss.length === 0) continue;
    const key = JSON.stringify(target.bindingLoss);
    const entry = raises.get(key) ?? { loss: target.bindingLoss, rps: 0 };
    entry.rps += target.requiredRps - target.share * plan.targetRps;
    raises.set(key, entry);
  }
  const tie = SHARE_TIE * plan.targetRps;
  const [binding] = [...raises.values()].sort(
    (a, b) =>
      (Math.abs(a.rps - b.rps) > tie ? b.rps - a.rps : 0) ||
      a.loss.length - b.loss.length ||
      compareLosses(a.loss, b.loss),
  );
  const inAll = `the plan needs ${formatNumber(total)} rps in all for ${formatNumber(plan.targetRps)} rps of traffic`;
  if (binding === undefined)
    return `no loss binds the plan: every target carries its all-up share; ${inAll}.`;
  return `binding loss: losing ${binding.loss.join(', ')} raises the required capacity most, by ${formatNumber(binding.rps)} rps; ${inAll}.`;
}

/** A Markdown table cell: pipes escaped. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}
