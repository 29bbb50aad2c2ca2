/**
 * The benchmark worker process: reads a GateWorkerRequest as JSON on stdin, measures, and writes
 * `{ "ok": true, "measurements": … }` or `{ "ok": false, "error": "…" }` as the last line of
 * stdout. Progress goes to stderr. Started by run-gate, never imported by the synth process.
 */
import * as fs from 'node:fs';
import { type GateWorkerRequest, measureModel } from './measure-model';

async function main(): Promise<void> {
  const request = JSON.parse(fs.readFileSync(0, 'utf8')) as GateWorkerRequest;
  const started = performance.now();
  // Each line says when it happened: a budget is easier to trust when its spending shows.
  const progress = (message: string) =>
    process.stderr.write(
      `modelfab gate: [${((performance.now() - started) / 1000).toFixed(1)} s] ${message}\n`,
    );
  try {
    const measurements = await measureModel(request, progress);
    process.stdout.write(`${JSON.stringify({ ok: true, measurements })}\n`);
  } catch (error) {
    process.stdout.write(
      `${JSON.stringify({ ok: false, error: error instanceof Error ? error.message : String(error) })}\n`,
    );
  }
}

void main().then(() => process.exit(0));
