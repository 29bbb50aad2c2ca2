/**
 * Which file starts an inference worker. Compiled, it is `inference-worker.js` next to this
 * file, started as is. From sources (vitest, tsx), it is `inference-worker.ts`, started with the
 * tsx require hook: the package compiles to CommonJS, and Node 20 does not apply `--import tsx`
 * loader hooks to a worker's entry file, while `--require tsx/cjs` works.
 */
import path from 'node:path';

/** A worker entry file and the Node flags it needs. */
export interface WorkerScript {
  readonly file: string;
  readonly execArgv: readonly string[];
}

/**
 * The inference worker's entry for a module at `fromFile` (this module's own file by default):
 * the `.ts` worker with the tsx hook when `fromFile` is TypeScript, the `.js` worker without
 * flags otherwise.
 */
export function resolveWorkerScript(fromFile: string = __filename): WorkerScript {
  const dir = path.dirname(fromFile);
  if (fromFile.endsWith('.ts')) {
    return {
      file: path.join(dir, 'inference-worker.ts'),
      execArgv: ['--require', require.resolve('tsx/cjs')],
    };
  }
  return { file: path.join(dir, 'inference-worker.js'), execArgv: [] };
}
