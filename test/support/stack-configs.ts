/**
 * The stack configs (stacks/Pulumi.<stack>.yaml) as the Pulumi CLI hands them to the program:
 * every top-level value a string, objects and lists as JSON, with the test's outdir and changes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { SHARED_IRIS_GATE } from './shared-gate';

const ROOT = path.resolve(__dirname, '../..');

/** A stack's config as parsed from its YAML, before it is handed over. */
export type StackConfig = Record<string, unknown>;

/** stacks/Pulumi.<stack>.yaml's config with `modelfab:outdir` set to `outdir`, then `change`d. */
export function stackConfigOf(
  stack: string,
  outdir: string,
  change: (config: StackConfig) => void = () => undefined,
): Record<string, string> {
  const file = parse(fs.readFileSync(path.join(ROOT, `stacks/Pulumi.${stack}.yaml`), 'utf8')) as {
    config: StackConfig;
  };
  const config: StackConfig = structuredClone(file.config);
  config['modelfab:outdir'] = outdir;
  change(config);
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [
      key,
      typeof value === 'string' ? value : JSON.stringify(value),
    ]),
  );
}

/**
 * stacks/Pulumi.dev.yaml's config with the shared Iris gate's budget, batch size and bound (the dev
 * stack's throughput threshold needs its full budget, so it is left out here; accuracy, parity and
 * cold start stay, as the shared gate has them): read from the run's shared cache.
 */
export function devStackConfig(
  outdir: string,
  change: (config: StackConfig) => void = () => undefined,
): Record<string, string> {
  return stackConfigOf('dev', outdir, (config) => {
    const gate = config['modelfab:gate'] as Record<string, unknown>;
    delete gate.minThroughputRps;
    const { latencyP99Ms, budgetSeconds, maxBatchSize } = SHARED_IRIS_GATE;
    Object.assign(gate, { latencyP99Ms, budgetSeconds, maxBatchSize });
    change(config);
  });
}
