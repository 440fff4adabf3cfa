import * as oidc from 'openid-client';
import { startBalancer } from '../helpers/balancer.js';
import { createTestDatabase, ENGINE, type TestDatabase } from '../helpers/db.js';
import {
  addMerchant,
  discover,
  newLogin,
  personBrowser,
  signInAndConsent,
  startAuthorization,
} from '../helpers/merchant.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';
import { freePort, spawnPlatform } from '../helpers/process.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

// Any number of stateless processes behind a load balancer serve one issuer: every piece of
// state (interactions, sessions, codes, tokens, keys) lives in the shared database, or, with
// REDIS_URL, the interactions (and the rate limits' counts) in the shared Redis.
describe.each([
  ['one database', undefined],
  ['one database and one Redis', TEST_REDIS_URL],
])('two platform instances sharing %s', (_shared, redisUrl) => {
  let database: TestDatabase;
  let balancer: Awaited<ReturnType<typeof startBalancer>>;
  const upstreams: string[] = [];
  const stops: Array<() => Promise<void>> = [];
  let admin: RunningPlatform;

  beforeAll(async () => {
    database = await createTestDatabase();
    balancer = await startBalancer(() => upstreams);
    if (ENGINE === 'postgres') {
      // Real, separate processes (`npm start`'s entry point), as in production, started at the
      // same moment on an empty database: they race to migrate and to create the keys.
      const ports = await Promise.all([freePort(), freePort()]);
      const procs = await Promise.all(
        ports.map((port) =>
          spawnPlatform({
            DATABASE_URL: database.databaseUrl!,
            ISSUER: balancer.url,
            PORT: String(port),
            ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
          }),
        ),
      );
      for (const [i, proc] of procs.entries()) {
        stops.push(proc.stop);
        upstreams.push(`http://127.0.0.1:${ports[i]}`);
      }
    } else {
      // PGlite is single-process: two independent app instances (own Provider, own key load)
      // on the one embedded database stand in for two processes.
      for (let i = 0; i < 2; i += 1) {
        const instance = await startPlatform(database, { issuer: balancer.url, redisUrl });
        stops.push(instance.stop);
        upstreams.push(`http://127.0.0.1:${(instance.server.address() as { port: number }).port}`);
      }
    }
    admin = await startPlatform(database, { issuer: balancer.url, redisUrl });
  });

  afterAll(async () => {
    balancer?.stop();
    await Promise.all(stops.map((stop) => stop()));
    await admin?.stop();
    await database?.drop();
  });

  it('publishes the same keys from both instances', async () => {
    const [a, b] = await Promise.all(upstreams.map(async (u) => (await fetch(`${u}/jwks`)).json()));
    expect(a).toEqual(b);
    expect((a as { keys: unknown[] }).keys.length).toBeGreaterThanOrEqual(2);
  });

  it('finishes on one instance a flow started on the other, request by request', async () => {
    const merchant = await addMerchant(admin.platform);
    const config = await discover(balancer.url, merchant.client_id, merchant.client_secret);
    const before = new Map(balancer.hits);
    const start = await startAuthorization(config);
    const callback = await signInAndConsent(personBrowser(), start.url, {
      login: newLogin(),
      password: 'shared database pw',
      register: true,
    });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(callback.url), {
      pkceCodeVerifier: start.verifier,
      expectedState: start.state,
      expectedNonce: start.nonce,
    });
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    expect(userinfo.sub).toBe(tokens.claims()!.sub);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()!.sub).toBe(tokens.claims()!.sub);
    // Both instances served a share of the flow.
    for (const upstream of upstreams) {
      const origin = new URL(upstream).origin;
      expect((balancer.hits.get(origin) ?? 0) - (before.get(origin) ?? 0)).toBeGreaterThanOrEqual(4);
    }
  });

  it('keeps a sign-in under way where every instance finds it: Redis when there is one, else the database', async () => {
    const merchant = await addMerchant(admin.platform);
    const config = await discover(balancer.url, merchant.client_id, merchant.client_secret);
    const interactions = async () =>
      Number(
        (
          await admin.platform
            .db('oidc_payloads')
            .where({ model: 'Interaction' })
            .count<[{ n: string | number }]>('* as n')
        )[0]!.n,
      );
    const before = await interactions();
    const page = await personBrowser().navigate((await startAuthorization(config)).url.toString());
    expect(page.html).toContain('name="password"');
    expect((await interactions()) - before).toBe(redisUrl ? 0 : 1);
  });
});
