/**
 * `npm run bench -- <name>`: runs one benchmark (or all, with no name) and prints its figures.
 * Benchmarks compare against a baseline measured in the same run, because this machine is noisy.
 */
import { benchGate } from './gate.bench';
import { benchGateVsServer } from './gate-vs-server.bench';
import { benchOverload } from './overload.bench';
import { benchServer } from './server.bench';
import { benchSynth } from './synth.bench';

const BENCHMARKS: Record<string, () => Promise<void> | void> = {
  synth: benchSynth,
  gate: benchGate,
  'gate-vs-server': benchGateVsServer,
  server: benchServer,
  overload: benchOverload,
};

async function main(): Promise<void> {
  const names = process.argv.slice(2);
  const unknown = names.filter((n) => !(n in BENCHMARKS));
  if (unknown.length > 0) {
    console.error(
      `unknown benchmark ${unknown.join(', ')}; available: ${Object.keys(BENCHMARKS).join(', ')}`,
    );
    process.exit(2);
  }
  for (const name of names.length > 0 ? names : Object.keys(BENCHMARKS)) {
    await BENCHMARKS[name]();
  }
}

void main();
