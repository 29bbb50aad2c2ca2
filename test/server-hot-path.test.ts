/**
 * What the server's hot path promises besides the protocol: `cpus` reaches the executor (so a
 * server sharing its cores can turn polling off).
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type InferenceServer, type InferenceServerOptions, startInferenceServer } from '../lib/server';

const IRIS = path.join(__dirname, '..', 'examples', 'iris', 'model', 'iris.onnx');
const servers: InferenceServer[] = [];

async function start(options: InferenceServerOptions, lines: string[]): Promise<InferenceServer> {
  const server = await startInferenceServer({
    host: '127.0.0.1',
    port: 0,
    metricsPort: 0,
    env: {},
    modelPath: IRIS,
    workers: 1,
    intraOpThreads: 1,
    log: (line) => lines.push(line),
    ...options,
  });
  servers.push(server);
  return server;
}

function readyLine(lines: readonly string[]): Record<string, unknown> {
  const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'ready');
  if (line === undefined) throw new Error(`no ready line in ${lines.join('\n')}`);
  return line;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('cpus', () => {
  it('turns polling off when the workers take every cpu, and on with one to spare', async () => {
    const one: string[] = [];
    const four: string[] = [];
    await start({ cpus: 1 }, one);
    await start({ cpus: 4 }, four);
    expect(readyLine(one).pollMs).toBe(0);
    expect(readyLine(four).pollMs).toBe(0.5);
  });
});
