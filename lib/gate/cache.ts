/**
 * The gate cache: a report is reused when nothing that decides its numbers changed: the model's
 * bytes, the resolved gate (dataset files by content), the resources, the onnxruntime version and
 * the CPU model. One JSON file per key; a re-synth then costs a file read.
 *
 * Reports measured on a GPU (a service placed on a GPU pool) are kept apart, and keyed so that they
 * can be shared between machines (restored in CI, or measured on a GPU runner with
 * `modelfab bench --gpu` and committed):
 *
 * - their key ({@link gpuCacheKey}) holds the model, the gate (dataset files by content only, never
 *   by path, which differs between checkouts), the resources, the server's environment, the planned
 *   utilization, the onnxruntime version, the execution provider, the pool's GPU name, and the GPU
 *   product and driver version that measured it; not the host's CPU model or the CPU enforcement
 *   (the GPU runner's CPU says nothing of the node's, and its numbers are the GPU's);
 * - a synth machine without that GPU cannot know the driver, so the same inputs less the product and
 *   the driver make a second key, the lookup key ({@link gpuLookupKey});
 * - an entry is the file `gpu/<lookup key>/<key>.gate.json`: the lookup key's folder holds one
 *   report per GPU product and driver measured. A synth takes the most recently measured one
 *   ({@link findGpuReport}); `modelfab bench --gpu` on the GPU reads and writes its own driver's
 *   ({@link readGpuReport}, {@link writeGpuReport}). No index file: each entry is written
 *   atomically on its own, and a folder is read as it is, so two runners writing at once, or a
 *   merge of two committed caches, never corrupt it.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type GateSpec, type GpuExecutionProvider, type GpuName } from '../core';
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

/** What decides a GPU report's result, as a synth machine without the GPU knows it. */
export interface GpuCacheKeyInput {
  /** The model file's sha256. */
  readonly sha256: string;
  readonly gate: GateSpec;
  readonly resources: { readonly cpuMillis: number; readonly memoryBytes: number };
  readonly onnxruntimeVersion: string;
  /** The server's environment from the Deployment. */
  readonly serverEnv: Readonly<Record<string, string>>;
  readonly targetUtilization: number;
  /** The pool's GPU. */
  readonly gpu: GpuName;
  /** The provider the served path runs on. */
  readonly provider: GpuExecutionProvider;
}

/** The GPU that measured a report, as nvidia-smi names it. */
export interface MeasuringGpu {
  /** `NVIDIA A10G` */
  readonly product: string;
  /** `550.127.05` */
  readonly driverVersion: string;
}

/**
 * The gate with each dataset file (accuracy, parity, input requests) replaced by its content's
 * sha256, so the key is the same in every checkout wherever the files lie.
 */
function portableGate(gate: GateSpec): GateSpec {
  const content = (file: string) => `sha256:${fileSha256(file)}`;
  return {
    ...gate,
    ...(gate.accuracy ? { accuracy: { ...gate.accuracy, dataset: content(gate.accuracy.dataset) } } : {}),
    ...(gate.parity ? { parity: { ...gate.parity, dataset: content(gate.parity.dataset) } } : {}),
    ...(gate.inputDataset !== undefined ? { inputDataset: content(gate.inputDataset) } : {}),
  };
}

function gpuKeyDocument(input: GpuCacheKeyInput): Record<string, unknown> {
  return {
    formatVersion: GATE_CACHE_FORMAT_VERSION,
    measuredOn: 'gpu',
    sha256: input.sha256,
    gate: portableGate(input.gate),
    resources: { cpuMillis: input.resources.cpuMillis, memoryBytes: input.resources.memoryBytes },
    onnxruntimeVersion: input.onnxruntimeVersion,
    serverEnv: input.serverEnv,
    targetUtilization: input.targetUtilization,
    gpu: input.gpu,
    provider: input.provider,
  };
}

/** The key a synth looks a GPU report up by: {@link gpuCacheKey} without the GPU product and driver. */
export function gpuLookupKey(input: GpuCacheKeyInput): string {
  return createHash('sha256')
    .update(canonicalJson(gpuKeyDocument(input)))
    .digest('hex');
}

/** The key of a report measured on `device`: the lookup key's inputs, the GPU product and its driver. */
export function gpuCacheKey(input: GpuCacheKeyInput, device: MeasuringGpu): string {
  const document = {
    ...gpuKeyDocument(input),
    product: device.product,
    driverVersion: device.driverVersion,
  };
  return createHash('sha256').update(canonicalJson(document)).digest('hex');
}

/** Where one GPU entry lives, and under which keys. */
export interface GpuCacheKeys {
  readonly lookupKey: string;
  readonly key: string;
}

function checkedKey(key: string): string {
  if (!/^[0-9a-f]{64}$/.test(key)) {
    throw new Error(
      `gate cache key must be 64 lower-case hex characters (a sha256), received ${JSON.stringify(key)}`,
    );
  }
  return key;
}

/** The folder of a lookup key's GPU entries. */
export function gpuEntryDir(dir: string, lookupKey: string): string {
  return path.join(dir, 'gpu', checkedKey(lookupKey));
}

/** A GPU entry: the report and both its keys. */
interface GpuCacheEntry extends CacheEntry {
  readonly lookupKey: string;
}

/** A GPU report found in the cache, marked `cached: true`, and the key it was stored under. */
export interface FoundGpuReport {
  readonly key: string;
  readonly report: GateReport;
}

function readGpuEntry(dir: string, keys: GpuCacheKeys): GateReport | undefined {
  const file = entryPath(gpuEntryDir(dir, keys.lookupKey), keys.key);
  let entry: unknown;
  try {
    entry = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (!isEntry(entry, keys.key) || (entry as Partial<GpuCacheEntry>).lookupKey !== keys.lookupKey) {
    return undefined;
  }
  if (entry.report.measurements.environment?.gpu === undefined) return undefined;
  return { ...entry.report, cached: true };
}

/** The report measured on one GPU product and driver, or undefined (a miss, as {@link readCachedReport}). */
export function readGpuReport(dir: string, keys: GpuCacheKeys): GateReport | undefined {
  return readGpuEntry(dir, keys);
}

/**
 * The most recently measured report under a lookup key (by the GPU's `measuredAt`; on a tie, the
 * lowest key), whatever the GPU product and driver; undefined when there is none. Entries that are
 * not whole GPU reports of this lookup key are passed over.
 */
export function findGpuReport(dir: string, lookupKey: string): FoundGpuReport | undefined {
  const folder = gpuEntryDir(dir, lookupKey);
  let names: string[];
  try {
    names = fs.readdirSync(folder);
  } catch {
    return undefined;
  }
  const found: FoundGpuReport[] = [];
  for (const name of names.sort()) {
    const match = /^([0-9a-f]{64})\.gate\.json$/.exec(name);
    if (!match) continue;
    const report = readGpuEntry(dir, { lookupKey, key: match[1] });
    if (report) found.push({ key: match[1], report });
  }
  const measuredAt = (f: FoundGpuReport) => f.report.measurements.environment.gpu?.measuredAt ?? '';
  return found.reduce<FoundGpuReport | undefined>(
    (best, f) => (best === undefined || measuredAt(f) > measuredAt(best) ? f : best),
    undefined,
  );
}

/**
 * Stores a report measured on a GPU (its environment names the GPU) under both keys, atomically, as
 * {@link writeCachedReport} does.
 * @throws Error when the report does not say which GPU measured it
 */
export function writeGpuReport(dir: string, keys: GpuCacheKeys, report: GateReport): void {
  if (report.measurements.environment?.gpu === undefined) {
    throw new Error('a GPU cache entry needs a report measured on a GPU (measurements.environment.gpu)');
  }
  const entry: GpuCacheEntry = {
    formatVersion: GATE_CACHE_FORMAT_VERSION,
    key: keys.key,
    lookupKey: keys.lookupKey,
    report: { ...report, cached: false },
  };
  writeAtomically(gpuEntryDir(dir, keys.lookupKey), checkedKey(keys.key), entry);
}

/** The file of one entry. */
function entryPath(dir: string, key: string): string {
  return path.join(dir, `${checkedKey(key)}.gate.json`);
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
  const entry: CacheEntry = {
    formatVersion: GATE_CACHE_FORMAT_VERSION,
    key,
    report: { ...report, cached: false },
  };
  writeAtomically(dir, checkedKey(key), entry);
}

/** Writes `<dir>/<key>.gate.json` through a temporary file and a rename; creates `dir` when missing. */
function writeAtomically(dir: string, key: string, entry: CacheEntry): void {
  const file = path.join(dir, `${key}.gate.json`);
  fs.mkdirSync(dir, { recursive: true });
  const temp = path.join(dir, `.${key}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    fs.writeFileSync(temp, `${JSON.stringify(entry)}\n`);
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
}
