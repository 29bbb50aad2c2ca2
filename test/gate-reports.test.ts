import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateSpec } from '../lib/core';
import { buildGateReport } from '../lib/gate/build-report';
import { planCost } from '../lib/core/cost';
import { type BatchSettingResult, type GateMeasurements, type GateReport } from '../lib/gate/gate-report';
import { renderGateMarkdown } from '../lib/gate/report-markdown';
import { logTicks, niceTicks, renderGateSvg } from '../lib/gate/report-svg';
import { writeGateReports } from '../lib/gate/write-reports';
import {
  type DeepPartial,
  deepMerge,
  gateMeasurements,
  latencySamples,
  operatingLatency,
} from './support/gate-fixtures';

const MIB = 2 ** 20;

function gateSpec(extra: Partial<GateSpec> = {}): GateSpec {
  return {
    latencyP99Ms: 25,
    latencyBoundMs: 25,
    minThroughputRps: 300,
    accuracy: { dataset: '/data/eval.jsonl', metric: 'top1', k: 5, min: 0.9 },
    inputShapes: {},
    budgetSeconds: 20,
    maxBatchSize: 8,
    seed: 1,
    ...extra,
  };
}

/**
 * A run of an Iris-sized model: latency at the operating rate from deterministic samples, and a
 * search over batch 1 to 16 in which batch 4 (410 rps of 482 saturated) is chosen, batch 8 held
 * a rate but drifted, and batch 16 ran out of time before any rate was decided.
 */
function measurements(extra: DeepPartial<GateMeasurements> = {}): GateMeasurements {
  const setting = (s: BatchSettingResult) => s;
  const run = gateMeasurements({
    environment: { cpuModel: 'Test CPU <fast> & cheap' },
    coldStart: { sessionCreateMs: 40, firstInferenceMs: 3, totalMs: 43, processReadyMs: 520 },
    latency: operatingLatency(latencySamples(), 287),
    throughput: {
      latencyBoundMs: 25,
      rps: 410,
      settings: [
        setting({
          maxBatchSize: 1,
          maxQueueDelayMs: 0,
          capacityRps: 160,
          rps: 136,
          p99Ms: 23,
          p99UpperMs: 24.1,
          samples: 2400,
          decision: 'within',
          stable: true,
        }),
        setting({
          maxBatchSize: 2,
          maxQueueDelayMs: 5,
          capacityRps: 300,
          rps: 255,
          p99Ms: 24,
          p99UpperMs: 24.7,
          samples: 4600,
          decision: 'within',
          stable: true,
        }),
        setting({
          maxBatchSize: 4,
          maxQueueDelayMs: 5,
          capacityRps: 482,
          rps: 410,
          p99Ms: 24.5,
          p99UpperMs: 24.9,
          samples: 8200,
          decision: 'within',
          stable: true,
        }),
        setting({
          maxBatchSize: 8,
          maxQueueDelayMs: 5,
          capacityRps: 560,
          rps: 392,
          p99Ms: 24.9,
          p99UpperMs: 25,
          samples: 7800,
          decision: 'within',
          stable: false,
        }),
        setting({
          maxBatchSize: 16,
          maxQueueDelayMs: 5,
          capacityRps: 570,
          rps: 0,
          p99Ms: 24.8,
          samples: 260,
          decision: 'undecided',
          stable: false,
          detail: '485 rps: p99 24.80 ms from 260 samples, not decided against 25 ms within the time it had',
        }),
      ],
    },
    peakRssBytes: 150 * MIB,
    modelSizeBytes: 5 * MIB,
    accuracy: {
      metric: 'top1',
      output: 'probabilities',
      value: 0.96,
      samples: 45,
      dataset: '/data/eval.jsonl',
    },
    servingConfig: { maxBatchSize: 4, maxQueueDelayMs: 5 },
    durationMs: 17000,
  });
  return deepMerge<GateMeasurements>(run, extra);
}

function report(
  options: { name?: string; gate?: GateSpec; m?: GateMeasurements; slo?: boolean } = {},
): GateReport {
  return buildGateReport({
    model: {
      name: options.name ?? 'iris',
      path: '/models/iris.onnx',
      sha256: 'ab'.repeat(32),
      sizeBytes: 5 * MIB,
    },
    gate: options.gate ?? gateSpec(),
    ...(options.slo === false ? {} : { slo: { targetRps: 2000, targetUtilization: 0.7 } }),
    measurements: options.m ?? measurements(),
    cached: false,
  });
}

/**
 * A small well-formedness check of the SVG: every `<` opens a valid tag or closes the open one, tags
 * balance, attribute values are quoted and every `&` starts a known entity.
 */
function checkWellFormedXml(xml: string): void {
  const tag =
    /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<&]*(?:&(?:amp|lt|gt|quot|apos);[^"<&]*)*")*)\s*(\/?)>/y;
  const stack: string[] = [];
  let i = 0;
  let roots = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const textPart = xml.slice(i, lt === -1 ? xml.length : lt);
    for (const amp of textPart.matchAll(/&/g)) {
      expect(textPart.slice(amp.index), 'entity').toMatch(/^&(amp|lt|gt|quot|apos|#\d+);/);
    }
    if (stack.length === 0) expect(textPart.trim(), 'text outside the root').toBe('');
    if (lt === -1) break;
    tag.lastIndex = lt;
    const match = tag.exec(xml);
    expect(match, `a valid tag at ${xml.slice(lt, lt + 60)}`).not.toBeNull();
    const [whole, closing, name, , selfClosing] = match!;
    if (closing) {
      expect(stack.pop(), `closing </${name}>`).toBe(name);
    } else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name);
    } else if (stack.length === 0) {
      roots++;
    }
    i = lt + whole.length;
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

describe('buildGateReport', () => {
  it('judges, grades and plans capacity', () => {
    const r = report();
    expect(r.schemaVersion).toBe(1);
    expect(r.cached).toBe(false);
    expect(r.passed).toBe(true);
    expect(r.verdicts.map((v) => [v.metric, v.pass])).toEqual([
      ['latency p99', true],
      ['lone-request latency p99', true],
      ['throughput', true],
      ['accuracy (top1)', true],
    ]);
    expect(r.grades).toEqual({ latency: 'excellent', throughput: 'pass', accuracy: 'excellent' });
    expect(r.capacity).toEqual({ targetRps: 2000, targetUtilization: 0.7, perReplicaRps: 410, replicas: 7 });
    expect(r.slo).toEqual({ targetRps: 2000, targetUtilization: 0.7 });
  });

  it('fails when any verdict fails', () => {
    const r = report({ gate: gateSpec({ latencyP99Ms: 5 }) });
    expect(r.passed).toBe(false);
    expect(r.verdicts.filter((v) => !v.pass).map((v) => v.metric)).toEqual([
      'latency p99',
      'lone-request latency p99',
    ]);
  });

  it('fails on a latency the samples could not decide', () => {
    // p99 at the operating rate: lower bound 13.7 ms, upper 17.6 ms.
    const r = report({ gate: gateSpec({ latencyP99Ms: 16 }) });
    expect(r.passed).toBe(false);
    const [verdict] = r.verdicts;
    expect(verdict.pass).toBe(false);
    expect(verdict.message).toMatch(
      /^latency p99 15\.9 ms, not shown within latencyP99Ms 16 with 95% confidence after 3,000 samples/,
    );
  });

  it('passes a gate with no thresholds', () => {
    const gate: GateSpec = {
      latencyBoundMs: 100,
      inputShapes: {},
      budgetSeconds: 20,
      maxBatchSize: 8,
      seed: 1,
    };
    const r = report({ gate });
    expect(r.verdicts).toEqual([]);
    expect(r.passed).toBe(true);
  });

  it('plans no capacity without an SLO or without measured throughput', () => {
    expect(report({ slo: false }).capacity).toBeUndefined();
    expect(report({ slo: false }).slo).toBeUndefined();
    const m = measurements();
    const zero = report({ m: { ...m, throughput: { ...m.throughput, rps: 0, decision: 'undecided' } } });
    expect(zero.capacity).toBeUndefined();
    expect(zero.grades.throughput).toBe('fail');
    expect(zero.verdicts.find((v) => v.threshold === 'minThroughputRps')).toMatchObject({
      measured: 0,
      pass: false,
    });
  });

  it('grades accuracy only for top1/topk', () => {
    const m = measurements({
      accuracy: { metric: 'rmse', output: 'y', value: 0.3, samples: 10, dataset: '/d.jsonl' },
    });
    expect(report({ m, gate: gateSpec({ accuracy: undefined }) }).grades.accuracy).toBeUndefined();
  });
});

describe('renderGateMarkdown', () => {
  it('has the title, the verdict rows and the sections', () => {
    const md = renderGateMarkdown(report({ gate: gateSpec({ latencyP99Ms: 5 }) }), {
      svgHref: 'iris.gate.svg',
    });
    expect(md).toMatch(/^# Quality gate: iris — FAILED ❌\n/);
    expect(md).toContain(
      '| ❌ | `latencyP99Ms` | latency p99 | 15.95 ms | 5 ms | latency p99 15.9 ms &gt; latencyP99Ms 5 (',
    );
    expect(md).toContain('| ❌ | `latencyP99Ms` | lone-request latency p99 | 8.1 ms | 5 ms |');
    expect(md).toContain('| ✅ | `minThroughputRps` | throughput | 410 rps | 300 rps |');
    expect(md).toContain('| ✅ | `accuracy.min` | accuracy (top1) | 0.96 | 0.9 |');
    for (const heading of [
      '## Verdicts',
      '## Grades',
      '## Environment',
      '## Latency',
      '## Throughput at p99 ≤ 25 ms',
      '## Cold start',
      '## Accuracy',
      '## Capacity plan',
      '## Serving config',
    ]) {
      expect(md).toContain(`\n${heading}`);
    }
    expect(md).toContain('](iris.gate.svg)');
    expect(md).toContain(
      '| 4 | 5 ms | 482 | 410 | 24.5 ms | ≤ 24.9 ms | 8,200 | held, no drift | ⬅ chosen |',
    );
    expect(md).toContain('| 8 | 5 ms | 560 | 392 | 24.9 ms | ≤ 25 ms | 7,800 | held, drifting |  |');
    expect(md).toContain(
      '| 16 | 5 ms | 570 | 0 | 24.8 ms | - | 260 | 485 rps: p99 24.80 ms from 260 samples, not decided against 25 ms within the time it had |  |',
    );
    expect(md).toContain('Per replica: **410 rps**.');
    expect(md).toContain('| 2,000 rps | 70% | 410 rps | **7** |');
    expect(md).not.toContain('≥ 410');
    expect(md.endsWith('\n')).toBe(true);
  });

  it("shows the service's cost when it has a node to price it, with how it was computed", () => {
    const r = report();
    expect(renderGateMarkdown(r)).not.toContain('## Cost');
    // 7 replicas of the capacity plan, 4 pods a c6i.xlarge at 0.17 USD/h: 2 nodes, 0.34 USD/h; a pod's
    // 0.0425 USD/h over 410 × 0.7 × 3,600 = 1,033,200 inferences: 0.04113 USD a million.
    const cost = planCost({
      instanceType: 'c6i.xlarge',
      pricePerNodeHour: 0.17,
      podsPerNode: 4,
      replicas: 7,
      perReplicaRps: 410,
      targetUtilization: 0.7,
    });
    expect(renderGateMarkdown({ ...r, cost })).toContain(
      '## Cost\n\n| node | node-hour | pods a node | replicas | nodes | per hour | per million inferences |\n' +
        '| --- | --- | --- | --- | --- | --- | --- |\n' +
        '| c6i.xlarge | $0.17 | 4 | 7 | 2 | **$0.34** | **$0.04113** |',
    );
  });

  it('says PASSED when every verdict passes', () => {
    expect(renderGateMarkdown(report())).toMatch(/^# Quality gate: iris — PASSED ✅/);
  });

  it('escapes names so they cannot break tables or inject html', () => {
    const md = renderGateMarkdown(report({ name: 'a|b <script>&' }));
    expect(md).toMatch(/^# Quality gate: a\\\|b &lt;script&gt;&amp; —/);
    expect(md).not.toContain('<script>');
    expect(md).toContain('Test CPU &lt;fast&gt; &amp; cheap');
  });

  it('says how the limits were enforced and what the load generator could do', () => {
    const md = renderGateMarkdown(report());
    expect(md).toContain(
      '| limits enforced | quota (CPU), cgroup (memory): CFS quota 100000 µs per 100000 µs (cgroup v2), memory limit 512 MiB (cgroup v2) |',
    );
    expect(md).toContain('| load generator ceiling | 9,800 rps against a trivial endpoint, same run |');
    const m = measurements({
      environment: {
        enforcement: {
          cpu: 'affinity',
          memory: 'none',
          detail:
            'affinity to 1 core (cpus 3) for want of a CFS quota (no cpu controller); no memory cgroup: the limit is checked against peak RSS',
        },
      },
    });
    expect(renderGateMarkdown(report({ m }))).toContain(
      '| limits enforced | affinity (CPU), none (memory): affinity to 1 core (cpus 3) for want of a CFS quota (no cpu controller); ' +
        'no memory cgroup: the limit is checked against peak RSS |',
    );
  });

  it('shows the latency at the operating rate, of a lone request and of the model alone', () => {
    const r = report();
    const md = renderGateMarkdown(r);
    const l = r.measurements.latency;
    expect(md).toContain(
      'The thresholds are judged at the planned operating rate (287 rps: target utilization × the capacity at the bound)',
    );
    expect(md).toContain("A lone request waits out the batch's queue delay (5 ms).");
    expect(md).toMatch(
      /\| at 287 rps \(operating rate\) \| 7\.6 ms \| [^|]+ \| [^|]+ \| 15\.9 ms \| [^|]+ \| 3,000 \| ≥ 13\.7 ms, ≤ 17\.6 ms \|/,
    );
    expect(md).toContain(
      '| a lone request | 6.9 ms | 7.2 ms | 7.4 ms | 8.1 ms | 9.3 ms | 1,500 | ≥ 7.8 ms, ≤ 8.6 ms |',
    );
    expect(md).toContain(
      '| the model alone, in process (diagnostic) | 1.7 ms | 1.9 ms | 2 ms | 2.4 ms | 4.1 ms | 20,000 | - |',
    );
    expect(md).toContain(`Drift over 4 windows (reported, not a verdict): ${l.detail}.`);
    const few = measurements({
      loneLatency: { p99: { estimateMs: 8.1, lowerMs: undefined, upperMs: undefined, samples: 80 } },
    });
    expect(renderGateMarkdown(report({ m: few }))).toMatch(/\| a lone request \|.*\| too few samples \|/);
  });

  it('shows the server process start to ready in the cold start', () => {
    const md = renderGateMarkdown(report());
    expect(md).toContain(
      '| server process start to ready (as a pod pays it) | session create (in process) | first inference | session + first inference |',
    );
    expect(md).toContain('| 520 ms | 40 ms | 3 ms | 43 ms |');
  });

  it('writes a generator-bound throughput as a lower bound, in the text and the capacity plan', () => {
    const m = measurements({
      environment: { generatorCeilingRps: 530 },
      throughput: { generatorBound: true },
    });
    const md = renderGateMarkdown(report({ m }));
    expect(md).toContain('Per replica: **≥ 410 rps**.');
    expect(md).toContain(
      "The server's saturated capacity reached 90% of the load generator's own ceiling (530 rps): the figure is the generator's bound, a lower bound of the server's, and the capacity plan uses it.",
    );
    expect(md).toContain('| 2,000 rps | 70% | ≥ 410 rps | **7** |');
    expect(md).toContain('bound by the load generator: the server may serve more');
  });

  it('says when the load generator fell behind at the next rate, and writes the figure as a lower bound', () => {
    const base = measurements();
    const m = measurements({
      throughput: {
        ...base.throughput,
        generatorBound: true,
        settings: base.throughput.settings.map((s) =>
          s.maxBatchSize === 4
            ? {
                ...s,
                generatorBound: true,
                detail: 'the next rate did not hold: 446 rps: the load generator fell behind (…)',
              }
            : s,
        ),
      },
    });
    const md = renderGateMarkdown(report({ m }));
    expect(md).toContain('Per replica: **≥ 410 rps**.');
    expect(md).toContain(
      "At the next rate the load generator fell behind its own arrival schedule (this machine could not offer it): the figure is a lower bound of the server's, and the capacity plan uses it.",
    );
    expect(md).not.toContain('90% of the load generator');
  });

  it('fails a throughput that held no rate, and plans no capacity', () => {
    const base = measurements();
    const m = measurements({
      throughput: {
        rps: 0,
        decision: 'undecided',
        settings: base.throughput.settings.filter((s) => s.maxBatchSize === 16),
      },
      servingConfig: { maxBatchSize: 16, maxQueueDelayMs: 5 },
    });
    const r = report({ m });
    const md = renderGateMarkdown(r);
    expect(r.passed).toBe(false);
    expect(md).toContain(
      '| ❌ | `minThroughputRps` | throughput | 0 rps | 300 rps | throughput not shown at p99 &lt;= 25 ms with 95% confidence (485 rps:',
    );
    expect(md).toContain(
      'No plan: throughput at the latency bound was 0 rps, so capacity could not be measured.',
    );
  });

  it('lists the batch settings not tried for memory, with their forecast and the limit', () => {
    const base = measurements();
    const m = measurements({
      throughput: {
        ...base.throughput,
        skipped: [
          { maxBatchSize: 16, forecastBytes: 1800 * 2 ** 20, memoryLimitBytes: 1024 * 2 ** 20 },
          { maxBatchSize: 32, forecastBytes: 3400 * 2 ** 20, memoryLimitBytes: 1024 * 2 ** 20 },
        ],
      },
    });
    expect(renderGateMarkdown(report({ m }))).toContain(
      'Not tried, because their forecast peak memory exceeds the 1,024 MiB limit (resources.memory): batch 16 (1,800 MiB), batch 32 (3,400 MiB).',
    );
    expect(renderGateMarkdown(report())).not.toContain('Not tried');
  });

  it('shows a batch size that was only probed with its saturated capacity, no rate and why', () => {
    const base = measurements();
    const probed: BatchSettingResult = {
      maxBatchSize: 2,
      maxQueueDelayMs: 5,
      capacityRps: 300,
      rps: 0,
      p99Ms: NaN,
      samples: 0,
      decision: 'not searched',
      stable: false,
      detail: 'no rate searched: batch 4 served 482 rps saturated, and the search went there',
    };
    const m = measurements({
      throughput: {
        ...base.throughput,
        settings: base.throughput.settings.map((s) => (s.maxBatchSize === 2 ? probed : s)),
      },
    });
    const md = renderGateMarkdown(report({ m }));
    expect(md).toContain(
      '| 2 | 5 ms | 300 | - | - | - | 0 | no rate searched: batch 4 served 482 rps saturated, and the search went there |  |',
    );
    const svg = renderGateSvg(report({ m }));
    expect(svg).toContain('>probed</text>');
    expect(svg).toContain(
      '<title>max batch 2, queue delay 5 ms: saturated capacity 300 rps (no rate searched: batch 4 served 482 rps saturated, and the search went there)</title>',
    );
  });

  it('shows parity with its worst element', () => {
    const m = measurements({
      parity: {
        maxAbsError: 0.002,
        maxRelError: 0.004,
        mismatches: 2,
        elements: 135,
        samples: 45,
        dataset: '/data/expected.jsonl',
        worst: { line: 7, output: 'probabilities', index: 2, actual: 0.1234567, expected: 0.12 },
      },
    });
    const md = renderGateMarkdown(
      report({ m, gate: gateSpec({ parity: { dataset: '/data/expected.jsonl', atol: 1e-4, rtol: 1e-3 } }) }),
    );
    expect(md).toContain('## Parity (atol 0.0001, rtol 0.001)');
    expect(md).toContain('| 2 | 135 | 0.002 | 0.004 | 45 | /data/expected.jsonl |');
    expect(md).toContain('Worst element: line 7, output "probabilities"[2] = 0.1234567, expected 0.12.');
    expect(md).toContain('| ❌ | `parity` | parity |');
  });
});

describe('renderGateSvg', () => {
  it('is a standalone, well-formed svg', () => {
    const svg = renderGateSvg(report());
    checkWellFormedXml(svg);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 \d+ \d+"/);
    expect(svg).not.toMatch(/<script|href=|@import|url\(/i);
  });

  it("draws each setting's saturated capacity behind the rate it held, the chosen one highlighted", () => {
    const svg = renderGateSvg(report());
    expect(svg.match(/<rect class="capacity"/g)).toHaveLength(5);
    // Batch 16 held no rate: a capacity bar only, marked as such.
    expect(svg.match(/<rect class="bar( chosen)?"/g)).toHaveLength(4);
    expect(svg).toContain('>none held</text>');
    const capacities = [...svg.matchAll(/<rect class="capacity"[^>]*><title>([^<]*)<\/title>/g)].map(
      (t) => t[1],
    );
    expect(capacities[4]).toBe(
      'max batch 16, queue delay 5 ms: saturated capacity 570 rps, no rate held within the bound ' +
        '(485 rps: p99 24.80 ms from 260 samples, not decided against 25 ms within the time it had)',
    );
    const chosen = svg.match(/<rect class="bar chosen"[^>]*><title>([^<]*)<\/title>/);
    expect(chosen?.[1]).toBe(
      'max batch 4, queue delay 5 ms: 410 rps held at p99 24.5 ms, ≤ 24.9 ms with confidence (8,200 samples, no drift; saturated 482 rps)',
    );
    expect(svg).toContain('>chosen</text>');
    expect(svg).toContain('>saturated rps</text>');
    expect(svg).toContain('class="min-throughput"');
    expect(svg).toContain('>minThroughputRps 300</text>');
    expect(svg).toContain('>drifting</text>'); // the legend of batch 8's pale bar
    expect(svg).toContain('>open loop, Poisson arrivals · per replica 410 rps</text>');
    expect(svg).not.toContain('≥');
  });

  it('writes the held rate as a lower bound when the load generator was the bound', () => {
    const m = measurements({
      environment: { generatorCeilingRps: 530 },
      throughput: { generatorBound: true },
    });
    const svg = renderGateSvg(report({ m }));
    checkWellFormedXml(svg);
    expect(svg).toContain('>open loop · per replica ≥ 410 rps (generator-bound)</text>');
    expect(svg).toMatch(/font-weight="bold"[^>]*>≥ 410<\/text>/);
  });

  it('says where the latency was measured and how the CPU was held', () => {
    const svg = renderGateSvg(report());
    expect(svg).toContain('>3,000 requests at 287 rps, the operating rate · no drift</text>');
    expect(svg).toContain('· CPU held by a CFS quota ·');
    const affinity = measurements({
      environment: {
        enforcement: { cpu: 'affinity', memory: 'none', detail: 'affinity to 1 core (cpus 3)' },
      },
    });
    expect(renderGateSvg(report({ m: affinity }))).toContain('· CPU held by core affinity ·');
  });

  it('draws the histogram with p50, p99 and the bound', () => {
    const r = report();
    const svg = renderGateSvg(r);
    const nonEmpty = r.measurements.latency.histogram.counts.filter((c) => c > 0).length;
    const histogram = svg.match(/<g class="histogram">(.*?)<\/g>/s)![1];
    expect(histogram.match(/<rect /g)).toHaveLength(nonEmpty);
    expect(svg.match(/<line class="marker"/g)).toHaveLength(3);
    expect(svg).toContain(`>p50 ${Number(r.measurements.latency.p50Ms.toPrecision(3))} ms</text>`);
    expect(svg).toContain('>latencyP99Ms 25 ms</text>');
    expect(svg).toContain('>latency (ms, log scale)</text>');
    expect(svg).toContain('>max batch size / max queue delay (ms)</text>');
  });

  it('leaves out the bound and minimum lines when not declared', () => {
    const gate: GateSpec = {
      latencyBoundMs: 100,
      inputShapes: {},
      budgetSeconds: 20,
      maxBatchSize: 8,
      seed: 1,
    };
    const svg = renderGateSvg(report({ gate }));
    checkWellFormedXml(svg);
    expect(svg.match(/<line class="marker"/g)).toHaveLength(2);
    expect(svg).not.toContain('min-throughput');
  });

  it('escapes < & " in model names and environment text', () => {
    const svg = renderGateSvg(report({ name: 'fraud <&> "v2"' }));
    checkWellFormedXml(svg);
    expect(svg).toContain('fraud &lt;&amp;&gt; &quot;v2&quot;');
    expect(svg).not.toContain('fraud <&>');
    expect(svg).toContain('Test CPU &lt;fast&gt; &amp; cheap');
  });

  it('renders empty measurements without breaking', () => {
    const m = measurements();
    const empty = measurements({
      latency: { ...m.latency, samples: 0, histogram: { boundsMs: [], counts: [] } },
      throughput: { ...m.throughput, rps: 0, decision: 'undecided', settings: [] },
    });
    const svg = renderGateSvg(report({ m: empty }));
    checkWellFormedXml(svg);
    expect(svg).toContain('>no latency samples</text>');
    expect(svg).toContain('>no batch setting measured</text>');
  });

  it('is deterministic', () => {
    expect(renderGateSvg(report())).toBe(renderGateSvg(report()));
  });
});

describe('axis ticks', () => {
  it('picks round linear ticks', () => {
    expect(niceTicks(0, 410, 5)).toEqual([0, 100, 200, 300, 400, 500]);
    expect(niceTicks(0, 5, 5)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(niceTicks(0, 0.9, 4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });

  it('picks 1-2-5 log ticks, thinner or denser as the range needs', () => {
    expect(logTicks(0.03, 9)).toEqual([0.05, 0.1, 0.2, 0.5, 1, 2, 5]);
    expect(logTicks(3.5, 29)).toEqual([5, 7, 10, 20]);
    expect(logTicks(0.001, 1e6)).toEqual([0.001, 0.01, 0.1, 1, 10, 100, 1000, 10000, 100000, 1000000]);
    expect(logTicks(40, 48).length).toBeGreaterThanOrEqual(2);
  });
});

describe('writeGateReports', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-reports-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes json, markdown and svg into a new directory', () => {
    const r = report();
    const out = path.join(dir, 'dist', 'gate');
    const files = writeGateReports(out, 'iris', r);
    expect(files).toEqual({
      json: path.join(out, 'iris.gate.json'),
      markdown: path.join(out, 'iris.gate.md'),
      svg: path.join(out, 'iris.gate.svg'),
    });
    const json = fs.readFileSync(files.json, 'utf8');
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(r)));
    expect(json).toMatch(/^\{\n {2}"schemaVersion": 1,/);
    expect(fs.readFileSync(files.markdown, 'utf8')).toContain('](iris.gate.svg)');
    checkWellFormedXml(fs.readFileSync(files.svg, 'utf8'));
    expect(fs.readdirSync(out).sort()).toEqual(['iris.gate.json', 'iris.gate.md', 'iris.gate.svg']);
  });

  it('rejects a base name with a path in it', () => {
    expect(() => writeGateReports(dir, '../iris', report())).toThrow(/received "..\/iris"/);
    expect(() => writeGateReports(dir, '', report())).toThrow(/without path separators/);
  });
});
