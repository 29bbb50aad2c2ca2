/**
 * Renders a ModelInfo for people (a key/value block and an IO table) or for programs (JSON).
 */
import { type Dim, type ModelInfo, type ValueSignature } from '../model';

/** A shape for people: `[batch, 4]`, `?` for an unnamed dim, `[] (scalar)`, `unknown rank`. */
export function formatShape(shape: readonly Dim[] | undefined): string {
  if (shape === undefined) return 'unknown rank';
  if (shape.length === 0) return '[] (scalar)';
  return `[${shape.map((d) => (d === '' ? '?' : String(d))).join(', ')}]`;
}

/** A byte count for people: `871 bytes`, `1.5 MiB (1,572,864 bytes)`. */
export function formatBytes(bytes: number): string {
  const exact = `${bytes.toLocaleString('en-US')} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = '';
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return unit === '' ? exact : `${value.toFixed(1)} ${unit} (${exact})`;
}

/** Why a model is or is not batchable, in a few words. */
export function explainBatchable(info: ModelInfo): string {
  if (info.batchable) return 'yes (dim 0 of every input and output is a batch dim)';
  if (info.inputs.length === 0) return 'no (the model has no inputs)';
  const values: readonly (readonly [string, ValueSignature])[] = [
    ...info.inputs.map((v) => ['input', v] as const),
    ...info.outputs.map((v) => ['output', v] as const),
  ];
  const found = values.find(([, v]) => !v.batchDim);
  if (!found) return 'no';
  const [role, v] = found;
  const which = `${role} ${JSON.stringify(v.name)}`;
  if (!v.isTensor) return `no (${which} is a ${v.kind}, not a tensor)`;
  if (v.shape === undefined) return `no (the rank of ${which} is not declared)`;
  if (v.shape.length === 0) return `no (${which} is a scalar)`;
  return `no (dim 0 of ${which} is fixed at ${String(v.shape[0])})`;
}

/** Pads the columns of rows of cells to their widest cell, two spaces apart. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function firstLine(text: string, max = 100): string {
  const line = text.trim().split('\n', 1).join('').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The human-readable report printed by `modelfab inspect`. */
export function formatModelInfo(info: ModelInfo): string {
  const producer = [info.producerName, info.producerVersion].filter((s) => s !== '').join(' ');
  const summary: [string, string][] = [
    ['file', info.path],
    ['sha256', info.sha256],
    ['size', formatBytes(info.sizeBytes)],
    ['ir version', String(info.irVersion)],
    ['opsets', info.opsetImports.map((o) => `${o.domain} ${o.version}`).join(', ')],
    ['producer', producer === '' ? '(not set)' : producer],
  ];
  if (info.domain !== '') summary.push(['domain', info.domain]);
  if (info.modelVersion !== 0) summary.push(['model version', String(info.modelVersion)]);
  if (info.docString.trim() !== '') summary.push(['description', firstLine(info.docString)]);
  summary.push(
    ['graph', info.graphName === '' ? '(unnamed)' : info.graphName],
    ['parameters', info.parameterCount.toLocaleString('en-US')],
    ['nodes', info.nodeCount.toLocaleString('en-US')],
    ['batchable', explainBatchable(info)],
  );
  const io = [
    ['kind', 'name', 'type', 'shape'],
    ...info.inputs.map((v) => ioRow('input', v)),
    ...info.outputs.map((v) => ioRow('output', v)),
  ];
  return `${formatTable(summary)}\n\n${formatTable(io)}\n`;
}

function ioRow(kind: string, v: ValueSignature): string[] {
  return v.isTensor ? [kind, v.name, v.elementType, formatShape(v.shape)] : [kind, v.name, v.kind, '-'];
}

/**
 * The ModelInfo as JSON (2-space indented). An undeclared rank (`shape: undefined`) is written
 * as `"shape": null` so the key is always present.
 */
export function formatModelInfoJson(info: ModelInfo): string {
  return `${JSON.stringify(info, (_key, value: unknown) => (value === undefined ? null : value), 2)}\n`;
}
