/**
 * The global SLO split over a MultiCloudDeployment's targets, against a hand computation on every
 * row: each target's all-up share, the load it carries in the worst loss of up to `survive` other
 * targets, and which loss that is; then every refusal, on its message, and the Markdown report.
 */
import { describe, expect, it } from 'vitest';
import {
  type MultiCloudSloSpec,
  type RoutingPolicy,
  type TargetRoutingSpec,
  type TargetTrafficInput,
  formatTrafficPlan,
  planTraffic,
} from '../lib/core';

type Routing = Omit<TargetRoutingSpec, 'setIdentifier'>;

function slo(survive: number, targetRps = 1000, targetUtilization = 0.7): MultiCloudSloSpec {
  return { targetRps, targetUtilization, survive };
}

function targets(...entries: [name: string, routing: Routing][]): TargetTrafficInput[] {
  return entries.map(([name, routing]) => ({ name, routing: { setIdentifier: name, ...routing } }));
}

const weighted = (...entries: [string, number][]) =>
  targets(...entries.map(([name, weight]): [string, Routing] => [name, { weight }]));
const shared = (...entries: [string, number][]) =>
  targets(...entries.map(([name, expectedShare]): [string, Routing] => [name, { expectedShare }]));

interface Row {
  readonly title: string;
  readonly policy: RoutingPolicy;
  readonly survive: number;
  readonly targets: TargetTrafficInput[];
  /** name, all-up share, required rps (targetRps 1,000), binding loss. */
  readonly expected: [name: string, share: number, requiredRps: number, bindingLoss: string[]][];
}

const rows: Row[] = [
  {
    // Σ = 50 + 30 + 20 = 100: shares 0.5, 0.3, 0.2 → 500, 300, 200 rps; no loss covered.
    title: 'weighted 50/30/20, survive 0',
    policy: 'weighted',
    survive: 0,
    targets: weighted(['us-east', 50], ['eu-west', 30], ['ap-south', 20]),
    expected: [
      ['us-east', 0.5, 500, []],
      ['eu-west', 0.3, 300, []],
      ['ap-south', 0.2, 200, []],
    ],
  },
  {
    // us-east: lose eu-west → 50 / (50 + 20) = 0.714286 → 714.29; lose ap-south → 50 / 80 = 625.
    // eu-west: lose us-east → 30 / (30 + 20) = 0.6 → 600; lose ap-south → 30 / 80 = 375.
    // ap-south: lose us-east → 20 / (30 + 20) = 0.4 → 400; lose eu-west → 20 / 70 = 285.71.
    title: 'weighted 50/30/20, survive 1',
    policy: 'weighted',
    survive: 1,
    targets: weighted(['us-east', 50], ['eu-west', 30], ['ap-south', 20]),
    expected: [
      ['us-east', 0.5, 1000 * (50 / 70), ['eu-west']],
      ['eu-west', 0.3, 600, ['us-east']],
      ['ap-south', 0.2, 400, ['us-east']],
    ],
  },
  {
    // Standby weight 0: all up 60 / 100, 40 / 100, 0. Lose a → b takes 40 / 40 = 1 and the standby
    // still 0 (a non-zero weight is left); lose b → a takes 1; lose standby → 0.6 / 0.4 as all up.
    // The standby's 0 is the all-up case's, so its binding loss is empty (the smaller loss wins ties).
    title: 'weighted 60/40 with a zero-weight standby, survive 1',
    policy: 'weighted',
    survive: 1,
    targets: weighted(['a', 60], ['b', 40], ['standby', 0]),
    expected: [
      ['a', 0.6, 1000, ['b']],
      ['b', 0.4, 1000, ['a']],
      ['standby', 0, 0, []],
    ],
  },
  {
    // As above, and now lose {a, b}: only the weight-0 standby is left, so it takes everything: 1,000.
    // a: lose b → 1 and lose {b, standby} → 1, a tie: the smaller loss, [b]. b likewise: [a].
    title: 'weighted 60/40 with a zero-weight standby, survive 2',
    policy: 'weighted',
    survive: 2,
    targets: weighted(['a', 60], ['b', 40], ['standby', 0]),
    expected: [
      ['a', 0.6, 1000, ['b']],
      ['b', 0.4, 1000, ['a']],
      ['standby', 0, 1000, ['a', 'b']],
    ],
  },
  {
    // Every weight 0: Route53 shares equally, 1/3 each → 333.33. Lose any one: the two left share
    // 1/2 → 500. zulu's two losses tie: lexicographic, so [xray] (names, not input order); yankee's
    // and xray's first loss in name order is likewise the other name that sorts first.
    title: 'weighted with every weight 0, survive 1',
    policy: 'weighted',
    survive: 1,
    targets: weighted(['zulu', 0], ['yankee', 0], ['xray', 0]),
    expected: [
      ['zulu', 1 / 3, 500, ['xray']],
      ['yankee', 1 / 3, 500, ['xray']],
      ['xray', 1 / 3, 500, ['yankee']],
    ],
  },
  {
    // Σ = 100: shares 0.4, 0.3, 0.2, 0.1. Each target's worst is losing the two largest others:
    // us-east: lose {eu-west, ap-south} → 40 / (40 + 10) = 0.8 → 800.
    // eu-west: lose {us-east, ap-south} → 30 / (30 + 10) = 0.75 → 750.
    // ap-south: lose {us-east, eu-west} → 20 / (20 + 10) = 0.6667 → 666.67.
    // sa-east: lose {us-east, eu-west} → 10 / (20 + 10) = 0.3333 → 333.33.
    title: 'weighted 40/30/20/10, survive 2 of 4',
    policy: 'weighted',
    survive: 2,
    targets: weighted(['us-east', 40], ['eu-west', 30], ['ap-south', 20], ['sa-east', 10]),
    expected: [
      ['us-east', 0.4, 800, ['ap-south', 'eu-west']],
      ['eu-west', 0.3, 750, ['ap-south', 'us-east']],
      ['ap-south', 0.2, 2000 / 3, ['eu-west', 'us-east']],
      ['sa-east', 0.1, 1000 / 3, ['eu-west', 'us-east']],
    ],
  },
  {
    // Weights 1..20 (Σ 210), survive 3 (1,351 splits): t1 is worst off losing t18, t19, t20:
    // 1 / (210 − 57) = 1 / 153 → 6.5359; t20 losing t17, t18, t19: 20 / (210 − 54) = 20 / 156 → 128.21.
    title: 'weighted 1..20, survive 3 of 20 (first and last target)',
    policy: 'weighted',
    survive: 3,
    targets: weighted(...Array.from({ length: 20 }, (_, i): [string, number] => [`t${i + 1}`, i + 1])),
    expected: [
      ['t1', 1 / 210, 1000 / 153, ['t18', 't19', 't20']],
      ['t20', 20 / 210, 20000 / 156, ['t17', 't18', 't19']],
    ],
  },
  {
    // Declared 0.5, 0.3, 0.2 (Σ 1), a lost target's share spread in proportion:
    // us-east: lose eu-west → 0.5 / 0.7 = 0.714286 → 714.29 (lose ap-south: 0.5 / 0.8 → 625).
    // eu-west: lose us-east → 0.3 / 0.5 = 0.6 → 600. ap-south: lose us-east → 0.2 / 0.5 = 0.4 → 400.
    title: 'latency 0.5/0.3/0.2, survive 1',
    policy: 'latency',
    survive: 1,
    targets: shared(['us-east', 0.5], ['eu-west', 0.3], ['ap-south', 0.2]),
    expected: [
      ['us-east', 0.5, 1000 * (0.5 / 0.7), ['eu-west']],
      ['eu-west', 0.3, 600, ['us-east']],
      ['ap-south', 0.2, 400, ['us-east']],
    ],
  },
  {
    // The same model as latency: na 0.5 / 0.7 → 714.29 losing eu; eu 0.3 / 0.5 → 600 and
    // as 0.2 / 0.5 → 400 losing na.
    title: 'geolocation 0.5/0.3/0.2, survive 1',
    policy: 'geolocation',
    survive: 1,
    targets: shared(['na', 0.5], ['eu', 0.3], ['as', 0.2]),
    expected: [
      ['na', 0.5, 1000 * (0.5 / 0.7), ['eu']],
      ['eu', 0.3, 600, ['na']],
      ['as', 0.2, 400, ['na']],
    ],
  },
  {
    // Declared shares that do not sum to 1 are normalised: 0.3 / (0.3 + 0.3) = 0.5 each → 500.
    title: 'geolocation 0.3/0.3 normalised, survive 0',
    policy: 'geolocation',
    survive: 0,
    targets: shared(['eu', 0.3], ['na', 0.3]),
    expected: [
      ['eu', 0.5, 500, []],
      ['na', 0.5, 500, []],
    ],
  },
  {
    // A declared 0 stays 0 when others are lost (unlike a weight-0 standby): a: lose b → 0.6 / 0.6 = 1;
    // b: lose a → 0.4 / 0.4 = 1; c: 0 in every case, all up first.
    title: 'latency 0.6/0.4/0, survive 1',
    policy: 'latency',
    survive: 1,
    targets: shared(['a', 0.6], ['b', 0.4], ['c', 0]),
    expected: [
      ['a', 0.6, 1000, ['b']],
      ['b', 0.4, 1000, ['a']],
      ['c', 0, 0, []],
    ],
  },
  {
    // Same numbers as the weighted 40/30/20/10 row: each loses its two largest others.
    // a 0.4 / 0.5 → 800; b 0.3 / 0.4 → 750; c 0.2 / 0.3 → 666.67; d 0.1 / 0.3 → 333.33.
    title: 'latency 0.4/0.3/0.2/0.1, survive 2 of 4',
    policy: 'latency',
    survive: 2,
    targets: shared(['a', 0.4], ['b', 0.3], ['c', 0.2], ['d', 0.1]),
    expected: [
      ['a', 0.4, 800, ['b', 'c']],
      ['b', 0.3, 750, ['a', 'c']],
      ['c', 0.2, 2000 / 3, ['a', 'b']],
      ['d', 0.1, 1000 / 3, ['a', 'b']],
    ],
  },
  {
    // b and d both declare 0.35, so losing either leaves 0.65 — but summed in another order, losing d
    // comes out 3e-17 larger in floating point. A tie still goes to the lexicographically first loss:
    // a: 0.1 / 0.65 → 153.85 [b]; c: 0.2 / 0.65 → 307.69 [b]; b: 0.35 / 0.65 → 538.46 [d]; d: [b].
    title: 'geolocation 0.1/0.35/0.2/0.35, survive 1: ties in floating point',
    policy: 'geolocation',
    survive: 1,
    targets: shared(['a', 0.1], ['b', 0.35], ['c', 0.2], ['d', 0.35]),
    expected: [
      ['a', 0.1, 100 / 0.65, ['b']],
      ['b', 0.35, 350 / 0.65, ['d']],
      ['c', 0.2, 200 / 0.65, ['b']],
      ['d', 0.35, 350 / 0.65, ['b']],
    ],
  },
  {
    // The primary carries everything while healthy; the secondary everything when the primary is lost.
    title: 'failover, survive 0',
    policy: 'failover',
    survive: 0,
    targets: targets(['main', { failover: 'primary' }], ['backup', { failover: 'secondary' }]),
    expected: [
      ['main', 1, 1000, []],
      ['backup', 0, 1000, ['main']],
    ],
  },
  {
    // survive 1 changes nothing: both already carry the whole 1,000 rps.
    title: 'failover, survive 1 (secondary listed first)',
    policy: 'failover',
    survive: 1,
    targets: targets(['backup', { failover: 'secondary' }], ['main', { failover: 'primary' }]),
    expected: [
      ['backup', 0, 1000, ['main']],
      ['main', 1, 1000, []],
    ],
  },
  {
    // One target: it takes everything, 1,000 rps.
    title: 'one weighted target, survive 0',
    policy: 'weighted',
    survive: 0,
    targets: weighted(['only', 1]),
    expected: [['only', 1, 1000, []]],
  },
];

describe('planTraffic', () => {
  it.each(rows)('$title', ({ policy, survive, targets: input, expected }) => {
    const plan = planTraffic(slo(survive), policy, input);
    expect(plan).toMatchObject({ policy, targetRps: 1000, survive });
    if (expected.length === input.length) {
      expect(plan.targets.map((target) => target.name)).toEqual(input.map((target) => target.name));
    }
    for (const [name, share, requiredRps, bindingLoss] of expected) {
      const load = plan.targets.find((target) => target.name === name);
      expect(load, name).toBeDefined();
      expect(load?.share, `${name} share`).toBeCloseTo(share, 12);
      expect(load?.requiredRps, `${name} requiredRps`).toBeCloseTo(requiredRps, 9);
      expect(load?.bindingLoss, `${name} bindingLoss`).toEqual(bindingLoss);
    }
  });

  it('scales the required rps with targetRps', () => {
    // 2,500 rps, weighted 50/30/20 and survive 1: 2,500 × 5/7 = 1,785.71; 2,500 × 0.6 = 1,500; 2,500 × 0.4 = 1,000.
    const plan = planTraffic(slo(1, 2500), 'weighted', weighted(['a', 50], ['b', 30], ['c', 20]));
    expect(plan.targets.map((target) => target.requiredRps)).toEqual([
      expect.closeTo(2500 * (5 / 7), 9),
      expect.closeTo(1500, 9),
      expect.closeTo(1000, 9),
    ]);
  });
});

describe('planTraffic refusals', () => {
  const three = weighted(['a', 50], ['b', 30], ['c', 20]);
  const cases: [title: string, run: () => unknown, message: string][] = [
    [
      'no targets',
      () => planTraffic(slo(0), 'weighted', []),
      'no targets to split slo.targetRps over, received 0 targets; add at least one target',
    ],
    [
      'a name twice',
      () => planTraffic(slo(0), 'weighted', weighted(['a', 1], ['a', 2])),
      'target names must be unique, received "a" twice; rename one of them',
    ],
    [
      'targetRps 0',
      () => planTraffic(slo(0, 0), 'weighted', three),
      'slo.targetRps must be a positive number, received 0; set the requests per second the hostname must carry',
    ],
    [
      'targetRps negative',
      () => planTraffic(slo(0, -5), 'weighted', three),
      'slo.targetRps must be a positive number, received -5; set the requests per second the hostname must carry',
    ],
    [
      'targetRps infinite',
      () => planTraffic(slo(0, Infinity), 'weighted', three),
      'slo.targetRps must be a positive number, received Infinity; set the requests per second the hostname must carry',
    ],
    [
      'targetUtilization 0',
      () => planTraffic(slo(0, 1000, 0), 'weighted', three),
      "slo.targetUtilization must be in (0, 1], received 0; set the share of each replica's measured capacity to plan at, e.g. 0.7",
    ],
    [
      'targetUtilization above 1',
      () => planTraffic(slo(0, 1000, 1.2), 'weighted', three),
      "slo.targetUtilization must be in (0, 1], received 1.2; set the share of each replica's measured capacity to plan at, e.g. 0.7",
    ],
    [
      'targetUtilization NaN',
      () => planTraffic(slo(0, 1000, Number.NaN), 'weighted', three),
      "slo.targetUtilization must be in (0, 1], received NaN; set the share of each replica's measured capacity to plan at, e.g. 0.7",
    ],
    [
      'survive negative',
      () => planTraffic(slo(-1), 'weighted', three),
      'slo.survive must be a whole number of at least 0, received -1; set how many targets may be lost at once',
    ],
    [
      'survive not whole',
      () => planTraffic(slo(1.5), 'weighted', three),
      'slo.survive must be a whole number of at least 0, received 1.5; set how many targets may be lost at once',
    ],
    [
      'survive as many as the targets',
      () => planTraffic(slo(3), 'weighted', three),
      'slo.survive 3 is too high for 3 targets: losing 3 of 3 targets leaves none to serve; lower slo.survive to at most 2 or add targets',
    ],
    [
      'survive 1 of 1',
      () => planTraffic(slo(1), 'weighted', weighted(['only', 1])),
      'slo.survive 1 is too high for 1 target: losing 1 of 1 target leaves none to serve; lower slo.survive to at most 0 or add targets',
    ],
    [
      'survive 2 of a failover pair',
      () =>
        planTraffic(
          slo(2),
          'failover',
          targets(['p', { failover: 'primary' }], ['s', { failover: 'secondary' }]),
        ),
      'slo.survive 2 is too high for 2 targets: losing 2 of 2 targets leaves none to serve; lower slo.survive to at most 1 or add targets',
    ],
    [
      'a negative weight',
      () => planTraffic(slo(0), 'weighted', weighted(['a', 1], ['b', -1])),
      'target "b" routing.weight must be a finite number of at least 0 for the weighted policy, received -1; set a weight from 0 to 255',
    ],
    [
      'a NaN weight',
      () => planTraffic(slo(0), 'weighted', weighted(['a', Number.NaN])),
      'target "a" routing.weight must be a finite number of at least 0 for the weighted policy, received NaN; set a weight from 0 to 255',
    ],
    [
      'an infinite weight',
      () => planTraffic(slo(0), 'weighted', weighted(['a', Infinity])),
      'target "a" routing.weight must be a finite number of at least 0 for the weighted policy, received Infinity; set a weight from 0 to 255',
    ],
    [
      'a missing weight',
      () => planTraffic(slo(0), 'weighted', targets(['a', { weight: 1 }], ['b', {}])),
      'target "b" routing.weight must be a finite number of at least 0 for the weighted policy, received undefined; set a weight from 0 to 255',
    ],
    [
      'a negative share',
      () => planTraffic(slo(0), 'latency', shared(['a', 0.5], ['b', -0.1])),
      'target "b" routing.expectedShare must be in [0, 1] for the latency policy, received -0.1; declare the share of the global traffic the target is expected to take',
    ],
    [
      'a share above 1',
      () => planTraffic(slo(0), 'geolocation', shared(['a', 1.5])),
      'target "a" routing.expectedShare must be in [0, 1] for the geolocation policy, received 1.5; declare the share of the global traffic the target is expected to take',
    ],
    [
      'a NaN share',
      () => planTraffic(slo(0), 'latency', shared(['a', Number.NaN])),
      'target "a" routing.expectedShare must be in [0, 1] for the latency policy, received NaN; declare the share of the global traffic the target is expected to take',
    ],
    [
      'a missing share',
      () => planTraffic(slo(0), 'geolocation', targets(['a', { expectedShare: 1 }], ['b', { weight: 1 }])),
      'target "b" routing.expectedShare must be in [0, 1] for the geolocation policy, received undefined; declare the share of the global traffic the target is expected to take',
    ],
    [
      // 0 + 0: no traffic to normalise even with every target up.
      'every share 0',
      () => planTraffic(slo(0), 'latency', shared(['a', 0], ['b', 0])),
      'no target takes traffic with every target up: the routing.expectedShare of "a", "b" are all 0 under the latency policy; declare a routing.expectedShare above 0 for the targets clients reach',
    ],
    [
      // Losing a (share 1) leaves b and c with 0 + 0 to normalise over.
      'a loss of one that leaves only zero shares',
      () => planTraffic(slo(1), 'latency', shared(['a', 1], ['b', 0], ['c', 0])),
      'losing "a" leaves no target with traffic: the routing.expectedShare of "b", "c" are all 0 under the latency policy; declare a routing.expectedShare above 0 for a target that takes over, or lower slo.survive to 0',
    ],
    [
      // Every single loss leaves a share above 0; losing {a, b} leaves c and d with 0 + 0.
      'a loss of two that leaves only zero shares',
      () => planTraffic(slo(2), 'geolocation', shared(['a', 0.5], ['b', 0.5], ['c', 0], ['d', 0])),
      'losing "a", "b" leaves no target with traffic: the routing.expectedShare of "c", "d" are all 0 under the geolocation policy; declare a routing.expectedShare above 0 for a target that takes over, or lower slo.survive to 1',
    ],
    [
      'failover with two primaries',
      () =>
        planTraffic(
          slo(0),
          'failover',
          targets(
            ['p1', { failover: 'primary' }],
            ['p2', { failover: 'primary' }],
            ['s', { failover: 'secondary' }],
          ),
        ),
      'the failover policy needs exactly one primary and one secondary target, received primary: "p1", "p2"; secondary: "s"; neither: none; set routing.failover to primary on one target and secondary on another, and remove the rest',
    ],
    [
      'failover without a secondary',
      () => planTraffic(slo(0), 'failover', targets(['p', { failover: 'primary' }])),
      'the failover policy needs exactly one primary and one secondary target, received primary: "p"; secondary: none; neither: none; set routing.failover to primary on one target and secondary on another, and remove the rest',
    ],
    [
      'failover with a target in neither role',
      () =>
        planTraffic(
          slo(0),
          'failover',
          targets(['p', { failover: 'primary' }], ['s', { failover: 'secondary' }], ['x', { weight: 1 }]),
        ),
      'the failover policy needs exactly one primary and one secondary target, received primary: "p"; secondary: "s"; neither: "x"; set routing.failover to primary on one target and secondary on another, and remove the rest',
    ],
    [
      'an unknown policy',
      () => planTraffic(slo(0), 'random' as RoutingPolicy, three),
      'routing policy must be one of weighted, latency, failover, geolocation, received "random"; set routing.policy to one of them',
    ],
  ];

  it.each(cases)('%s', (_title, run, message) => {
    let error: unknown;
    try {
      run();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe(message);
  });

  it('never runs out of weighted targets with traffic: zero weights left share equally', () => {
    // Weights 1, 0, 0 and survive 2: losing {a, b} leaves c (weight 0) alone → it takes 1,000 rps.
    const plan = planTraffic(slo(2), 'weighted', weighted(['a', 1], ['b', 0], ['c', 0]));
    expect(plan.targets.map((target) => [target.requiredRps, target.bindingLoss])).toEqual([
      [1000, []],
      // b: lose a → b and c share 1/2 → 500; lose {a, c} → 1,000.
      [1000, ['a', 'c']],
      [1000, ['a', 'b']],
    ]);
  });
});

describe('formatTrafficPlan', () => {
  const plan = planTraffic(slo(1), 'weighted', weighted(['us-east', 50], ['eu-west', 30], ['ap-south', 20]));

  it('tables each target and names the loss that binds the plan', () => {
    // Required: 714.29 + 600 + 400 = 1,714.29 rps. Losing eu-west raises us-east by 714.29 − 500 = 214.29;
    // losing us-east raises eu-west by 600 − 300 and ap-south by 400 − 200: 500, the most.
    expect(formatTrafficPlan(plan)).toBe(
      [
        'weighted routing of 1,000 rps over 3 targets, covering the loss of up to 1 target:',
        '',
        '| target | share | required rps | binding loss |',
        '| --- | ---: | ---: | --- |',
        '| us-east | 50% | 714 | eu-west |',
        '| eu-west | 30% | 600 | us-east |',
        '| ap-south | 20% | 400 | us-east |',
        '',
        'binding loss: losing us-east raises the required capacity most, by 500 rps; the plan needs 1,714 rps in all for 1,000 rps of traffic.',
        '',
      ].join('\n'),
    );
  });

  it('adds what the gate measured per target, n/a where it measured nothing', () => {
    const measured = new Map([
      ['us-east', { perReplicaRps: 412.5, replicas: 3 }],
      ['eu-west', { perReplicaRps: 1234.5, replicas: 1 }],
    ]);
    expect(formatTrafficPlan(plan, measured).split('\n').slice(2, 7)).toEqual([
      '| target | share | required rps | binding loss | per replica rps | replicas |',
      '| --- | ---: | ---: | --- | ---: | ---: |',
      '| us-east | 50% | 714 | eu-west | 413 | 3 |',
      '| eu-west | 30% | 600 | us-east | 1,235 | 1 |',
      '| ap-south | 20% | 400 | us-east | n/a | n/a |',
    ]);
  });

  it('names the losses of several targets, and no loss when none is covered', () => {
    // 40/30/20/10, survive 2: {eu-west, us-east} raises ap-south by 666.67 − 200 and sa-east by
    // 333.33 − 100: 700; {ap-south, us-east} raises eu-west by 450; {ap-south, eu-west} us-east by 400.
    // Total 800 + 750 + 666.67 + 333.33 = 2,550.
    const two = planTraffic(
      slo(2),
      'weighted',
      weighted(['us-east', 40], ['eu-west', 30], ['ap-south', 20], ['sa-east', 10]),
    );
    expect(formatTrafficPlan(two).split('\n').at(-2)).toBe(
      'binding loss: losing eu-west, us-east raises the required capacity most, by 700 rps; the plan needs 2,550 rps in all for 1,000 rps of traffic.',
    );
    const none = planTraffic(slo(0, 12345), 'latency', shared(['a', 0.5], ['b', 0.5]));
    expect(formatTrafficPlan(none)).toBe(
      [
        'latency routing of 12,345 rps over 2 targets, covering the loss of up to 0 targets:',
        '',
        '| target | share | required rps | binding loss |',
        '| --- | ---: | ---: | --- |',
        '| a | 50% | 6,173 | none (all up) |',
        '| b | 50% | 6,173 | none (all up) |',
        '',
        'no loss binds the plan: every target carries its all-up share; the plan needs 12,345 rps in all for 12,345 rps of traffic.',
        '',
      ].join('\n'),
    );
  });

  it('names the primary for a failover plan', () => {
    // The secondary's 1,000 rps above its all-up 0 is the primary's loss.
    const failover = planTraffic(
      slo(0),
      'failover',
      targets(['main', { failover: 'primary' }], ['backup', { failover: 'secondary' }]),
    );
    expect(formatTrafficPlan(failover).split('\n').slice(4)).toEqual([
      '| main | 100% | 1,000 | none (all up) |',
      '| backup | 0% | 1,000 | main |',
      '',
      'binding loss: losing main raises the required capacity most, by 1,000 rps; the plan needs 2,000 rps in all for 1,000 rps of traffic.',
      '',
    ]);
  });

  it('breaks a tie between losses by size, then name', () => {
    // Weights 0/0/0, survive 1: zulu and yankee bind on [xray] (+166.67 each: 333.33), xray on
    // [yankee] (+166.67): xray's loss binds.
    const equal = planTraffic(slo(1), 'weighted', weighted(['zulu', 0], ['yankee', 0], ['xray', 0]));
    expect(formatTrafficPlan(equal).split('\n').at(-2)).toBe(
      'binding loss: losing xray raises the required capacity most, by 333 rps; the plan needs 1,500 rps in all for 1,000 rps of traffic.',
    );
    // Two targets 1/1, survive 1: a binds on [b] (+500) and b on [a] (+500): a tie, a first.
    const pair = planTraffic(slo(1), 'weighted', weighted(['b', 1], ['a', 1]));
    expect(formatTrafficPlan(pair).split('\n').at(-2)).toBe(
      'binding loss: losing a raises the required capacity most, by 500 rps; the plan needs 2,000 rps in all for 1,000 rps of traffic.',
    );
  });
});
