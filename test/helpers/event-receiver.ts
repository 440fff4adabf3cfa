import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a merchant's endpoint received from the platform. */
export interface ReceivedRequest {
  path: string;
  contentType: string | undefined;
  body: string;
  at: number;
}

export interface EventReceiver {
  /** The base URL, e.g. http://127.0.0.1:1234 (events at /events, logout at /backchannel-logout). */
  url: string;
  received: ReceivedRequest[];
  /** How to answer the next requests (default: 202 for /events, 200 for anything else). */
  answer: ((request: ReceivedRequest) => { status: number; body?: unknown }) | undefined;
  /** Resolves when `count` requests have arrived on `path`, or rejects after `timeoutMs`. */
  waitFor(path: string, count?: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  on(path: string): ReceivedRequest[];
  close(): Promise<void>;
}

const read = async (request: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

/**
 * A merchant's receiving endpoints on a random port of 127.0.0.1: Security Event Tokens (RFC 8935)
 * and back-channel logout tokens. It records every POST and answers as told; anything but a POST
 * fails the test (the platform has no reason to send one).
 */
export async function startEventReceiver(): Promise<EventReceiver> {
  const receiver: EventReceiver = {
    url: '',
    received: [],
    answer: undefined,
    on: (path) => receiver.received.filter((r) => r.path === path),
    waitFor: async (path, count = 1, timeoutMs = 5000) => {
      const until = Date.now() + timeoutMs;
      while (receiver.on(path).length < count) {
        if (Date.now() > until)
          throw new Error(`expected ${count} request(s) on ${path}, got ${receiver.on(path).length}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return receiver.on(path);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer((request, response) => {
    void (async () => {
      const body = await read(request);
      if (request.method !== 'POST') {
        response.writeHead(405).end();
        throw new Error(`unexpected ${request.method} ${request.url}`);
      }
      const received = { path: request.url ?? '', contentType: request.headers['content-type'], body, at: Date.now() };
      receiver.received.push(received);
      const answer = receiver.answer?.(received) ?? { status: received.path === '/events' ? 202 : 200 };
      response
        .writeHead(answer.status, answer.body === undefined ? {} : { 'content-type': 'application/json' })
        .end(answer.body === undefined ? undefined : JSON.stringify(answer.body));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
