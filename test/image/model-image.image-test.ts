/**
 * The generated image, built and run for real with podman (`npm run test:image`; see DEVELOPERS.md):
 * synthesize a ModelImage and an InferenceService for the Iris model, build the context with
 * `modelfab build --tool podman` on locally made base images, run the image the way the Deployment
 * runs it (its env, uid, read-only root with /tmp on tmpfs, no capabilities, the API key file
 * mounted), then talk to it over HTTP and stop it with SIGTERM.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceService, ModelImage } from '../../lib/cdk8s';
import { ensureBaseImages } from './base-images';
import {
  containerLogs,
  containerProcess,
  listImageFiles,
  modelfabBuild,
  podman,
  removeContainer,
  removeImage,
  type RunningContainer,
  startContainer,
  stopContainer,
  waitForReady,
} from './podman';

const ROOT = path.resolve(__dirname, '../..');
const IRIS_DIR = path.join(ROOT, 'examples/iris/model');
const API_KEY = 'image-test-key-5f0c2a9e';

interface ExpectedRow {
  inputs: { input: number[] };
  outputs: { probabilities: number[]; label: number };
}
/** The Iris eval rows with the training framework's outputs (`expected.jsonl`). */
const EXPECTED: ExpectedRow[] = fs
  .readFileSync(path.join(IRIS_DIR, 'expected.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as ExpectedRow);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-image-test-'));
let image: ModelImage;
let deployment: any;
let builtRef = '';
let container: RunningContainer | undefined;

/** The server container of the synthesized Deployment. */
function serverContainer(): any {
  return deployment.spec.template.spec.containers[0];
}

function authorized(headers: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${API_KEY}`, ...headers };
}

async function infer(rows: number[][], headers = authorized()): Promise<Response> {
  return fetch(`${container!.baseUrl}/v2/models/${image.modelName}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({
      id: 'iris-eval',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: rows.flat() }],
    }),
  });
}

beforeAll(async () => {
  const bases = await ensureBaseImages();

  const app = new App({ outdir: path.join(scratch, 'dist') });
  const chart = new Chart(app, 'iris', { namespace: 'ml' });
  image = new ModelImage(chart, 'image', {
    model: path.join(IRIS_DIR, 'iris.onnx'),
    repository: 'localhost/modelfab-image-test/iris',
  });
  new InferenceService(chart, 'iris', {
    image,
    resources: { cpu: '1', memory: '512Mi' },
    apiKey: { secretName: 'iris-api-key' },
  });
  app.synth();
  deployment = chart.toJson().find((object: any) => object.kind === 'Deployment');

  builtRef = await modelfabBuild({
    context: image.contextDir,
    buildArgs: { BUILDER_IMAGE: bases.builder, RUNTIME_IMAGE: bases.runtime },
  });

  // The Deployment's settings, its Secret as a file at the path its env names, its uid.
  const env: Record<string, string> = {};
  for (const { name, value } of serverContainer().env as Array<{ name: string; value: string }>)
    env[name] = value;
  const keyFile = path.join(scratch, 'api-key');
  fs.writeFileSync(keyFile, API_KEY, { mode: 0o644 });
  container = await startContainer({
    image: builtRef,
    user: deployment.spec.template.spec.securityContext.runAsUser,
    env,
    mounts: [{ source: keyFile, target: env.MODELFAB_API_KEY_FILE }],
  });
  await waitForReady(container, 60_000);
}, 20 * 60_000);

afterAll(async () => {
  if (container) await removeContainer(container.id);
  if (builtRef) await removeImage(builtRef);
  fs.rmSync(scratch, { recursive: true, force: true });
}, 120_000);

describe('the ModelImage built with podman', () => {
  it('is tagged with the reference the Deployment runs, non-root, with the model digest labelled', async () => {
    expect(builtRef).toBe(image.imageRef);
    expect(serverContainer().image).toBe(image.imageRef);
    const { stdout } = await podman(['image', 'inspect', '--format', '{{json .Config}}', builtRef]);
    const config = JSON.parse(stdout);
    expect(config.User).toBe('65532:65532');
    expect(config.Entrypoint).toEqual(['/nodejs/bin/node', '/app/server/main.js']);
    expect(config.Labels['dev.modelfab.model.sha256']).toBe(image.model.sha256);
    expect(config.ExposedPorts).toEqual({ '8080/tcp': {}, '9090/tcp': {} });
  });

  it('holds onnxruntime for linux/x64 only, and no shell', async () => {
    const files = await listImageFiles(builtRef);
    const bindings = files.filter((file) => file.endsWith('onnxruntime_binding.node'));
    expect(bindings).toEqual([
      'app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    ]);
    expect(
      files.filter((file) => /\.(dll|dylib)$/.test(file) || /\/(darwin|win32|arm64)\//.test(file)),
    ).toEqual([]);
    expect(files.filter((file) => /^(usr\/)?bin\/(ba|da)?sh$/.test(file))).toEqual([]);
    for (const file of ['app/server/main.js', 'app/model/iris.onnx', 'app/modelfab.json']) {
      expect(files).toContain(file);
    }
  });

  it('runs node on the server as uid/gid 65532 with no capabilities and no privilege escalation', async () => {
    const main = await containerProcess(container!.id);
    expect(main.command).toBe('/nodejs/bin/node /app/server/main.js');
    expect(main.uids).toEqual([65532, 65532, 65532, 65532]);
    expect(main.gids).toEqual([65532, 65532, 65532, 65532]);
    expect(main.capEff).toBe('0000000000000000');
    expect(main.noNewPrivs).toBe(true);
  });

  it('answers the server and model metadata', async () => {
    const server = await (await fetch(`${container!.baseUrl}/v2`, { headers: authorized() })).json();
    expect(server).toMatchObject({
      name: 'modelfab',
      extensions: expect.arrayContaining(['binary_tensor_data']),
    });
    const response = await fetch(`${container!.baseUrl}/v2/models/${image.modelName}`, {
      headers: authorized(),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      name: 'iris',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
    });
  });

  it('classifies every Iris eval row as the training framework did, one request per row and as one batch', async () => {
    const rows = EXPECTED.map((row) => row.inputs.input);
    // One request per row, all at once: the server batches them; each must get its own answer.
    const single = await Promise.all(rows.map((row) => infer([row])));
    const answers = await Promise.all(single.map((response) => response.json()));
    expect(single.map((response) => response.status)).toEqual(rows.map(() => 200));
    answers.forEach((answer: any, i) => {
      const label = answer.outputs.find((output: any) => output.name === 'label');
      expect(label).toEqual({
        name: 'label',
        datatype: 'INT64',
        shape: [1],
        data: [EXPECTED[i].outputs.label],
      });
      const probabilities = answer.outputs.find((output: any) => output.name === 'probabilities');
      probabilities.data.forEach((p: number, k: number) =>
        expect(Math.abs(p - EXPECTED[i].outputs.probabilities[k])).toBeLessThan(1e-5),
      );
    });

    const batch = await infer(rows);
    expect(batch.status).toBe(200);
    const body: any = await batch.json();
    expect(body.id).toBe('iris-eval');
    expect(body.outputs.find((output: any) => output.name === 'label').data).toEqual(
      EXPECTED.map((row) => row.outputs.label),
    );

    // The eval set 100 times in one request of about 200 KB: decoded and answered by the image's
    // codec worker thread (server/codec-worker.js), with the same labels.
    const many = await infer(Array.from({ length: 100 }, () => rows).flat());
    expect(many.status).toBe(200);
    const labels = ((await many.json()) as any).outputs.find((output: any) => output.name === 'label').data;
    expect(labels).toEqual(
      Array.from({ length: 100 }, () => EXPECTED.map((row) => row.outputs.label)).flat(),
    );
  });

  it('refuses inference without the mounted API key; health stays open', async () => {
    const denied = await infer([EXPECTED[0].inputs.input], {});
    expect(denied.status).toBe(401);
    expect(await denied.json()).toEqual({ error: expect.any(String) });
    expect((await infer([EXPECTED[0].inputs.input], { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await infer([EXPECTED[0].inputs.input], { 'x-api-key': API_KEY })).status).toBe(200);
    expect((await fetch(`${container!.baseUrl}/v2/health/live`)).status).toBe(200);
  });

  it('serves Prometheus metrics on the metrics port only', async () => {
    const response = await fetch(`${container!.metricsUrl}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    // Requests by model and status; a 401 is counted before the model is known (model="").
    const count = (model: string, code: number): number =>
      Number(
        new RegExp(`^modelfab_requests_total\\{model="${model}",code="${code}"\\} (\\d+)$`, 'm').exec(
          text,
        )?.[1],
      );
    expect(count('iris', 200)).toBeGreaterThanOrEqual(EXPECTED.length + 2);
    expect(count('', 401)).toBe(2);
    expect(text).toMatch(/^modelfab_batch_size_bucket/m);
    expect((await fetch(`${container!.baseUrl}/metrics`)).status).not.toBe(200);
  });

  it('keeps tensor data out of its logs', async () => {
    // Distinctive values, in an accepted request and in a rejected one (a 400 quotes what it received).
    expect((await infer([[7.123457, 3.1, 4.9, 1.7]])).status).toBe(200);
    const rejected = await fetch(`${container!.baseUrl}/v2/models/${image.modelName}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authorized() },
      body: JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [9.876543, 1, 2] }],
      }),
    });
    expect(rejected.status).toBe(400);
    const logs = await containerLogs(container!.id);
    expect(logs).toContain('"path":"/v2/models/iris/infer"');
    expect(logs).not.toContain('7.123457');
    expect(logs).not.toContain('9.876543');
    expect(logs).not.toContain(API_KEY);
  });

  it('logs one JSON object per line', async () => {
    const lines = (await containerLogs(container!.id)).split('\n').filter((line) => line.trim() !== '');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((line) => !/^\{.*\}$/.test(line))).toEqual([]);
  });

  it('on SIGTERM drains and exits 0 within the grace period', async () => {
    const podSpec = deployment.spec.template.spec;
    // podman stop sends SIGTERM at once; in the pod the preStop sleep comes first.
    const grace = podSpec.terminationGracePeriodSeconds - serverContainer().lifecycle.preStop.sleep.seconds;
    const { exitCode, seconds } = await stopContainer(container!.id, grace);
    expect(exitCode).toBe(0);
    expect(seconds).toBeLessThan(grace);
    const events = (await containerLogs(container!.id))
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line).event)
      .filter(Boolean);
    expect(events.slice(-3)).toEqual(['signal', 'draining', 'stopped']);
  });
});
