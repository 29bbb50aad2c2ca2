/**
 * The gate cache: a report is reused when nothing that decides its numbers changed: the model's
 * bytes, the resolved gate (dataset files by content), the resources, the onnxruntime version and
 * the CPU model. One JSON file per key; a re-synth then costs a file read.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type GateSpec } from '../core';
import { type GateReport } from './gate-report';

/**
 * Bumped whenever the key's contents, the entry's layout or the way the gate measures change, so old
 * entries stop matching. 3: the throughput search probes every batch size and searches rates on the
 * best only (a setting may be `not searched`).
 */
export const GATE_CACHE_FORMAT_VERSION = 3;

/** What decides a gate's result. */
export interface GateCacheKeyInput {
  /** The model file's sha256. */
  readonly sha256: string;
  readonly gate: GateSpec;
  readonly resources: { readonly cpuMillis: number; readonly memoryBytes: number };
  readonly onnxruntimeVersion: string;
  readonly cpuModel: string;
  /** The server's environment from the Deployment (its settings decide what is served). */
  readonly serverEnv: Readonly<Record<string, string>>;
  /** How the server is held to the limits here (a quota and affinity measure differently). */
  readonly enforcement: { readonly cpu: string; readonly memory: string };
  /** The planned utilization: the operating rate the latency thresholds are measured at. */
  readonly targetUtilization: number;
}

/**
 * The cache key: the sha256 (hex) of a canonical JSON (keys sorted at every level, undefined values
 * dropped) of the inputs, the cache format version and the sha256 of each dataset file the gate
 * names (accuracy.dataset, parity.dataset, inputDataset), so editing a dataset changes the key while
 * the order of keys in the spec does not. A dataset that cannot be read is keyed as `unreadable`
 * (the benchmark then reports the problem; failed gates are not cached).
 */
export function gateCacheKey(input: GateCacheKeyInput): string {
  const datasets: Record<string, string> = {};
  const files = {
    'accuracy.dataset': input.gate.accuracy?.dataset,
    'parity.dataset': input.gate.parity?.dataset,
    inputDataset: input.gate.inputDataset,
  };
  for (const [prop, file] of Object.entries(files)) {
    if (file !== undefined) datasets[prop] = fileSha256(file);
  }
  const document = {
    formatVersion: GATE_CACHE_FORMAT_VERSION,
    sha256: input.sha256,
    gate: input.gate,
    datasets,
    resources: { cpuMillis: input.resources.cpuMillis, memoryBytes: input.resources.memoryBytes },
    onnxruntimeVersion: input.onnxruntimeVersion,
    cpuModel: input.cpuModel,
    serverEnv: input.serverEnv,
    enforcement: input.enforcement,
    targetUtilization: input.targetUtilization,
  };
  return createHash('sha256').update(canonicalJson(document)).digest('hex');
}

/**
 * JSON with object keys sorted at every level and undefined properties dropped, so equal data gives
 * equal text whatever the key order.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) sorted[key] = (v as Record<string, unknown>)[key];
    return sorted;
  });
}

function fileSha256(file: string): string {
  try {
    return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  } catch {
    return 'unreadable';
  }
}

/** The cache directory: `$MODELFAB_CACHE_DIR` when set, else `.modelfab-cache` in the current directory. */
export function defaultCacheDir(): string {
  const fromEnv = process.env.MODELFAB_CACHE_DIR;
  return fromEnv !== undefined && fromEnv !== ''
    ? path.resolve(fromEnv)
    : path.join(process.cwd(), '.modelfab-cache');
}

/** The file of one entry. */
function entryPath(dir: string, key: string): string {
  if (!/^[0-9a-f]{64}$/.test(key)) {
    throw new Error(
      `gate cache key must be 64 lower-case hex characters (a sha256), received ${JSON.stringify(key)}`,
    );
  }
  return path.join(dir, `${key}.gate.json`);
}

/** What an entry file holds. */
interface CacheEntry {
  readonly formatVersion: number;
  readonly key: string;
  readonly report: GateReport;
}

/**
 * The cached report for a key, marked `cached: true`; undefined on a miss. A missing, unreadable,
 * corrupt or foreign entry (another format version or key, not a gate report) is a miss, never an error.
 */
export function readCachedReport(dir: string, key: string): GateReport | undefined {
  const file = entryPath(dir, key);
  let entry: unknown;
  try {
    entry = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (!isEntry(entry, key)) return undefined;
  return { ...entry.report, cached: true };
}

function isEntry(value: unknown, key: string): value is CacheEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Partial<Record<keyof CacheEntry, unknown>>;
  if (entry.formatVersion !== GATE_CACHE_FORMAT_VERSION || entry.key !== key) return false;
  const report = entry.report as Partial<Record<keyof GateReport, unknown>> | null | undefined;
  return (
    typeof report === 'object' &&
    report !== null &&
    report.schemaVersion === 1 &&
    typeof report.passed === 'boolean' &&
    Array.isArray(report.verdicts) &&
    typeof report.measurements === 'object' &&
    report.measurements !== null &&
    typeof report.model === 'object' &&
    report.model !== null
  );
}

/**
 * Stores a report under a key atomically: written to a temporary file in `dir` (created when
 * missing) and renamed over the entry, so a reader never sees half a file. Stored with `cached: false`.
 */
export function writeCachedReport(dir: string, key: string, report: GateReport): void {
  const file = entryPath(dir, key);
  fs.mkdirSync(dir, { recursive: true });
  const entry: CacheEntry = {
    formatVersion: GATE_CACHE_FORMAT_VERSION,
    key,
    report: { ...report, cached: false },
  };
  const temp = path.join(dir, `.${key}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    fs.writeFileSync(temp, `${JSON.stringify(entry)}\n`);
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}
