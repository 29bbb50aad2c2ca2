import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GateSpec } from '../lib/core';
import { buildGateReport } from '../lib/gate/build-report';
import { type GateMeasurements, type GateReport } from '../lib/gate/gate-report';
import { renderGateMarkdown } from '../lib/gate/report-markdown';
import { logTicks, niceTicks, renderGateSvg } from '../lib/gate/report-svg';
import { latencyStats, logHistogram, stability, windowStats } from '../lib/gate/statistics';
import { writeGateReports } from '../lib/gate/write-reports';

const MIB = 2 ** 20;

/** Deterministic latency samples around 12 ms with a tail. */
function samples(n = 3000): number[] {
  let seed = 11;
  const rand = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  return Array.from({ length: n }, () => 8 + 8 * rand() * rand() + (rand() < 0.02 ? 20 * rand() : 0));
}

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

function measurements(extra: Partial<GateMeasurements> = {}): GateMeasurements {
  const all = samples();
  const windows = [0, 1, 2, 3].map((w) => windowStats(all.slice(w * 750, (w + 1) * 750), 2));
  return {
    environment: {
      cpuModel: 'Test CPU <fast> & cheap',
      cores: 8,
      onnxruntimeVersion: '1.30.0',
      nodeVersion: 'v20.19.0',
      platform: 'linux-x64',
      intraOpThreads: 1,
      cpuLimitMillis: 1000,
      memoryLimitBytes: 512 * MIB,
    },
    coldStart: { sessionCreateMs: 40, firstInferenceMs: 3, totalMs: 43 },
    latency: { ...latencyStats(all), ...stability(windows), windows, histogram: logHistogram(all) },
    throughput: {
      latencyBoundMs: 25,
      rps: 410,
      stable: true,
      settings: [
        { maxBatchSize: 1, maxQueueDelayMs: 0, rps: 120, p99Ms: 23, samples: 2400, stable: true },
        { maxBatchSize: 2, maxQueueDelayMs: 2, rps: 230, p99Ms: 24, samples: 4600, stable: true },
        { maxBatchSize: 4, maxQueueDelayMs: 2, rps: 410, p99Ms: 24.5, samples: 8200, stable: true },
        { maxBatchSize: 8, maxQueueDelayMs: 2, rps: 390, p99Ms: 24.9, samples: 7800, stable: false },
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
    servingConfig: { maxBatchSize: 4, maxQueueDelayMs: 2, intraOpThreads: 1, workers: 1 },
    durationMs: 17000,
    ...extra,
  };
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
    expect(r.verdicts.map((v) => [v.threshold, v.pass])).toEqual([
      ['latencyP99Ms', true],
      ['minThroughputRps', true],
      ['accuracy.min', true],
    ]);
    expect(r.grades).toEqual({ latency: 'excellent', throughput: 'pass', accuracy: 'excellent' });
    expect(r.capacity).toEqual({ targetRps: 2000, targetUtilization: 0.7, perReplicaRps: 410, replicas: 7 });
    expect(r.slo).toEqual({ targetRps: 2000, targetUtilization: 0.7 });
  });

  it('fails when any verdict fails', () => {
    const r = report({ gate: gateSpec({ latencyP99Ms: 5 }) });
    expect(r.passed).toBe(false);
    expect(r.verdicts.filter((v) => !v.pass).map((v) => v.threshold)).toEqual(['latencyP99Ms']);
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
    const zero = report({ m: { ...m, throughput: { ...m.throughput, rps: 0 } } });
    expect(zero.capacity).toBeUndefined();
    expect(zero.grades.throughput).toBe('fail');
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
    expect(md).toContain('| ❌ | `latencyP99Ms` | latency p99 |');
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
    expect(md).toMatch(/\| 4 \| 2 ms \| 410 \| 24.5 ms \| 8,200 \| stable \| ⬅ chosen \|/);
    expect(md).toMatch(/\| 2,000 rps \| 70% \| 410 rps \| \*\*7\*\* \|/);
    expect(md.endsWith('\n')).toBe(true);
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

  it('draws a bar per batch setting with the chosen one highlighted', () => {
    const svg = renderGateSvg(report());
    expect(svg.match(/<rect class="bar( chosen)?"/g)).toHaveLength(4);
    const chosen = svg.match(/<rect class="bar chosen"[^>]*><title>([^<]*)<\/title>/);
    expect(chosen?.[1]).toMatch(/^max batch 4, queue delay 2 ms: 410 rps/);
    expect(svg).toContain('>chosen</text>');
    expect(svg).toContain('class="min-throughput"');
    expect(svg).toContain('>minThroughputRps 300</text>');
    expect(svg).toContain('>unstable</text>'); // the legend of the pale, unstable bar
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
      throughput: { ...m.throughput, rps: 0, settings: [] },
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
