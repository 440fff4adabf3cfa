import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ACCOUNT_PURGED,
  GRANT_LEVEL_LOWERED,
  SESSION_REVOKED,
  securityEventClaims,
} from '../../src/merchant-events/set.js';
import { DeliveryRefused } from '../../src/notifications/notifier.js';
import { SetPushNotifier } from '../../src/notifications/set-push.js';

const ISSUER = 'https://id.example';
const NOW = new Date('2026-12-06T00:00:00Z');

describe('security event token claims', () => {
  const claims = (event: Parameters<typeof securityEventClaims>[0]['event']) =>
    securityEventClaims({ issuer: ISSUER, clientId: 'shop', subject: 'pairwise-sub', event, now: NOW });

  it('names the subject as iss_sub with the pairwise sub, the merchant as aud, and has no sub or exp', () => {
    const set = claims({ type: 'grant_revoked' });
    expect(set).toEqual({
      iss: ISSUER,
      aud: 'shop',
      iat: NOW.getTime() / 1000,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      sub_id: { format: 'iss_sub', iss: ISSUER, sub: 'pairwise-sub' },
      events: { [SESSION_REVOKED]: { initiating_entity: 'user', event_timestamp: NOW.getTime() / 1000 } },
    });
    expect(claims({ type: 'grant_revoked' }).jti).not.toBe(set.jti);
  });

  it('carries the levels of a lowering, and nothing with an account purge', () => {
    expect(claims({ type: 'level_lowered', previousLevel: 'dossier', level: 'result' }).events).toEqual({
      [GRANT_LEVEL_LOWERED]: {
        previous_level: 'dossier',
        level: 'result',
        initiating_entity: 'user',
        event_timestamp: NOW.getTime() / 1000,
      },
    });
    expect(claims({ type: 'account_purged' }).events).toEqual({ [ACCOUNT_PURGED]: {} });
  });
});

describe('pushing a SET (RFC 8935)', () => {
  let answer: { status: number; body?: string; headers?: Record<string, string> };
  let seen: { contentType?: string; accept?: string; body: string } | undefined;
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      seen = { contentType: request.headers['content-type'], accept: request.headers.accept, body };
      if (answer.status === 0) return; // never answers: the timeout's case
      response.writeHead(answer.status, answer.headers ?? {}).end(answer.body);
    });
  });
  let url: string;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const push = (timeoutMs = 2000) =>
    new SetPushNotifier({ timeoutMs }).send({
      id: 'row',
      accountId: 'account',
      template: 'merchant.security_event',
      to: url,
      subject: '',
      text: 'a.b.c',
    });

  it('posts the token as application/secevent+jwt and takes 202 as delivered', async () => {
    answer = { status: 202 };
    await expect(push()).resolves.toBeUndefined();
    expect(seen).toEqual({ contentType: 'application/secevent+jwt', accept: 'application/json', body: 'a.b.c' });
  });

  it('gives up on an RFC 8935 error, another 4xx, a redirect or a 200, keeping the reason', async () => {
    answer = { status: 400, body: '{"err":"invalid_key","description":"unknown kid"}' };
    await expect(push()).rejects.toEqual(
      new DeliveryRefused('the events endpoint answered 400 invalid_key: unknown kid'),
    );
    for (const status of [401, 404, 302, 200]) {
      answer = { status, headers: status === 302 ? { location: 'https://elsewhere.example/' } : {} };
      await expect(push()).rejects.toBeInstanceOf(DeliveryRefused);
    }
  });

  it('retries a 5xx, a 429 and no answer', async () => {
    for (const status of [500, 503, 429]) {
      answer = { status };
      const failure = await push().catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(Error);
      expect(failure).not.toBeInstanceOf(DeliveryRefused);
    }
    answer = { status: 0 };
    const timedOut = await push(200).catch((err: unknown) => err);
    expect(timedOut).not.toBeInstanceOf(DeliveryRefused);
  });
});
