/**
 * Writes a gate report beside the synthesized manifests: `<base>.gate.json` (the report, pretty
 * JSON), `<base>.gate.md` (for people) and `<base>.gate.svg` (the chart the Markdown shows).
 */
import fs from 'node:fs';
import path from 'node:path';
import { type GateReport } from './gate-report';
import { renderGateMarkdown } from './report-markdown';
import { renderGateSvg } from './report-svg';

/** Absolute paths of the files {@link writeGateReports} wrote. */
export interface GateReportFiles {
  readonly json: string;
  readonly markdown: string;
  readonly svg: string;
}

/**
 * Writes the report's JSON, Markdown and SVG files into `dir` (created when missing), replacing
 * files of the same names.
 *
 * @param baseName file name stem, e.g. the service name: `iris` gives `iris.gate.json`, …
 * @throws Error when baseName is empty or contains a path separator, or a file cannot be written
 */
export function writeGateReports(dir: string, baseName: string, report: GateReport): GateReportFiles {
  if (baseName === '' || /[/\\]/.test(baseName) || baseName === '.' || baseName === '..') {
    throw new Error(
      `report base name must be a file name without path separators, received ${JSON.stringify(baseName)}`,
    );
  }
  const absolute = path.resolve(dir);
  fs.mkdirSync(absolute, { recursive: true });
  const files: GateReportFiles = {
    json: path.join(absolute, `${baseName}.gate.json`),
    markdown: path.join(absolute, `${baseName}.gate.md`),
    svg: path.join(absolute, `${baseName}.gate.svg`),
  };
  fs.writeFileSync(files.json, `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(files.markdown, renderGateMarkdown(report, { svgHref: path.basename(files.svg) }));
  fs.writeFileSync(files.svg, renderGateSvg(report));
  return files;
}
