import autocannon from 'autocannon';
import { serveChild } from '../lib/processes.js';
import type { LoadResult, LoadSpec, LoadTarget, RequestVariant } from './http-load.js';

// The load generator's process: runs one autocannon instance per target and merges their results.

serveChild<LoadSpec, LoadResult>(async (spec) => {
  const results = await Promise.all(spec.targets.map((target) => runTarget(spec, target)));
  const statusCodes: Record<string, number> = {};
  for (const { result } of results) {
    for (const [code, stats] of Object.entries(result.statusCodeStats ?? {}))
      statusCodes[code] = (statusCodes[code] ?? 0) + (stats.count ?? 0);
  }
  const seconds = Math.max(...results.map(({ result }) => result.duration));
  const ok = sum(results.map(({ result }) => result['2xx']));
  return {
    ok,
    perSecond: Math.round(ok / seconds),
    p50_ms: Math.max(...results.map(({ result }) => result.latency.p50)),
    p99_ms: Math.max(...results.map(({ result }) => result.latency.p99)),
    non2xx: sum(results.map(({ result }) => result.non2xx)),
    errors: sum(results.map(({ result }) => result.errors)),
    timeouts: sum(results.map(({ result }) => result.timeouts)),
    statusCodes,
    seconds: Math.round(seconds * 100) / 100,
  };
});

async function runTarget(spec: LoadSpec, target: LoadTarget): Promise<{ result: autocannon.Result }> {
  const variants = target.variants ?? [];
  let next = 0;
  // autocannon resets a request's context before the next request, but calls onResponse and then
  // the same connection's next setupRequest synchronously: what one hands over, the other takes.
  let handedOver: string | undefined;
  const onResponse = spec.follow
    ? (status: number, body: string) => {
        handedOver = status === 200 ? (JSON.parse(body) as Record<string, string>)[spec.follow!.field] : undefined;
      }
    : undefined;
  const setupRequest = variants.length
    ? (request: autocannon.Request) => {
        const followed: RequestVariant | undefined =
          handedOver && spec.follow ? { body: spec.follow.template.replace('{}', handedOver) } : undefined;
        handedOver = undefined;
        // Chain starts are single-use: never wrap around to one already spent (autocannon's warm-up
        // is a run of its own connections, which spend the first ones).
        const variant =
          followed ?? variants[spec.follow ? Math.min(next++, variants.length - 1) : next++ % variants.length]!;
        return {
          ...request,
          ...(variant.body !== undefined ? { body: variant.body } : {}),
          headers: { ...request.headers, ...variant.headers },
        };
      }
    : undefined;
  const options = {
    url: target.url,
    connections: spec.connections,
    duration: spec.seconds,
    warmup: spec.warmup > 0 ? { connections: spec.connections, duration: spec.warmup } : undefined,
    timeout: 30,
    requests: [
      {
        method: spec.method,
        path: spec.path,
        headers: spec.headers,
        body: spec.body,
        ...(setupRequest ? { setupRequest } : {}),
        ...(onResponse ? { onResponse } : {}),
      },
    ],
  } as autocannon.Options;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    autocannon(options, (err, res) => (err ? reject(err) : resolve(res)));
  });
  return { result };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
