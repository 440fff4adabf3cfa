import type { AddressInfo } from 'node:net';
import { ENGINE } from '../helpers/db.js';
import { newLogin, personBrowser } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { send } from '../helpers/raw-http.js';

// Finding 5 of the attack: discovery answered `Host: evil.example` with
// `token_endpoint: http://evil.example/token` (X-Forwarded-Host alike behind a proxy), and a
// trustProxy process reached directly took any X-Forwarded-For, so per-address limits never
// met the same address twice. Every absolute URL now comes from the configured issuer, and
// forwarded headers count only from the configured proxies.

const ISSUER = 'https://id.example.test';
const ENDPOINTS = [
  'authorization_endpoint',
  'token_endpoint',
  'userinfo_endpoint',
  'jwks_uri',
  'end_session_endpoint',
  'introspection_endpoint',
  'revocation_endpoint',
];

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

describe.each([
  ['behind a trusted proxy', true],
  ['without a proxy', false],
])(`absolute URLs %s (${ENGINE})`, (_name, trustProxy) => {
  let running: Running;
  let port: number;

  beforeAll(async () => {
    running = await startTestPlatform({ issuer: ISSUER, trustProxy });
    port = (running.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await running?.stop();
  });

  const get = (path: string, headers: Array<[string, string]>) => send(port, { method: 'GET', path, headers });

  it.each([
    ['Host', [['host', 'evil.example']]],
    [
      'X-Forwarded-Host',
      [
        ['host', 'id.example.test'],
        ['x-forwarded-host', 'evil.example'],
        ['x-forwarded-proto', 'https'],
      ],
    ],
    [
      'X-Forwarded-Proto',
      [
        ['host', 'id.example.test'],
        ['x-forwarded-proto', 'gopher'],
      ],
    ],
  ] as Array<[string, Array<[string, string]>]>)(
    'builds discovery on the issuer whatever %s says',
    async (_header, headers) => {
      const response = await get('/.well-known/openid-configuration', headers);
      expect(response.status).toBe(200);
      const metadata = JSON.parse(response.body.toString()) as Record<string, string>;
      expect(metadata.issuer).toBe(ISSUER);
      for (const name of ENDPOINTS)
        expect({ name, url: metadata[name] }).toEqual({
          name,
          url: expect.stringMatching(/^https:\/\/id\.example\.test\//),
        });
      // Not kept by a cache in front, either.
      expect(response.headers['cache-control']).toBe('no-store');
    },
  );

  it('builds discovery on the issuer for an absolute-form request target naming another host', async () => {
    const response = await get('http://evil.example/.well-known/openid-configuration', [['host', 'evil.example']]);
    expect(response.status).toBe(200);
    const metadata = JSON.parse(response.body.toString()) as Record<string, string>;
    for (const name of ENDPOINTS) expect(metadata[name]).toMatch(/^https:\/\/id\.example\.test\//);
  });
});

describe(`forwarded headers from a peer that is not a configured proxy (${ENGINE})`, () => {
  let running: Running;

  beforeAll(async () => {
    running = await startTestPlatform({
      trustProxy: true,
      trustedProxies: ['192.0.2.10'], // the proxy; these tests connect from loopback, like a client that found the process
      rateLimits: {
        signIn: {
          perLogin: { maxFailures: 50, window: 900, lockDuration: 900 },
          perIp: { maxFailures: 3, window: 60, lockDuration: 60 },
        },
      },
    });
  });
  afterAll(async () => {
    await running?.stop();
  });

  it('counts sign-in failures against the connection’s address, whatever X-Forwarded-For it invents', async () => {
    const port = (running.server.address() as AddressInfo).port;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      const agent = personBrowser();
      const page = await agent.navigate(`${running.issuer}/account/login`);
      const csrf = /name="_csrf" value="([^"]*)"/.exec(page.html)![1]!;
      const answer = await agent.navigate(`${page.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': `198.51.100.${i}` },
        body: new URLSearchParams({ _csrf: csrf, login: newLogin(), password: 'wrong password' }).toString(),
      });
      statuses.push(answer.status);
    }
    expect(statuses).toEqual([401, 401, 429, 429, 429]);
    // Nor is its X-Forwarded-Proto believed: no HSTS on plain HTTP.
    const home = await send(port, {
      method: 'GET',
      path: '/',
      headers: [
        ['host', '127.0.0.1'],
        ['x-forwarded-proto', 'https'],
      ],
    });
    expect(home.headers['strict-transport-security']).toBeUndefined();
  });
});
