/**
 * Synth throughput: 1,000 InferenceServices (model inspection, resolution, rendering, policy
 * validation and YAML written to disk) against a hand-written cdk8s-plus-27 baseline of 1,000
 * Deployment + Service + HorizontalPodAutoscaler, synthesized the same way, in the same process.
 * Rounds alternate between the two so machine noise hits both alike; medians are reported.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { InferenceService } from '../../lib/cdk8s';

const COUNT = 1000;
const ROUNDS = 5;
const IRIS = path.resolve(__dirname, '../../examples/iris/model/iris.onnx');

interface Run {
  readonly ms: number;
  readonly objects: number;
}

function timeSynth(build: (chart: Chart) => void): Run {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-bench-'));
  try {
    const start = process.hrtime.bigint();
    const app = new App({ outdir });
    const chart = new Chart(app, 'bench', { namespace: 'bench' });
    build(chart);
    app.synth();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    return { ms, objects: chart.toJson().length };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

function modelfabServices(chart: Chart): void {
  for (let i = 0; i < COUNT; i++) {
    new InferenceService(chart, `svc-${i}`, {
      model: IRIS,
      image: 'ghcr.io/acme/iris:1.0.0',
      resources: { cpu: '1', memory: '512Mi' },
      autoscaling: { minReplicas: 2, maxReplicas: 10, cpuUtilization: 70 },
    });
  }
}

function cdk8sPlusBaseline(chart: Chart): void {
  for (let i = 0; i < COUNT; i++) {
    const deployment = new kplus.Deployment(chart, `svc-${i}`, {
      containers: [
        {
          image: 'ghcr.io/acme/iris:1.0.0',
          portNumber: 8080,
          resources: {
            cpu: { request: kplus.Cpu.millis(1000), limit: kplus.Cpu.millis(1000) },
            memory: { request: Size.mebibytes(512), limit: Size.mebibytes(512) },
          },
        },
      ],
    });
    deployment.exposeViaService({ ports: [{ port: 8080 }] });
    new kplus.HorizontalPodAutoscaler(chart, `svc-${i}-hpa`, {
      target: deployment,
      minReplicas: 2,
      maxReplicas: 10,
      metrics: [kplus.Metric.resourceCpu(kplus.MetricTarget.averageUtilization(70))],
    });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function spread(values: number[]): string {
  return `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)} ms`;
}

export function benchSynth(): void {
  console.error(`synth: warming up (1 round each, ${COUNT} services)…`);
  timeSynth(modelfabServices);
  timeSynth(cdk8sPlusBaseline);
  const modelfab: Run[] = [];
  const baseline: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    console.error(`synth: round ${round}/${ROUNDS}`);
    modelfab.push(timeSynth(modelfabServices));
    baseline.push(timeSynth(cdk8sPlusBaseline));
  }
  const m = median(modelfab.map((r) => r.ms));
  const b = median(baseline.map((r) => r.ms));
  const mObjects = modelfab[0].objects;
  const bObjects = baseline[0].objects;
  const rows = [
    ['', 'services', 'objects', 'median', 'range', 'services/s', 'objects/s'],
    [
      'modelfab InferenceService',
      String(COUNT),
      String(mObjects),
      `${m.toFixed(0)} ms`,
      spread(modelfab.map((r) => r.ms)),
      (COUNT / (m / 1000)).toFixed(0),
      (mObjects / (m / 1000)).toFixed(0),
    ],
    [
      'cdk8s-plus-27 Deployment+Service+HPA',
      String(COUNT),
      String(bObjects),
      `${b.toFixed(0)} ms`,
      spread(baseline.map((r) => r.ms)),
      (COUNT / (b / 1000)).toFixed(0),
      (bObjects / (b / 1000)).toFixed(0),
    ],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  console.log(
    `\nsynth benchmark (${ROUNDS} rounds, median; node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'})`,
  );
  for (const row of rows)
    console.log(
      row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '),
    );
  console.log(
    `ratio (modelfab / baseline): time per service ${(m / b).toFixed(2)}x, time per object ${(m / mObjects / (b / bObjects)).toFixed(2)}x`,
  );
}
