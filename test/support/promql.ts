/** PromQL checked with Prometheus' own grammar (`@prometheus-io/lezer-promql`, an ES module). */
import type { parser as promqlParser } from '@prometheus-io/lezer-promql' with {
  'resolution-mode': 'import',
};

let parser: typeof promqlParser | undefined;

/** Loads the grammar (once); call it in a `beforeAll` before {@link parsePromQL}. */
export async function loadPromQL(): Promise<void> {
  parser ??= (await import('@prometheus-io/lezer-promql')).parser;
}

/** The parse errors of a PromQL expression, and the metric names it selects. */
export function parsePromQL(expr: string): { errors: string[]; metrics: string[] } {
  if (!parser) throw new Error('call loadPromQL() first');
  const errors: string[] = [];
  const metrics: string[] = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError)
        errors.push(`error at ${node.from}: ${JSON.stringify(expr.slice(node.from, node.to + 10))}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') {
        metrics.push(expr.slice(node.from, node.to));
      }
    },
  });
  return { errors, metrics };
}
