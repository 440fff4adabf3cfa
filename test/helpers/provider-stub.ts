import { once } from 'node:events';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

/**
 * A verification service on 127.0.0.1 speaking the protocol of src/identity/providers/http.ts,
 * with switchable failure modes. Requests off the protocol (unknown path, wrong body) are answered
 * 404/422 and listed in `unexpected`, so a test can assert there were none.
 */
export type StubMode =
  | { kind: 'ok' }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'flaky'; failures: number } // the first `failures` calls after setMode get 503
  | { kind: 'down' } // 503 always
  | { kind: 'hang' } // never answers
  | { kind: 'garbage' } // 200 with a body that is not JSON
  | { kind: '400' };

export interface StubRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** The JSON body of a 200; tests may return off-protocol shapes on purpose. */
export type StubAnswerRule = (request: StubRequest, call: number) => unknown;

/** Name '测试不符' gets a mismatch; everyone else matches. */
export const defaultAnswer: StubAnswerRule = (request, call) =>
  request.body.name === '测试不符'
    ? { result: 'mismatch', reason: 'name-mismatch', reference: `stub-${call}` }
    : { result: 'match', reference: `stub-${call}` };

const Document = { document_type: z.string(), document_number: z.string(), name: z.string() };
const Image = z.object({ content_type: z.enum(['image/png', 'image/jpeg']), data: z.base64() });
const BODIES: Record<string, z.ZodType> = {
  '/v1/document-check': z.strictObject(Document),
  '/v1/person-match': z.strictObject({ ...Document, portrait: Image, document_front: Image }),
  '/v1/phone-check': z.strictObject({ ...Document, phone: z.string().regex(/^\+\d{6,15}$/) }),
};

export async function startProviderStub() {
  let mode: StubMode = { kind: 'ok' };
  let failed = 0;
  const requests: StubRequest[] = [];
  const unexpected: string[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = req.url ?? '';
    const schema = BODIES[path];
    if (req.method !== 'POST' || !schema) {
      unexpected.push(`${req.method} ${path}`);
      return void res.writeHead(404).end();
    }
    let body: unknown;
    try {
      body = schema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch {
      unexpected.push(`${path}: body off the protocol`);
      return void res.writeHead(422).end();
    }
    const request = { path, headers: req.headers, body: body as Record<string, unknown> };
    requests.push(request);
    respond(req, res, request, requests.length);
  });

  function respond(req: IncomingMessage, res: ServerResponse, request: StubRequest, call: number) {
    const json = (status: number, value: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    switch (mode.kind) {
      case 'ok':
        return json(200, stub.answer(request, call));
      case 'slow': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!req.socket.destroyed) json(200, stub.answer(request, call));
        }, mode.delayMs);
        return void timers.add(timer);
      }
      case 'flaky':
        if (failed++ < mode.failures) return json(503, { error: 'unavailable' });
        return json(200, stub.answer(request, call));
      case 'down':
        return json(503, { error: 'unavailable' });
      case 'hang':
        return;
      case 'garbage':
        return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Bad gateway</html>');
      case '400':
        return json(400, { error: 'invalid_request' });
    }
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const stub = {
    /** Stays valid after stop(): then nothing listens there and connections are refused. */
    url,
    answer: defaultAnswer,
    requests,
    unexpected,
    get calls() {
      return requests.length;
    },
    get last(): StubRequest | undefined {
      return requests.at(-1);
    },
    setMode(next: StubMode) {
      mode = next;
      failed = 0;
    },
    /** Back to 'ok' and the default answers, with nothing recorded. */
    reset() {
      stub.setMode({ kind: 'ok' });
      stub.answer = defaultAnswer;
      requests.length = 0;
      unexpected.length = 0;
    },
    /** Makes the service unreachable: the server closes, the port stays in `url`. */
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      if (!server.listening) return;
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections(); // also the hanging ones and the client's keep-alive sockets
      await closed;
    },
    close: () => stub.stop(),
  };
  return stub;
}

export type ProviderStub = Awaited<ReturnType<typeof startProviderStub>>;
