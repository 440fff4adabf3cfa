import { randomBytes, randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { migrationSource } from '../../migrations/index.js';
import { createDb } from '../../src/db/index.js';
import { Health } from '../../src/http/health.js';
import { MemoryCounters } from '../../src/rate-limits/counters.js';
import { ProviderCallTotals, type ProviderCallTotal } from '../../src/identity/provider-calls.js';
import { insertProviderCall } from '../../src/identity/store.js';
import { createTestDatabase, ENGINE, type TestDatabase } from '../helpers/db.js';
import { newLogin } from '../helpers/merchant.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';

/** One sample of the exposition text, or undefined: `name{labels} value`. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('operations endpoints', () => {
  let database: TestDatabase;
  let running: RunningPlatform;
  let base: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    running = await startPlatform(database);
    base = running.issuer;
  });

  afterAll(async () => {
    await running?.stop();
    await database?.drop();
  });

  const scrape = async () => {
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text();
  };

  describe('/healthz and /readyz', () => {
    it('answers /healthz while the process runs', async () => {
      const response = await fetch(`${base}/healthz`);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(await response.json()).toEqual({ status: 'ok' });
    });

    it('is ready when the database answers and every migration is applied', async () => {
      const response = await fetch(`${base}/readyz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ready' });
    });

    it('is not ready while a migration is not applied, and names it', async () => {
      const [last] = (await migrationSource.getMigrations([])).slice(-1);
      const db = running.platform.db;
      const row = await db('knex_migrations').where({ name: last }).first();
      await db('knex_migrations').where({ name: last }).delete();
      try {
        // No Accept header, as a balancer's probe: problem+json all the same.
        const response = await fetch(`${base}/readyz`);
        expect(response.status).toBe(503);
        expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        const problem = (await response.json()) as { detail: string };
        expect(problem).toMatchObject({
          type: 'urn:realname:problem:not-ready',
          status: 503,
          checks: { migrations: `not applied: ${last}` },
        });
        expect(problem.detail).toContain(last);
      } finally {
        await db('knex_migrations').insert(row);
      }
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
    });

    it('reports a database that cannot be reached without naming its address', async () => {
      const unreachable = createDb({
        databaseUrl: 'postgres://nobody@127.0.0.1:1/none',
        dataDir: ':memory:',
        poolMax: 1,
      });
      const knexLog = jest.spyOn(console, 'log').mockImplementation(() => {}); // knex logs the refused connection
      try {
        expect(await new Health(unreachable, new MemoryCounters()).readinessProblems()).toEqual({
          database: 'unreachable',
        });
      } finally {
        knexLog.mockRestore();
        await unreachable.destroy();
      }
    });

    it('writes no audit event for probes', async () => {
      const events = async () => (await running.platform.audit.size()) + (await running.platform.audit.queued());
      const before = await events();
      await Promise.all([fetch(`${base}/healthz`), fetch(`${base}/readyz`), fetch(`${base}/metrics`)]);
      expect(await events()).toBe(before);
    });
  });

  describe('/metrics', () => {
    it('labels requests by route pattern, never by a raw path', async () => {
      const uid = randomBytes(12).toString('hex');
      const junk = randomBytes(12).toString('hex');
      await fetch(`${base}/interaction/${uid}/register`);
      await fetch(`${base}/no/such/${junk}`);
      await fetch(`${base}/.well-known/openid-configuration`);
      await fetch(`${base}/jwks`);
      await fetch(`${base}/healthz`, { method: 'PROPFIND' });
      const text = await scrape();
      expect(text).not.toContain(uid);
      expect(text).not.toContain(junk);
      expect(
        sample(text, 'realname_http_requests_total', 'route="/interaction/:uid/register",method="GET",status="4xx"'),
      ).toBe(1);
      expect(
        sample(
          text,
          'realname_http_requests_total',
          'route="/.well-known/openid-configuration",method="GET",status="2xx"',
        ),
      ).toBe(1);
      expect(sample(text, 'realname_http_requests_total', 'route="/jwks",method="GET",status="2xx"')).toBe(1);
      expect(
        sample(text, 'realname_http_requests_total', 'route="unmatched",method="GET",status="4xx"'),
      ).toBeGreaterThanOrEqual(1);
      expect(text).toMatch(/realname_http_requests_total\{route="[^"]+",method="other",status="4xx"\} 1/);
      expect(
        sample(text, 'realname_http_request_duration_seconds_count', 'route="/jwks",method="GET",status="2xx"'),
      ).toBe(1);
      expect(text).toContain(
        'realname_http_request_duration_seconds_bucket{le="0.005",route="/jwks",method="GET",status="2xx"}',
      );
    });

    it('reports provider calls and their cost from the database', async () => {
      const db = running.platform.db;
      await insertProviderCall(db, {
        provider: 'sandbox',
        method: 'document',
        outcome: 'match',
        cost_fen: 50,
        duration_ms: 12,
      });
      await insertProviderCall(db, {
        provider: 'sandbox',
        method: 'document',
        outcome: 'match',
        cost_fen: 50,
        duration_ms: 9,
      });
      await insertProviderCall(db, {
        provider: 'sandbox',
        method: 'person_match',
        outcome: 'unavailable',
        cost_fen: 0,
        duration_ms: 3000,
      });
      const text = await scrape();
      expect(
        sample(text, 'realname_provider_calls_total', 'provider="sandbox",method="document",outcome="match"'),
      ).toBe(2);
      expect(
        sample(text, 'realname_provider_cost_yuan_total', 'provider="sandbox",method="document",outcome="match"'),
      ).toBe(1);
      expect(
        sample(text, 'realname_provider_calls_total', 'provider="sandbox",method="person_match",outcome="unavailable"'),
      ).toBe(1);
      expect(sample(text, 'realname_metrics_database_up')).toBe(1);
    });

    it('keeps provider call totals exact as calls arrive, summing settled rows only once', async () => {
      const db = running.platform.db;
      const everything = async () => {
        const rows: Array<{ provider: string; method: string; outcome: string; cost_fen: number }> = await db(
          'provider_calls',
        ).select('provider', 'method', 'outcome', 'cost_fen');
        const totals = new Map<string, { calls: number; cost_fen: number }>();
        for (const r of rows) {
          const key = `${r.provider}/${r.method}/${r.outcome}`;
          const total = totals.get(key) ?? { calls: 0, cost_fen: 0 };
          totals.set(key, { calls: total.calls + 1, cost_fen: total.cost_fen + r.cost_fen });
        }
        return totals;
      };
      const asMap = (rows: ProviderCallTotal[]) =>
        new Map(rows.map((r) => [`${r.provider}/${r.method}/${r.outcome}`, { calls: r.calls, cost_fen: r.cost_fen }]));
      // Rows settle at once here, so every read but the first sums new rows into the kept totals.
      const totals = new ProviderCallTotals(db, 0);
      for (const outcome of ['match', 'mismatch', 'unavailable', 'match'] as const) {
        await insertProviderCall(db, {
          provider: 'sandbox',
          method: 'phone_three_element',
          outcome,
          cost_fen: outcome === 'unavailable' ? 0 : 30,
          duration_ms: 5,
        });
        expect(asMap(await totals.read())).toEqual(await everything());
        expect(asMap(await totals.read())).toEqual(await everything());
      }
    });

    it('reports the audit log size, the events queued for it and the events this process appended', async () => {
      const before = sample(await scrape(), 'realname_audit_appends_total')!;
      await running.platform.accounts.register({ login: newLogin(), password: 'metrics password 1' });
      const text = await scrape();
      expect(sample(text, 'realname_audit_log_size')).toBe(await running.platform.audit.size());
      expect(sample(text, 'realname_audit_queued')).toBe(await running.platform.audit.queued());
      expect(sample(text, 'realname_audit_queued')).toBeGreaterThanOrEqual(1);
      expect(sample(text, 'realname_audit_appends_total')).toBe(before + 1);
    });

    it('does not count an append whose transaction rolled back', async () => {
      const before = sample(await scrape(), 'realname_audit_appends_total')!;
      const { db, audit: log } = running.platform;
      await expect(
        db.transaction(async (tx) => {
          await log.append(tx, {
            type: 'account.registered',
            actor: { type: 'account', id: randomUUID() },
            subjects: {},
            payload: { login_type: 'email' },
          });
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(sample(await scrape(), 'realname_audit_appends_total')).toBe(before);
    });

    it('reports the database pool and Node default metrics', async () => {
      const text = await scrape();
      // The test harness opens PostgreSQL pools of 5; PGlite has one connection.
      expect(sample(text, 'realname_db_pool_max')).toBe(ENGINE === 'postgres' ? 5 : 1);
      expect(sample(text, 'realname_db_pool_connections', 'state="used"')).toBeGreaterThanOrEqual(0);
      expect(sample(text, 'realname_db_pool_pending_acquires')).toBe(0);
      // No sign-in under way: no password verification running or waiting.
      expect(sample(text, 'realname_argon2_computations', 'state="running"')).toBe(0);
      expect(sample(text, 'realname_argon2_computations', 'state="waiting"')).toBe(0);
      expect(text).toContain('process_cpu_user_seconds_total');
      expect(text).toContain('nodejs_heap_size_used_bytes');
      expect(text).toContain('nodejs_eventloop_lag_seconds');
    });
  });

  describe('with a metrics token', () => {
    const token = randomBytes(24).toString('base64url');
    let guarded: RunningPlatform;

    beforeAll(async () => {
      guarded = await startPlatform(database, { metrics: { token } });
    });

    afterAll(async () => {
      await guarded?.stop();
    });

    it('refuses a scrape without the token or with another one', async () => {
      for (const headers of [
        {},
        { Authorization: 'Bearer wrong-token-wrong-token' },
        { Authorization: `Basic ${token}` },
      ] as Array<Record<string, string>>) {
        const response = await fetch(`${guarded.issuer}/metrics`, {
          headers: { Accept: 'application/json', ...headers },
        });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
        expect(await response.text()).not.toContain('realname_');
      }
    });

    it('serves the metrics with the token', async () => {
      const response = await fetch(`${guarded.issuer}/metrics`, { headers: { Authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('realname_http_requests_total');
    });
  });

  describe('in production', () => {
    // A database of its own: the platform's keys are sealed with this master key, not the test one.
    let own: TestDatabase;
    let production: RunningPlatform;

    beforeAll(async () => {
      own = await createTestDatabase();
      production = await startPlatform(own, {
        env: 'production',
        issuer: 'https://rn.example.test',
        trustProxy: true,
        trustedProxies: ['127.0.0.1'],
        masterKey: randomBytes(32).toString('base64'),
        verification: { provider: 'http', http: { baseUrl: 'https://verify.example.test', apiKey: 'k'.repeat(32) } },
      });
    });

    afterAll(async () => {
      await production?.stop();
      await own?.drop();
    });

    it('answers /metrics 404 when no token is configured, like any unknown page', async () => {
      const address = `http://127.0.0.1:${(production.server.address() as { port: number }).port}`;
      const response = await fetch(`${address}/metrics`, { headers: { Accept: 'application/json' } });
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ type: 'urn:realname:problem:not-found' });
      expect((await fetch(`${address}/healthz`)).status).toBe(200);
    });
  });

  describe('while shutting down', () => {
    it('answers /readyz 503 so a balancer drains the process', async () => {
      running.platform.health.drain();
      const response = await fetch(`${base}/readyz`);
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ checks: { shutdown: 'shutting down' } });
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    });
  });
});
