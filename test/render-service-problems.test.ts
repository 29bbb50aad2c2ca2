/**
 * What fails a rendered service as a whole, in one list both engines report: gate verdicts, the
 * capacity plan (including an SLO that no measured capacity can size) and policy violations.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveInferenceService } from '../lib/core';
import { buildGateReport, type GateOutcome } from '../lib/gate';
import { inspectModel } from '../lib/model';
import { formatServiceProblems, renderInferenceService, serviceProblems } from '../lib/render';
import { gateMeasurements } from './support/gate-fixtures';

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
  const healthy = gateMeasurements();
  const setting = healthy.throughput.settings.find((x) => x.decision === 'within')!;
  const measurements = gateMeasurements({
    // Latency well within the bound: only the capacity plan can fail these services.
    latency: { bounds: { p99: { estimateMs: 5, lowerMs: 4.8, upperMs: 5.3, samples: 5000 } } },
    loneLatency: { p99: { estimateMs: 1, lowerMs: 0.9, upperMs: 1.2, samples: 500 } },
    throughput: {
      latencyBoundMs: 20,
      rps,
      decision: rps > 0 ? 'within' : 'beyond',
      settings: [
        {
          ...setting,
          rps,
          decision: rps > 0 ? 'within' : 'beyond',
          ...(rps > 0
            ? {}
            : { detail: '290 rps: p99 40 ms from 900 samples, beyond 20 ms with 95% confidence' }),
        },
      ],
    },
    servingConfig: { maxBatchSize: setting.maxBatchSize, maxQueueDelayMs: setting.maxQueueDelayMs },
  });
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
      'capacity plan failed: slo.targetRps 2000 needs the rate one replica sustains, but no serving setting held a rate with p99 shown within 20 ms (95% confidence); raise gate.budgetSeconds or resources.cpu, or relax latencyP99Ms',
    ]);
  });

  it('formats the problems as cdk8s prints its validation errors', () => {
    expect(formatServiceProblems('iris', ['a', 'b'])).toBe(
      'Validation failed with the following errors:\n  [iris] a\n  [iris] b',
    );
  });
});
