/**
 * The public API, locked: api-extractor reads the declarations of the package's three entry points
 * (`modelfab`, `modelfab/cdk8s`, `modelfab/pulumi`) and compares them with the reports committed in
 * api/. `npm run lint` runs `tsx tools/api-report.ts` and fails when the public surface changed
 * without its report; `npm run api:update` (`--update`) rewrites the reports, so the change shows
 * as a diff in review.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Extractor, ExtractorConfig, ExtractorLogLevel, type IConfigFile } from '@microsoft/api-extractor';

const ROOT = path.resolve(__dirname, '..');
/** Declarations only, apart from the build, so the check needs no `npm run build`. */
const DTS = path.join(ROOT, 'build', 'api-dts');
const REPORTS = path.join(ROOT, 'api');

/** Each entry point of package.json's `exports`, and its report's name. */
const ENTRIES = [
  { report: 'modelfab', dts: 'lib/index.d.ts' },
  { report: 'modelfab-cdk8s', dts: 'lib/cdk8s/index.d.ts' },
  { report: 'modelfab-pulumi', dts: 'lib/pulumi/index.d.ts' },
] as const;

function main(update: boolean): number {
  process.stderr.write('api: emitting declarations\n');
  fs.rmSync(DTS, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [
      require.resolve('typescript/bin/tsc'),
      '-p',
      'tsconfig.json',
      '--emitDeclarationOnly',
      '--declarationMap',
      'false',
      '--outDir',
      DTS,
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  let failed = 0;
  for (const entry of ENTRIES) {
    const result = Extractor.invoke(config(entry.report, path.join(DTS, entry.dts)), {
      localBuild: update,
      showVerboseMessages: false,
      messageCallback: (message) => {
        // The TypeScript version note is not about our API.
        if (message.messageId === 'console-compiler-version-notice')
          message.logLevel = ExtractorLogLevel.None;
      },
    });
    const file = path.relative(ROOT, path.join(REPORTS, `${entry.report}.api.md`));
    if (result.errorCount > 0) {
      failed++;
    } else if (result.apiReportChanged && !update) {
      process.stderr.write(
        `api: the public API of ${entry.report.replace('-', '/')} changed and ${file} does not say so; run npm run api:update and commit ${file}\n`,
      );
      failed++;
    } else {
      process.stderr.write(`api: ${file} ${update && result.apiReportChanged ? 'updated' : 'matches'}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
}

function config(report: string, entry: string): ExtractorConfig {
  const configObject: IConfigFile = {
    projectFolder: ROOT,
    mainEntryPointFilePath: entry,
    compiler: { tsconfigFilePath: path.join(ROOT, 'tsconfig.json') },
    apiReport: {
      enabled: true,
      reportFileName: `${report}.api.md`,
      reportFolder: REPORTS,
      reportTempFolder: path.join(DTS, 'reports'),
    },
    docModel: { enabled: false },
    dtsRollup: { enabled: false },
    tsdocMetadata: { enabled: false },
    messages: {
      extractorMessageReporting: {
        default: { logLevel: ExtractorLogLevel.Warning },
        // Release tags (@public/@beta) are not used: what the entry points export is the API.
        'ae-missing-release-tag': { logLevel: ExtractorLogLevel.None },
        // A type reachable from the API but not exported is listed in the report, not an error.
        'ae-forgotten-export': { logLevel: ExtractorLogLevel.None, addToApiReportFile: true },
        // Undocumented members are marked `(undocumented)` beside them in the report (no footer listing
        // line numbers, which would change with every edit).
        'ae-undocumented': { logLevel: ExtractorLogLevel.None, addToApiReportFile: false },
      },
      tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
      compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Warning } },
    },
  };
  return ExtractorConfig.prepare({
    configObject,
    configObjectFullPath: path.join(ROOT, 'api', 'api-extractor.json'),
    packageJsonFullPath: path.join(ROOT, 'package.json'),
  });
}

process.exitCode = main(process.argv.includes('--update'));
