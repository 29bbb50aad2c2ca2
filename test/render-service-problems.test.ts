/**
 * What fails a rendered service as a whole, in one list both engines report: gate verdicts, the
 * capacity plan (including an SLO that no measured capacity can size) and policy violations.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveInferenceService } from '../lib/core';
import { buildGateReport, type GateMeasurements, type GateOutcome } from '../lib/gate';
import { inspectModel } from '../lib/model';
import { formatServiceProblems, renderInferenceService, serviceProblems } from '../lib/render';

const IRIS = path.resolve(__dirname, '../examples/iris/model/iris.onnx');
const MODEL = inspectModel(IRIS);

/** A service with an SLO and a gate whose throughput search found `rps` per replica. */
function outcome(rps: number, maxReplicas = 10) {
  const spec = resolveInferenceService(
    {
      model: IRIS,
      image: 'ghcr.io/acme/iris:1.0.0',
      namespace: 'ml',
      gate: { latencyP99Ms: 20 },
      slo: { targetRps: 2000 },
      autoscaling: { maxReplicas },
    },
    { constructPath: 'prod/iris', id: 'iris' },
  );
  const measurements = {
    environment: {
      cpuModel: 'test',
      cores: 2,
      onnxruntimeVersion: '1.30.0',
      nodeVersion: 'v20.19.0',
      platform: 'linux-x64',
      intraOpThreads: 1,
      cpuLimitMillis: 1000,
      memoryLimitBytes: 2 ** 29,
    },
    coldStart: { sessionCreateMs: 30, firstInferenceMs: 3, totalMs: 33 },
    latency: {
      samples: 5000,
      p50Ms: 0.1,
      p90Ms: 0.15,
      p95Ms: 0.2,
      p99Ms: 0.3,
      p999Ms: 0.5,
      maxMs: 1,
      meanMs: 0.11,
      stable: true,
      spread: 0.02,
      detail: 'last 3 windows agree within 10%',
      windows: [],
      histogram: { edgesMs: [], counts: [] },
    },
    throughput: {
      latencyBoundMs: 20,
      rps,
      stable: rps > 0,
      settings: [
        {
          maxBatchSize: 1,
          maxQueueDelayMs: 0,
          rps,
          p99Ms: rps > 0 ? 5 : 40,
          samples: rps > 0 ? 900 : 0,
          stable: rps > 0,
        },
      ],
    },
    peakRssBytes: 2 ** 27,
    modelSizeBytes: MODEL.sizeBytes,
    servingConfig: { maxBatchSize: 1, maxQueueDelayMs: 0, intraOpThreads: 1, workers: 1 },
    durationMs: 20000,
  } as unknown as GateMeasurements;
  const report = buildGateReport({
    model: { name: 'iris', path: IRIS, sha256: MODEL.sha256, sizeBytes: MODEL.sizeBytes },
    gate: spec.gate!,
    slo: spec.slo!,
    measurements,
    cached: false,
  });
  const gate: GateOutcome = { status: report.passed ? 'passed' : 'failed', report };
  return { spec, gate, objects: renderInferenceService(spec, MODEL, gate) };
}

describe('serviceProblems', () => {
  it('is empty when the measured capacity carries the SLO within maxReplicas', () => {
    const { spec, gate, objects } = outcome(1000);
    expect(serviceProblems(spec, objects, gate)).toEqual([]);
  });

  it('reports a plan above maxReplicas', () => {
    const { spec, gate, objects } = outcome(100, 5);
    expect(serviceProblems(spec, objects, gate)).toEqual([
      'capacity plan failed: slo.targetRps 2000 needs 29 replicas at 100 rps each (measured) and 70% target utilization, above autoscaling.maxReplicas 5; raise maxReplicas or resources.cpu',
    ]);
  });

  it('fails an SLO when no rate held the bound: there is no capacity to size it with', () => {
    const { spec, gate, objects } = outcome(0);
    expect(gate.report.capacity).toBeUndefined();
    expect(serviceProblems(spec, objects, gate)).toEqual([
      "capacity plan failed: slo.targetRps 2000 needs the rate one replica sustains, but no batch setting held a rate with p99 within 20 ms over the gate's windows; raise gate.budgetSeconds or resources.cpu, or relax latencyP99Ms",
    ]);
  });

  it('formats the problems as cdk8s prints its validation errors', () => {
    expect(formatServiceProblems('iris', ['a', 'b'])).toBe(
      'Validation failed with the following errors:\n  [iris] a\n  [iris] b',
    );
  });
});
