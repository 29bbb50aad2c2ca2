import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Yaml } from 'cdk8s';
import { afterAll, describe, expect, it } from 'vitest';
import { type GateReport } from '../lib/gate';
import { checkPolicy, type KubeObject } from '../lib/render';
import { OFF_THREAD_BODY_BYTES } from '../lib/server';
import { freePort } from './support/free-port';
import { validateAgainstSchema } from './support/kube-schema';

const ROOT = path.resolve(__dirname, '..');
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-iris-synth-'));
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

describe('npm run synth (the quick start)', () => {
  // The real command: compile the package and the example, then `cdk8s synth` from examples/iris.
  const run = spawnSync('npm', ['run', 'synth', '--', '--output', outdir], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
  });

  it('exits 0 and writes the Iris manifests', () => {
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(fs.readdirSync(outdir).sort()).toEqual([
      'iris-image.image',
      'iris-iris.gate.json',
      'iris-iris.gate.md',
      'iris-iris.gate.svg',
      'iris.k8s.yaml',
    ]);
  });

  it('emits objects that validate against the Kubernetes OpenAPI schema of their apiVersion', async () => {
    const objects = Yaml.load(path.join(outdir, 'iris.k8s.yaml')) as KubeObject[];
    expect(objects.map((o) => `${o.apiVersion}/${o.kind}`)).toEqual([
      'v1/ServiceAccount',
      'v1/Service',
      'apps/v1/Deployment',
      'autoscaling/v2/HorizontalPodAutoscaler',
      'policy/v1/PodDisruptionBudget',
      'networking.k8s.io/v1/NetworkPolicy',
      'networking.k8s.io/v1/Ingress',
      'monitoring.coreos.com/v1/ServiceMonitor',
      'monitoring.coreos.com/v1/PrometheusRule',
      'v1/ConfigMap',
    ]);
    for (const object of objects) {
      await expect(
        validateAgainstSchema(object),
        `${object.kind}/${object.metadata.name}`,
      ).resolves.toBeUndefined();
    }
  });

  it("reports the served throughput, both latency points and how the pod's limits were held", () => {
    const report = JSON.parse(
      fs.readFileSync(path.join(outdir, 'iris-iris.gate.json'), 'utf8'),
    ) as GateReport;
    expect(report.passed).toBe(true);
    expect(report.capacity?.replicas).toBeGreaterThanOrEqual(1);
    const markdown = fs.readFileSync(path.join(outdir, 'iris-iris.gate.md'), 'utf8');
    expect(markdown).toContain('Served over loopback HTTP');
    expect(markdown).toMatch(/\| at [\d,.]+ rps \(operating rate\) \|/);
    expect(markdown).toContain('| a lone request |');
    expect(markdown).toContain(
      `| limits enforced | ${report.measurements.environment.enforcement.cpu} (CPU)`,
    );
    expect(markdown).toContain('server process start to ready');
  });

  it('passes the policy check with zero violations and no waivers', () => {
    const objects = Yaml.load(path.join(outdir, 'iris.k8s.yaml')) as KubeObject[];
    expect(checkPolicy(objects)).toEqual({ violations: [], waived: [] });
  });
});

describe('the Iris image', () => {
  let server: ChildProcess | undefined;
  afterAll(() => server?.kill('SIGKILL'));

  it('is the image the Deployment runs, tagged with its build context hash', () => {
    const context = path.join(outdir, 'iris-image.image');
    const metadata = JSON.parse(fs.readFileSync(path.join(context, '.modelfab-image.json'), 'utf8'));
    const objects = Yaml.load(path.join(outdir, 'iris.k8s.yaml')) as KubeObject[];
    const deployment = objects.find((o) => o.kind === 'Deployment') as any;
    expect(deployment.spec.template.spec.containers[0].image).toBe(metadata.imageRef);
    expect(metadata.imageRef).toMatch(/^ghcr\.io\/acme\/iris:[0-9a-f]{16}$/);
  });

  it("serves the eval set over HTTP from the build context with the gate's accuracy", async () => {
    // Start what the Dockerfile's entrypoint starts, with the Deployment's environment; the image's
    // builder stage installs onnxruntime-node into node_modules, here the project's copy stands in.
    const context = path.join(outdir, 'iris-image.image');
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(context, 'node_modules'), 'dir');
    const objects = Yaml.load(path.join(outdir, 'iris.k8s.yaml')) as KubeObject[];
    const container = (objects.find((o) => o.kind === 'Deployment') as any).spec.template.spec.containers[0];
    const [port, metricsPort] = [await freePort(), await freePort()];
    const env: Record<string, string> = {};
    for (const { name, value } of container.env as Array<{ name: string; value: string }>) env[name] = value;
    Object.assign(env, { MODELFAB_PORT: String(port), MODELFAB_METRICS_PORT: String(metricsPort) });
    expect(env.MODELFAB_MAX_BATCH_SIZE, 'the gate tuned the batching').toBeDefined();
    const child = spawn(process.execPath, ['server/main.js'], {
      cwd: context,
      env: { PATH: process.env.PATH, ...env },
    });
    server = child;
    let logs = '';
    child.stdout?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    while (
      !(await fetch(`${base}/v2/health/ready`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      expect(Date.now() < deadline, `not ready within 30 s:\n${logs}`).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
    }

    const rows = fs
      .readFileSync(path.join(ROOT, 'examples/iris/model/eval.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { inputs: { input: number[] }; label: number });
    const answers = await Promise.all(
      rows.map(async (row) => {
        const response = await fetch(`${base}/v2/models/iris/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: row.inputs.input }],
            outputs: [{ name: 'probabilities' }],
          }),
        });
        expect(response.status).toBe(200);
        const body = (await response.json()) as { outputs: Array<{ name: string; data: number[] }> };
        const scores = body.outputs[0].data;
        return scores.indexOf(Math.max(...scores)) === row.label;
      }),
    );
    const accuracy = answers.filter(Boolean).length / rows.length;
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'iris-iris.gate.json'), 'utf8'));
    expect(rows).toHaveLength(report.measurements.accuracy.samples);
    expect(accuracy).toBe(report.measurements.accuracy.value);

    // The eval set repeated as one request of about 200 KB: decoded and answered by the bundle's
    // codec worker (server/codec-worker.js), with the same labels.
    const repeat = 100;
    const batch = Array.from({ length: repeat }, () => rows.map((row) => row.inputs.input)).flat();
    const large = JSON.stringify({
      inputs: [{ name: 'input', shape: [batch.length, 4], datatype: 'FP32', data: batch }],
      outputs: [{ name: 'label' }],
    });
    expect(large.length).toBeGreaterThan(OFF_THREAD_BODY_BYTES);
    const response = await fetch(`${base}/v2/models/iris/infer`, { method: 'POST', body: large });
    expect(response.status, logs).toBe(200);
    const labels = ((await response.json()) as { outputs: Array<{ data: number[] }> }).outputs[0].data;
    expect(labels.slice(0, rows.length)).toEqual(labels.slice(-rows.length));
    expect(labels).toHaveLength(batch.length);

    child.kill('SIGTERM');
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code, logs).toBe(0);
    server = undefined;
  }, 60_000);
});
