// The Iris classifier as a production inference service: `npm run synth` (from the repo root)
// writes the manifests to examples/iris/dist/. Paths are relative to this folder, where cdk8s runs.
import { App, Chart } from 'cdk8s';
import { InferenceService } from 'modelfab/cdk8s';

const app = new App();
const chart = new Chart(app, 'iris', { namespace: 'ml' });

new InferenceService(chart, 'iris', {
  model: 'model/iris.onnx',
  image: 'ghcr.io/acme/iris:1.0.0',
  resources: { cpu: '1', memory: '512Mi' },
  autoscaling: { minReplicas: 2, maxReplicas: 10, cpuUtilization: 70 },
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
});

app.synth();
