import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A round-robin HTTP load balancer on 127.0.0.1: each request goes to the next upstream, so a
 * flow's consecutive requests land on different platform processes.
 */
export async function startBalancer(upstreams: () => string[]) {
  const hits = new Map<string, number>();
  let next = 0;
  const server = http.createServer((req, res) => {
    const targets = upstreams();
    const target = new URL(targets[next++ % targets.length]!);
    hits.set(target.origin, (hits.get(target.origin) ?? 0) + 1);
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502).end();
    });
    req.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    stop: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
