/**
 * How much memory a batch setting of the throughput search will need, from what the smaller ones
 * took: the throughput search tries batch sizes in increasing order, and a setting whose forecast
 * peak exceeds the container's memory limit is not tried (in the pod it would be OOM-killed). Pure.
 */

/** The process's peak resident memory after a batch setting ran. */
export interface MemoryObservation {
  readonly maxBatchSize: number;
  readonly peakBytes: number;
}

/** A setting the search did not try, and why. */
export interface SkippedBatchSetting {
  readonly maxBatchSize: number;
  /** The peak resident memory it was forecast to need. */
  readonly forecastBytes: number;
  readonly memoryLimitBytes: number;
}

/**
 * The peak a batch of `maxBatchSize` is forecast to reach: linear in the batch size, through the
 * last two observations (memory per row from their difference, never negative). Undefined with
 * fewer than two observations: one point says nothing about the cost of a row.
 */
export function forecastPeakBytes(
  observed: readonly MemoryObservation[],
  maxBatchSize: number,
): number | undefined {
  if (observed.length < 2) return undefined;
  const [a, b] = observed.slice(-2);
  const rows = b.maxBatchSize - a.maxBatchSize;
  const perRow = rows > 0 ? Math.max(0, (b.peakBytes - a.peakBytes) / rows) : 0;
  return b.peakBytes + perRow * (maxBatchSize - b.maxBatchSize);
}

/**
 * Whether a batch setting is to be skipped: its forecast exceeds the memory limit. Never the
 * first two settings (they are what the forecast is made from).
 */
export function exceedsMemory(
  observed: readonly MemoryObservation[],
  maxBatchSize: number,
  memoryLimitBytes: number | undefined,
): SkippedBatchSetting | undefined {
  if (memoryLimitBytes === undefined) return undefined;
  const forecastBytes = forecastPeakBytes(observed, maxBatchSize);
  if (forecastBytes === undefined || forecastBytes <= memoryLimitBytes) return undefined;
  return { maxBatchSize, forecastBytes, memoryLimitBytes };
}
