/**
 * Which file starts a worker thread (the inference worker, the server's codec worker). Compiled,
 * it is `inference-worker.js` next to this file, started as is. From sources (vitest, tsx), it is `inference-worker.ts`, started with the
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
 * The entry of the worker called `name` beside the module at `fromFile` (this module's own file by
 * default): the `.ts` file with the tsx hook when `fromFile` is TypeScript, the `.js` file without
 * flags otherwise. In the server bundle every module is `server/main.js`, so each worker is the
 * `.js` file of its name beside it.
 */
export function resolveWorkerScript(fromFile: string = __filename, name = 'inference-worker'): WorkerScript {
  const dir = path.dirname(fromFile);
  if (fromFile.endsWith('.ts')) {
    return {
      file: path.join(dir, `${name}.ts`),
      execArgv: ['--require', require.resolve('tsx/cjs')],
    };
  }
  return { file: path.join(dir, `${name}.js`), execArgv: [] };
}
