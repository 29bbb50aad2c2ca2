import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Chart, JsonPatch } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceService, type InferenceServiceProps } from '../lib/cdk8s';
import { type ModelImageSource } from '../lib/core';
import { checkPolicy, type KubeObject } from '../lib/render';
import { validateAgainstSchema } from './support/kube-schema';

const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');
const BASE: InferenceServiceProps = { model: IRIS, image: 'ghcr.io/acme/iris:1.0.0' };

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'modelfab-cdk8s-'));
beforeAll(() => {
  const bytes = fs.readFileSync(IRIS);
  fs.writeFileSync(path.join(scratch, 'truncated.onnx'), bytes.subarray(0, Math.floor(bytes.length / 2)));
  fs.writeFileSync(
    path.join(scratch, 'not-a-model.onnx'),
    JSON.stringify({ hello: 'world', weights: [1, 2, 3] }),
  );
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** Synthesizes one service in chart `prod` (namespace ml) into a fresh outdir. */
function synth(props: InferenceServiceProps, id = 'iris') {
  const outdir = fs.mkdtempSync(path.join(scratch, 'out-'));
  const app = new App({ outdir });
  const chart = new Chart(app, 'prod', { namespace: 'ml' });
  const service = new InferenceService(chart, id, props);
  app.synth();
  const objects = chart.toJson() as KubeObject[];
  return { outdir, service, objects, find: (kind: string) => objects.find((o) => o.kind === kind) as any };
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

describe('InferenceService objects', () => {
  it('renders the full set, each valid against its Kubernetes schema, with zero policy violations', async () => {
    const { objects, outdir } = synth({
      ...BASE,
      ingress: { hosts: ['iris.example.com'], tls: { clusterIssuer: 'le' } },
    });
    expect(objects.map((o) => o.kind)).toEqual([
      'ServiceAccount',
      'Service',
      'Deployment',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'NetworkPolicy',
      'Ingress',
    ]);
    for (const object of objects) await validateAgainstSchema(object);
    expect(checkPolicy(objects).violations).toEqual([]);
    expect(filesUnder(outdir)).toEqual(['prod.k8s.yaml']);
  });

  it('is checked by a schema validator that does reject broken objects', async () => {
    const deployment = structuredClone(synth(BASE).find('Deployment'));
    deployment.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    await expect(validateAgainstSchema(deployment)).rejects.toThrow(/containerPort/);
    delete deployment.spec.selector;
    await expect(validateAgainstSchema(deployment)).rejects.toThrow(/selector/);
  });

  it('exposes the endpoint: namespace-qualified when the namespace is known, else the short name', () => {
    expect(synth(BASE).service.url).toBe('http://iris.ml.svc.cluster.local:8080');
    const app = new App({ outdir: fs.mkdtempSync(path.join(scratch, 'out-')) });
    const service = new InferenceService(new Chart(app, 'plain'), 'iris', BASE);
    expect([service.namespace, service.url]).toEqual([undefined, 'http://iris:8080']);
  });

  it('names every object after the construct id, in the chart namespace, with the standard labels', () => {
    const { objects } = synth({ ...BASE, labels: { team: 'ml-platform' } });
    for (const object of objects) {
      expect(object.metadata.name).toBe('iris');
      expect(object.metadata.namespace).toBe('ml');
      expect(object.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': 'iris',
        'app.kubernetes.io/instance': 'iris',
        'app.kubernetes.io/component': 'inference',
        'app.kubernetes.io/managed-by': 'modelfab',
        team: 'ml-platform',
      });
    }
  });

  it('pins the model digest in an annotation and the container environment, so a new model rolls the pods', () => {
    const sha256 = crypto.createHash('sha256').update(fs.readFileSync(IRIS)).digest('hex');
    const { find } = synth(BASE);
    const deployment = find('Deployment');
    expect(deployment.metadata.annotations['modelfab.dev/model-sha256']).toBe(sha256);
    expect(deployment.spec.template.metadata.annotations['modelfab.dev/model-sha256']).toBe(sha256);
    const env = deployment.spec.template.spec.containers[0].env;
    expect(env).toContainEqual({ name: 'MODELFAB_MODEL_SHA256', value: sha256 });
    expect(deployment.metadata.labels['app.kubernetes.io/version']).toBe(sha256.slice(0, 12));

    const other = path.join(scratch, 'iris-v2.onnx');
    fs.writeFileSync(other, Buffer.concat([fs.readFileSync(IRIS)]));
    fs.appendFileSync(other, Buffer.from([0x22, 0x00])); // an empty doc_string field: same graph, new bytes
    const changed = synth({ ...BASE, model: other }).find('Deployment');
    expect(changed.spec.template.metadata.annotations['modelfab.dev/model-sha256']).not.toBe(sha256);
  });

  it('runs restricted: uid 65532, no escalation, all capabilities dropped, seccomp, read-only root with /tmp', () => {
    const pod = synth(BASE).find('Deployment').spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.automountServiceAccountToken).toBe(false);
    const container = pod.containers[0];
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '1Gi' } });
  });

  it('sets requests equal to limits by default and honours explicit limits', () => {
    const guaranteed = synth({ ...BASE, resources: { cpu: '1500m', memory: '1.5Gi' } }).find('Deployment');
    expect(guaranteed.spec.template.spec.containers[0].resources).toEqual({
      requests: { cpu: '1500m', memory: '1536Mi' },
      limits: { cpu: '1500m', memory: '1536Mi' },
    });
    const burstable = synth({
      ...BASE,
      resources: { cpu: '500m', memory: '512Mi', limits: { cpu: '2' } },
    }).find('Deployment');
    expect(burstable.spec.template.spec.containers[0].resources.limits).toEqual({
      cpu: '2',
      memory: '512Mi',
    });
    expect(burstable.spec.template.spec.containers[0].env).toContainEqual({
      name: 'MODELFAB_INTRA_OP_THREADS',
      value: '2',
    });
  });

  it('probes the Open Inference Protocol health paths and drains within the grace period', () => {
    const container = synth({
      ...BASE,
      shutdown: { preStopSleepSeconds: 7, drainSeconds: 30 },
      startupTimeoutSeconds: 300,
    }).find('Deployment').spec.template.spec;
    const server = container.containers[0];
    expect(server.readinessProbe.httpGet).toMatchObject({ path: '/v2/health/ready', port: 'http' });
    expect(server.livenessProbe.httpGet).toMatchObject({ path: '/v2/health/live', port: 'http' });
    expect(server.startupProbe.periodSeconds * server.startupProbe.failureThreshold).toBe(300);
    expect(server.lifecycle.preStop).toEqual({ sleep: { seconds: 7 } });
    expect(container.terminationGracePeriodSeconds).toBe(7 + 30 + 5);
    expect(server.env).toContainEqual({ name: 'MODELFAB_DRAIN_SECONDS', value: '30' });
  });

  it('spreads pods over zones and hosts', () => {
    const constraints = synth(BASE).find('Deployment').spec.template.spec.topologySpreadConstraints;
    expect(constraints.map((c: { topologyKey: string }) => c.topologyKey)).toEqual([
      'topology.kubernetes.io/zone',
      'kubernetes.io/hostname',
    ]);
  });

  it('autoscales with autoscaling/v2 and leaves the replica count to the HPA', () => {
    const { find } = synth({
      ...BASE,
      autoscaling: { minReplicas: 3, maxReplicas: 7, cpuUtilization: 60, memoryUtilization: 80 },
    });
    expect(find('Deployment').spec.replicas).toBeUndefined();
    const hpa = find('HorizontalPodAutoscaler');
    expect(hpa.spec).toMatchObject({
      minReplicas: 3,
      maxReplicas: 7,
      scaleTargetRef: { kind: 'Deployment', name: 'iris' },
    });
    expect(hpa.spec.metrics).toEqual([
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } },
      },
      {
        type: 'Resource',
        resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 80 } },
      },
    ]);
  });

  it('with fixed replicas renders no HPA and sets spec.replicas', () => {
    const { find, objects } = synth({ ...BASE, replicas: 3 });
    expect(find('HorizontalPodAutoscaler')).toBeUndefined();
    expect(find('Deployment').spec.replicas).toBe(3);
    expect(checkPolicy(objects).violations).toEqual([]);
  });

  it('admits only the serving and metrics ports, by default from the same namespace', () => {
    const policy = synth(BASE).find('NetworkPolicy');
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.spec.ingress).toEqual([
      { from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] },
      { from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 9090 }] },
    ]);
  });

  it('admits the peers the user allows, and the ingress controller when an Ingress is rendered', () => {
    const policy = synth({
      ...BASE,
      port: 8000,
      networkPolicy: {
        allowFrom: [
          { namespaceLabels: { team: 'web' }, podLabels: { role: 'api' } },
          { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] },
        ],
        metricsFrom: [{ namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }],
      },
    }).find('NetworkPolicy');
    expect(policy.spec.ingress[0]).toEqual({
      from: [
        {
          podSelector: { matchLabels: { role: 'api' } },
          namespaceSelector: { matchLabels: { team: 'web' } },
        },
        { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
      ],
      ports: [{ protocol: 'TCP', port: 8000 }],
    });
    const withIngress = synth({ ...BASE, ingress: { controllerNamespace: 'traefik' } }).find('NetworkPolicy');
    expect(withIngress.spec.ingress[0].from).toContainEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'traefik' } },
    });
  });

  it('renders the Ingress with TLS, the ingress class and the cert-manager issuer', () => {
    const ingress = synth({
      ...BASE,
      ingress: {
        hosts: ['iris.example.com', 'api.example.com'],
        className: 'nginx',
        tls: { clusterIssuer: 'letsencrypt' },
      },
    }).find('Ingress');
    expect(ingress.metadata.annotations['cert-manager.io/cluster-issuer']).toBe('letsencrypt');
    expect(ingress.spec.ingressClassName).toBe('nginx');
    expect(ingress.spec.tls).toEqual([
      { hosts: ['iris.example.com', 'api.example.com'], secretName: 'iris-tls' },
    ]);
    expect(ingress.spec.rules.map((r: { host: string }) => r.host)).toEqual([
      'iris.example.com',
      'api.example.com',
    ]);
    expect(ingress.spec.rules[0].http.paths[0].backend).toEqual({
      service: { name: 'iris', port: { name: 'http' } },
    });
  });

  it('passes user env after its own settings and records policy waivers', () => {
    const { find, objects } = synth({
      ...BASE,
      image: 'ghcr.io/acme/iris:latest',
      env: { LOG_LEVEL: 'debug' },
      policy: { waive: { 'image-tag': 'dev cluster follows latest' } },
    });
    const deployment = find('Deployment');
    expect(deployment.spec.template.spec.containers[0].env.at(-1)).toEqual({
      name: 'LOG_LEVEL',
      value: 'debug',
    });
    expect(JSON.parse(deployment.metadata.annotations['modelfab.dev/policy-waivers'])).toEqual({
      'image-tag': 'dev cluster follows latest',
    });
    const result = checkPolicy(objects, { 'image-tag': 'dev cluster follows latest' });
    expect(result.violations).toEqual([]);
    expect(result.waived.map((w) => w.rule)).toEqual(['image-tag']);
  });
});

/** What a ModelImage hands to InferenceService, without building one. */
function imageSource(runtime: 'modelfab' | 'triton'): ModelImageSource {
  return {
    imageRef: 'ghcr.io/acme/iris:0123456789abcdef',
    modelPath: IRIS,
    runtime,
    modelName: 'iris-classifier',
    modelVersion: '3',
  };
}

describe('InferenceService with a ModelImage and an API key', () => {
  it("runs the image, serves the image's model name and leaves model out", async () => {
    const { find, objects } = synth({ image: imageSource('modelfab') });
    const container = find('Deployment').spec.template.spec.containers[0];
    expect(container.image).toBe('ghcr.io/acme/iris:0123456789abcdef');
    expect(container.env).toContainEqual({ name: 'MODELFAB_MODEL_NAME', value: 'iris-classifier' });
    expect(find('Service').metadata.labels['app.kubernetes.io/name']).toBe('iris-classifier');
    for (const object of objects) await validateAgainstSchema(object);
    expect(checkPolicy(objects).violations).toEqual([]);
  });

  it('follows the triton runtime: its ports, its user, no modelfab environment', async () => {
    const { find, objects } = synth({ image: imageSource('triton') });
    const pod = find('Deployment').spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 });
    expect(pod.containers[0].ports).toEqual([
      { name: 'http', containerPort: 8000, protocol: 'TCP' },
      { name: 'metrics', containerPort: 8002, protocol: 'TCP' },
    ]);
    expect(pod.containers[0].env).toEqual([]);
    expect(pod.containers[0].readinessProbe.httpGet.path).toBe('/v2/health/ready');
    expect(find('Service').spec.ports.map((p: { port: number }) => p.port)).toEqual([8000, 8002]);
    for (const object of objects) await validateAgainstSchema(object);
    expect(checkPolicy(objects).violations).toEqual([]);
  });

  it('mounts the API key Secret read-only and points the server at the file', async () => {
    const { find, objects } = synth({ ...BASE, apiKey: { secretName: 'iris-api-key', key: 'token' } });
    const pod = find('Deployment').spec.template.spec;
    expect(pod.volumes).toContainEqual({
      name: 'api-key',
      secret: { secretName: 'iris-api-key', items: [{ key: 'token', path: 'api-key' }], defaultMode: 0o440 },
    });
    expect(pod.containers[0].volumeMounts).toContainEqual({
      name: 'api-key',
      mountPath: '/var/run/secrets/modelfab/api-key',
      readOnly: true,
    });
    expect(pod.containers[0].env).toContainEqual({
      name: 'MODELFAB_API_KEY_FILE',
      value: '/var/run/secrets/modelfab/api-key/api-key',
    });
    for (const object of objects) await validateAgainstSchema(object);
    expect(checkPolicy(objects).violations).toEqual([]);
  });
});

describe('InferenceService bad input', () => {
  const cases: Array<{
    name: string;
    props: () => Partial<InferenceServiceProps> & Record<string, unknown>;
    message: RegExp;
  }> = [
    {
      name: 'zero replicas',
      props: () => ({ replicas: 0 }),
      message: /replicas must be an integer from 1 to 10000, got 0/,
    },
    { name: 'negative replicas', props: () => ({ replicas: -2 }), message: /replicas .* got -2/ },
    { name: 'fractional replicas', props: () => ({ replicas: 1.5 }), message: /replicas .* got 1\.5/ },
    {
      name: 'minReplicas above maxReplicas',
      props: () => ({ autoscaling: { minReplicas: 5, maxReplicas: 2 } }),
      message: /autoscaling\.minReplicas 5 is greater than autoscaling\.maxReplicas 2/,
    },
    {
      name: 'replicas together with autoscaling',
      props: () => ({ replicas: 3, autoscaling: { maxReplicas: 4 } }),
      message: /replicas 3 and autoscaling are both set/,
    },
    {
      name: 'unreachable cpu utilization',
      props: () => ({ autoscaling: { cpuUtilization: 150 } }),
      message: /autoscaling\.cpuUtilization must be an integer from 1 to 100, got 150/,
    },
    {
      name: 'malformed cpu',
      props: () => ({ resources: { cpu: '1.5x' } }),
      message: /resources\.cpu "1\.5x" is not valid/,
    },
    {
      name: 'cpu finer than 1m',
      props: () => ({ resources: { cpu: '0.0001' } }),
      message: /resources\.cpu "0\.0001" .*finer than 1m/,
    },
    {
      name: 'malformed memory',
      props: () => ({ resources: { memory: '512MB' } }),
      message: /resources\.memory "512MB" is not valid/,
    },
    {
      name: 'limit below request',
      props: () => ({ resources: { memory: '1Gi', limits: { memory: '512Mi' } } }),
      message: /resources\.limits\.memory 512Mi is below the request 1Gi/,
    },
    {
      name: 'port out of range',
      props: () => ({ port: 70000 }),
      message: /port must be an integer from 1 to 65535, got 70000/,
    },
    { name: 'port zero', props: () => ({ port: 0 }), message: /port .* got 0/ },
    {
      name: 'metrics port equal to port',
      props: () => ({ port: 9090 }),
      message: /metricsPort 9090 equals port 9090/,
    },
    {
      name: 'missing model file',
      props: () => ({ model: path.join(scratch, 'nope.onnx') }),
      message: new RegExp(`model: .*${escape(path.join(scratch, 'nope.onnx'))}`),
    },
    {
      name: 'truncated model',
      props: () => ({ model: path.join(scratch, 'truncated.onnx') }),
      message: new RegExp(
        `model: .*truncated.*${escape(path.join(scratch, 'truncated.onnx'))}|model: .*${escape(path.join(scratch, 'truncated.onnx'))}.*truncated`,
      ),
    },
    {
      name: 'non-ONNX file',
      props: () => ({ model: path.join(scratch, 'not-a-model.onnx') }),
      message: /model: .*not-a-model\.onnx.*not an onnx model|model: .*not an onnx model.*not-a-model\.onnx/,
    },
    {
      name: 'invalid DNS-1123 name',
      props: () => ({ name: 'Iris_Service' }),
      message: /name "Iris_Service" is not a valid object name/,
    },
    {
      name: 'name over 63 characters',
      props: () => ({ name: 'a'.repeat(64) }),
      message: new RegExp(`name "${'a'.repeat(64)}" is not a valid`),
    },
    {
      name: 'invalid namespace',
      props: () => ({ namespace: 'ML' }),
      message: /namespace "ML" is not a valid namespace/,
    },
    {
      name: 'TLS without hosts',
      props: () => ({ ingress: { tls: { clusterIssuer: 'letsencrypt' } } }),
      message: /ingress\.tls is set but ingress\.hosts is \[\]/,
    },
    {
      name: 'invalid ingress host',
      props: () => ({ ingress: { hosts: ['Iris..example'] } }),
      message: /ingress\.hosts entry "Iris\.\.example"/,
    },
    {
      name: 'both cert-manager issuers',
      props: () => ({ ingress: { hosts: ['a.example.com'], tls: { issuer: 'a', clusterIssuer: 'b' } } }),
      message: /sets both clusterIssuer "b" and issuer "a"/,
    },
    {
      name: 'waiving an unknown rule',
      props: () => ({ policy: { waive: { 'no-such-rule': 'because' } } }),
      message: /policy\.waive names unknown rule "no-such-rule"; known rules: .*image-tag/,
    },
    {
      name: 'waiver without a reason',
      props: () => ({ policy: { waive: { 'image-tag': ' ' } } }),
      message: /policy\.waive\["image-tag"\] needs a reason/,
    },
    {
      name: 'uppercase image',
      props: () => ({ image: 'ghcr.io/acme/Iris:1.0' }),
      message: /image "ghcr\.io\/acme\/Iris:1\.0" is not a valid image reference/,
    },
    {
      name: 'reserved env name',
      props: () => ({ env: { MODELFAB_PORT: '1' } }),
      message: /env name "MODELFAB_PORT" is reserved/,
    },
    {
      name: 'invalid env name',
      props: () => ({ env: { '1BAD': 'x' } }),
      message: /env name "1BAD" is not a valid/,
    },
    {
      name: 'overriding a managed label',
      props: () => ({ labels: { 'app.kubernetes.io/name': 'other' } }),
      message: /labels sets "app\.kubernetes\.io\/name", which modelfab manages/,
    },
    {
      name: 'invalid label value',
      props: () => ({ labels: { team: 'ml platform' } }),
      message: /labels\["team"\] has an invalid label value "ml platform"/,
    },
    {
      name: 'peer with cidr and labels',
      props: () => ({ networkPolicy: { allowFrom: [{ cidr: '10.0.0.0/8', podLabels: { a: 'b' } }] } }),
      message: /networkPolicy\.allowFrom\[0\] sets cidr "10\.0\.0\.0\/8" together with labels/,
    },
    {
      name: 'malformed cidr',
      props: () => ({ networkPolicy: { allowFrom: [{ cidr: '10.0.0.0/33' }] } }),
      message: /cidr "10\.0\.0\.0\/33" is not a cidr/,
    },
    {
      name: 'empty peer list',
      props: () => ({ networkPolicy: { allowFrom: [] } }),
      message: /networkPolicy\.allowFrom must be a non-empty list of peers, got \[\]/,
    },
    {
      name: 'an image that is neither a reference nor a ModelImage',
      props: () => ({ image: { repository: 'ghcr.io/acme/iris' } as never }),
      message:
        /image must be a ModelImage or an image reference string, got \{"repository":"ghcr\.io\/acme\/iris"\}/,
    },
    {
      name: 'no model with an image reference',
      props: () => ({ model: undefined }),
      message: /model .*or pass a ModelImage as image/,
    },
    {
      name: "a model other than the ModelImage's",
      props: () => ({ image: imageSource('modelfab'), model: 'other/model.onnx' }),
      message: /model "other\/model\.onnx" is not the ModelImage's model .*; remove model/,
    },
    {
      name: 'a changed port with the triton runtime',
      props: () => ({ image: imageSource('triton'), model: undefined, port: 8080 }),
      message: /port 8080 cannot be changed with the triton runtime, which listens on 8000; remove port/,
    },
    {
      name: 'an api key with the triton runtime',
      props: () => ({ image: imageSource('triton'), model: undefined, apiKey: { secretName: 'iris-key' } }),
      message: /apiKey is not supported with the "triton" runtime/,
    },
    {
      name: 'an invalid api key secret name',
      props: () => ({ apiKey: { secretName: 'Iris_Key' } }),
      message: /apiKey\.secretName "Iris_Key" is not a valid secret name/,
    },
    {
      name: 'a typo in a prop name',
      props: () => ({ autoscalling: { maxReplicas: 4 } }),
      message: /^\[prod\/iris\] autoscalling is not a prop of InferenceService; did you mean autoscaling\?$/,
    },
    {
      name: 'a typo in a nested prop name',
      props: () => ({ gate: { latencyP99ms: 20 } as never }),
      message: /gate\.latencyP99ms is not a prop of InferenceService; did you mean gate\.latencyP99Ms\?$/,
    },
    {
      name: 'a typo inside a list of peers',
      props: () => ({ networkPolicy: { allowFrom: [{ podLabel: { app: 'gw' } } as never] } }),
      message:
        /networkPolicy\.allowFrom\[0\]\.podLabel is not a prop of InferenceService; did you mean networkPolicy\.allowFrom\[0\]\.podLabels\?$/,
    },
    {
      name: 'a prop no name is near',
      props: () => ({ telemetry: true }),
      message:
        /telemetry is not a prop of InferenceService; remove it \(known: model, image, name, namespace, /,
    },
  ];

  it('has at least 12 cases', () => expect(cases.length).toBeGreaterThanOrEqual(12));

  it.each(cases)(
    '$name: the error names the construct path and the value, and nothing is written',
    ({ props, message }) => {
      const outdir = fs.mkdtempSync(path.join(scratch, 'bad-'));
      let error: unknown;
      try {
        const app = new App({ outdir });
        new InferenceService(new Chart(app, 'prod', { namespace: 'ml' }), 'iris', {
          ...BASE,
          ...props(),
        });
        app.synth();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/^\[prod\/iris\] /);
      expect((error as Error).message).toMatch(message);
      expect(filesUnder(outdir)).toEqual([]);
    },
  );

  it('an invalid construct id as the default name says to set name', () => {
    expect(() => synth(BASE, 'Iris')).toThrow(/\[prod\/Iris\] name "Iris" .*set name explicitly/);
  });

  it('a policy violation fails synth with the rule id, the object and the fix, and writes nothing', () => {
    const outdir = fs.mkdtempSync(path.join(scratch, 'policy-'));
    const app = new App({ outdir });
    new InferenceService(new Chart(app, 'prod', { namespace: 'ml' }), 'iris', {
      ...BASE,
      image: 'ghcr.io/acme/iris',
    });
    expect(() => app.synth()).toThrow(
      /\[prod\/iris\] policy image-tag failed on Deployment\/ml\/iris: container "server" has untagged image "ghcr\.io\/acme\/iris"; use an explicit version tag .*waive: \{ 'image-tag'/,
    );
    expect(filesUnder(outdir)).toEqual([]);
  });
});

describe('InferenceService policy on what is synthesized', () => {
  it('a container patched to privileged through the escape hatch fails synth with pss-privileged', () => {
    const outdir = fs.mkdtempSync(path.join(scratch, 'patched-'));
    const app = new App({ outdir });
    const service = new InferenceService(new Chart(app, 'prod', { namespace: 'ml' }), 'iris', BASE);
    const deployment = service.objects.find((o) => o.kind === 'Deployment')!;
    deployment.addJsonPatch(
      JsonPatch.add('/spec/template/spec/containers/0/securityContext/privileged', true),
    );
    expect(() => app.synth()).toThrow(
      /\[prod\/iris\] policy pss-privileged failed on Deployment\/ml\/iris: /,
    );
    expect(filesUnder(outdir)).toEqual([]);
  });

  it('a patch that keeps the pod restricted synthesizes, with the patch applied', () => {
    const { objects } = synthWith((service) =>
      service.objects
        .find((o) => o.kind === 'Deployment')!
        .addJsonPatch(JsonPatch.add('/metadata/annotations/team', 'ml-platform')),
    );
    expect(objects.find((o) => o.kind === 'Deployment')!.metadata.annotations).toMatchObject({
      team: 'ml-platform',
    });
  });
});

/** Synthesizes the BASE service after `patch` has changed it through the escape hatch. */
function synthWith(patch: (service: InferenceService) => void) {
  const app = new App({ outdir: fs.mkdtempSync(path.join(scratch, 'patched-')) });
  const chart = new Chart(app, 'prod', { namespace: 'ml' });
  patch(new InferenceService(chart, 'iris', BASE));
  app.synth();
  return { objects: chart.toJson() as KubeObject[] };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
