/**
 * The load generator's own ceiling, measured in the same run: the most requests per second this
 * process sends and reads back against a trivial endpoint, a separate process that answers every
 * request with a fixed 2-byte body as soon as it has read it. A served model whose capacity comes
 * near it is bound by the generator, and the report says `≥ N rps` instead of inventing N.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { encodeHttpRequest, HttpConnectionPool } from './http-client';

/**
 * The trivial endpoint: raw sockets, request heads scanned for their end and Content-Length,
 * bodies skipped, one canned answer per request. Prints its port on stdout.
 */
const TRIVIAL_ENDPOINT = `
const net = require('node:net');
const answer = Buffer.from('HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\ncontent-length: 2\\r\\n\\r\\n{}');
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let pending = Buffer.alloc(0);
  let skip = 0;
  socket.on('data', (chunk) => {
    let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    pending = Buffer.alloc(0);
    let answers = 0;
    for (;;) {
      if (skip > 0) {
        const take = Math.min(skip, data.length);
        skip -= take;
        data = data.subarray(take);
        if (skip > 0) break;
      }
      const end = data.indexOf('\\r\\n\\r\\n');
      if (end < 0) { pending = Buffer.from(data); break; }
      const head = data.toString('latin1', 0, end);
      const length = /\\r\\ncontent-length:\\s*(\\d+)/i.exec(head);
      skip = length ? Number(length[1]) : 0;
      data = data.subarray(end + 4);
      if (skip <= data.length) { data = data.subarray(skip); skip = 0; answers++; continue; }
      skip -= data.length; data = data.subarray(data.length); answers++;
    }
    if (answers > 0) socket.write(answers === 1 ? answer : Buffer.concat(Array(answers).fill(answer)));
  });
  socket.on('error', () => socket.destroy());
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

/** Starts the trivial endpoint and resolves with its base URL and process. */
async function startTrivialEndpoint(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', TRIVIAL_ENDPOINT], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await Promise.race([
    once(child.stdout, 'data'),
    once(child, 'exit').then(() => {
      throw new Error("the load generator's trivial endpoint exited before listening");
    }),
  ])) as [Buffer];
  return { url: `http://127.0.0.1:${Number(chunk.toString().trim())}`, child };
}

/**
 * Requests per second this process completes against the trivial endpoint with `clients`
 * concurrent keep-alive connections, each sending the given request bodies in turn, for
 * `durationMs` after a short warm-up.
 */
export async function measureGeneratorCeiling(
  bodies: ReadonlyArray<{ readonly body: Buffer; readonly headers: Readonly<Record<string, string>> }>,
  clients = 64,
  durationMs = 250,
): Promise<number> {
  const { url, child } = await startTrivialEndpoint();
  const pool = new HttpConnectionPool(url, clients);
  try {
    const requests = bodies.map(({ body, headers }) =>
      encodeHttpRequest({ url: `${url}/infer`, body, headers }),
    );
    const run = async (ms: number) => {
      const start = performance.now();
      let completed = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (performance.now() - start < ms) {
            const answer = await pool.send(requests[next++ % requests.length]);
            if (answer.status !== 200) throw new Error(`the trivial endpoint answered ${answer.status}`);
            completed++;
          }
        }),
      );
      return (completed * 1000) / (performance.now() - start);
    };
    await run(Math.min(100, durationMs / 4));
    return await run(durationMs);
  } finally {
    pool.close();
    child.kill('SIGTERM');
  }
}
