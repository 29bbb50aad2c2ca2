// The Iris classifier as a production inference service: `npm run synth` (from the repo root)
// writes the manifests to examples/iris/dist/. Paths are relative to this folder, where cdk8s runs.
import { App, Chart } from 'cdk8s';
import { InferenceService, ModelImage } from 'modelfab/cdk8s';

const app = new App();
const chart = new Chart(app, 'iris', { namespace: 'ml' });

// The server and the model as one image. Its build context lands in dist/iris-image.image/ and its
// tag is the hash of that context: `npx modelfab build dist/iris-image.image --push` builds and
// pushes exactly the reference the Deployment runs.
const image = new ModelImage(chart, 'image', {
  model: 'model/iris.onnx',
  repository: 'ghcr.io/acme/iris',
});

new InferenceService(chart, 'iris', {
  image,
  resources: { cpu: '1', memory: '512Mi' },
  // minReplicas comes from the capacity plan: slo.targetRps over the throughput the gate measures.
  autoscaling: { maxReplicas: 10, cpuUtilization: 70 },
  // Benchmarked when this runs: the image's server, in a 1-CPU quota, over loopback HTTP; synth
  // fails if a threshold is missed. Reports land beside the manifests in dist/ (iris-iris.gate.md,
  // .json, .svg).
  gate: {
    latencyP99Ms: 20,
    minThroughputRps: 300,
    accuracy: { dataset: 'model/eval.jsonl', metric: 'top1', min: 0.9 },
    parity: { dataset: 'model/expected.jsonl', atol: 1e-5, rtol: 1e-4 },
    maxColdStartMs: 2000,
    budgetSeconds: 8, // a small model decides quickly; the default is 20
  },
  slo: { targetRps: 2000, targetUtilization: 0.7 },
  networkPolicy: {
    // The API gateway's namespace may call the model; Prometheus in `monitoring` may scrape it.
    allowFrom: [{ namespaceLabels: { 'kubernetes.io/metadata.name': 'gateway' } }],
    metricsFrom: [{ namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }],
  },
  ingress: {
    hosts: ['iris.example.com'],
    className: 'nginx',
    tls: { clusterIssuer: 'letsencrypt' },
  },
  labels: { 'app.kubernetes.io/part-of': 'iris-demo' },
  // A ServiceMonitor, alert rules whose thresholds are the gate's figures (latency over the 20 ms bound,
  // a replica above its measured capacity × 0.7, …) and a Grafana dashboard, for kube-prometheus-stack.
  monitoring: { prometheusLabels: { release: 'kube-prometheus-stack' } },
});

app.synth();
