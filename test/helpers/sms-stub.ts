import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSms {
  id: string;
  to: string;
  text: string;
  /** The Authorization header the platform sent. */
  authorization: string | undefined;
}

export interface SmsStub {
  url: string;
  received: ReceivedSms[];
  /** While set, every message is answered with this status instead of 202. */
  failWith: number | undefined;
  close(): Promise<void>;
}

const read = async (request: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

/** A local SMS gateway on a random port of 127.0.0.1 speaking the platform's SMS protocol; it keeps what it gets. */
export async function startSmsStub(): Promise<SmsStub> {
  const stub: SmsStub = {
    url: '',
    received: [],
    failWith: undefined,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = createServer((request, response) => {
    void (async () => {
      const body = JSON.parse(await read(request)) as { id: string; to: string; text: string };
      if (stub.failWith) {
        response.writeHead(stub.failWith).end();
        return;
      }
      stub.received.push({ ...body, authorization: request.headers.authorization });
      response.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":true}');
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/messages`;
  return stub;
}
