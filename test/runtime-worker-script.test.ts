/**
 * lib/runtime worker entry resolution: from sources the `.ts` worker runs with the tsx require
 * hook (the tests themselves prove that path); compiled, the `.js` worker runs with no flags,
 * checked here by transpiling the runtime to JavaScript and running an executor from it in a
 * plain `node` process without tsx.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveWorkerScript } from '../lib/runtime';
import { makeTempDir, removeDir } from './support/fixture-models';

const ROOT = path.resolve(__dirname, '..');

describe('resolveWorkerScript', () => {
  it('picks the .ts worker and the tsx hook from sources', () => {
    const script = resolveWorkerScript('/app/lib/runtime/worker-script.ts');
    expect(script.file).toBe('/app/lib/runtime/inference-worker.ts');
    expect(script.execArgv).toHaveLength(2);
    expect(script.execArgv[0]).toBe('--require');
    expect(script.execArgv[1]).toMatch(/node_modules[\\/]tsx[\\/].*\.cjs$/);
    expect(fs.existsSync(script.execArgv[1])).toBe(true);
  });

  it('picks the .js worker without flags when compiled', () => {
    expect(resolveWorkerScript('/app/build/lib/runtime/worker-script.js')).toEqual({
      file: '/app/build/lib/runtime/inference-worker.js',
      execArgv: [],
    });
  });

  it('resolves to the worker next to it by default', () => {
    const script = resolveWorkerScript();
    expect(script.file).toBe(path.join(ROOT, 'lib', 'runtime', 'inference-worker.ts'));
    expect(fs.existsSync(script.file)).toBe(true);
  });
});

describe('the compiled runtime', () => {
  let dir: string;

  beforeAll(() => {
    dir = makeTempDir('modelfab-runtime-compiled-');
    // Transpile (no type check: tsc -p checks types elsewhere) the layers the runtime imports.
    for (const layer of ['core', 'model', 'runtime']) {
      const from = path.join(ROOT, 'lib', layer);
      const to = path.join(dir, 'lib', layer);
      fs.mkdirSync(to, { recursive: true });
      for (const file of fs.readdirSync(from).filter((f) => f.endsWith('.ts'))) {
        const { outputText } = ts.transpileModule(fs.readFileSync(path.join(from, file), 'utf8'), {
          compilerOptions: {
            module: ts.ModuleKind.CommonJS,
            target: ts.ScriptTarget.ES2022,
            esModuleInterop: true,
          },
          fileName: file,
        });
        fs.writeFileSync(path.join(to, file.replace(/\.ts$/, '.js')), outputText);
      }
    }
  });

  afterAll(() => removeDir(dir));

  it('runs the .js worker in plain node, without tsx', () => {
    const program = `
      const { Executor, resolveWorkerScript } = require(${JSON.stringify(path.join(dir, 'lib', 'runtime', 'index.js'))});
      (async () => {
        const executor = await Executor.create({ modelPath: ${JSON.stringify(path.join(ROOT, 'examples', 'iris', 'model', 'iris.onnx'))} });
        const result = await executor.infer({ input: { type: 'float32', dims: [1, 4], data: Float32Array.from([5.1, 3.5, 1.4, 0.2]) } });
        await executor.close();
        process.stdout.write(JSON.stringify({ file: resolveWorkerScript().file, dims: result.outputs.probabilities.dims, label: String(result.outputs.label.data[0]) }));
      })();
    `;
    const stdout = execFileSync(process.execPath, ['-e', program], {
      env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules'), NODE_OPTIONS: '' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    const out = JSON.parse(stdout) as { file: string; dims: number[]; label: string };
    expect(out.file).toBe(path.join(dir, 'lib', 'runtime', 'inference-worker.js'));
    expect(out.dims).toEqual([1, 3]);
    expect(out.label).toBe('0'); // setosa
  });
});
