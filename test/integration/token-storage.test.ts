import * as oidc from 'openid-client';
import { migrationSource } from '../../migrations/index.js';
import type { Db } from '../../src/db/index.js';
import { migrateLatest, pendingMigrations } from '../../src/db/migrate.js';
import { createTestDatabase } from '../helpers/db.js';
import {
  CALLBACK,
  newLogin,
  personBrowser,
  redeemCode,
  signInAndConsent,
  startAuthorization,
  startWithMerchant,
} from '../helpers/merchant.js';

/** Every row of every table in the platform's schema, as text: what a read-only dump holds. */
async function dumpDatabase(db: Db): Promise<string> {
  const { rows } = await db.raw(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
  );
  const parts: string[] = [];
  for (const { table_name: table } of rows as Array<{ table_name: string }>) {
    const dumped = await db.raw(`SELECT row_to_json(t)::text AS row FROM "${table}" t`);
    parts.push(...(dumped.rows as Array<{ row: string }>).map((r) => r.row));
  }
  return parts.join('\n');
}

// Issue item 8: access and refresh tokens and session ids were the primary keys of oidc_payloads,
// so a read-only copy of the database yielded working tokens (userinfo, dossier images).
describe('a copy of the database', () => {
  let started: Awaited<ReturnType<typeof startWithMerchant>>;

  beforeAll(async () => {
    started = await startWithMerchant();
  });
  afterAll(() => started.running.stop());

  it('holds no live token, code or session id, and no id it holds works as a token', async () => {
    const { running, config } = started;
    const browser = personBrowser();
    const start = await startAuthorization(config);
    const callback = await signInAndConsent(browser, start.url, {
      login: newLogin(),
      password: 'correct horse battery',
      register: true,
    });
    expect(callback.url.startsWith(CALLBACK)).toBe(true);
    const code = new URL(callback.url).searchParams.get('code')!;
    const { tokens, claims } = await redeemCode(config, new URL(callback.url), start);
    const session = (await browser.jar.getCookies(running.issuer)).find((c) => c.key === '_session')?.value;
    expect(session).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();

    const dump = await dumpDatabase(running.platform.db);
    expect(dump).toContain('"model":"AccessToken"'); // the dump does hold the token rows
    for (const secret of [tokens.access_token, tokens.refresh_token!, code, session!])
      expect(dump).not.toContain(secret);

    // The attack: every id in oidc_payloads presented as a bearer token and as a refresh token.
    const ids: Array<{ model: string; id: string }> = await running.platform.db('oidc_payloads').select('model', 'id');
    expect(ids.map((r) => r.model)).toEqual(
      expect.arrayContaining(['AccessToken', 'RefreshToken', 'Session', 'Grant']),
    );
    for (const { id } of ids) {
      const answer = await fetch(`${running.issuer}/me`, { headers: { Authorization: `Bearer ${id}` } });
      expect(answer.status).toBe(401);
    }
    for (const { id } of ids.filter((r) => r.model === 'RefreshToken')) {
      await expect(oidc.refreshTokenGrant(config, id)).rejects.toMatchObject({ error: 'invalid_grant' });
    }

    // The tokens themselves still work: only their holders can use them.
    expect(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)).toMatchObject({ sub: claims.sub });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    // The person's session still signs them in without a password (found by its cookie).
    const again = await startAuthorization(config, { prompt: 'none', scope: 'openid' });
    const silent = await browser.navigate(again.url.toString());
    expect(new URL(silent.url).searchParams.get('code')).toBeTruthy();
  });
});

describe('upgrading to hashed ids (migration 012)', () => {
  it('deletes the tokens, codes and sessions stored in clear, and keeps the grants', async () => {
    const database = await createTestDatabase({ empty: true });
    const db = database.open();
    try {
      while ((await pendingMigrations(db))[0] !== '20261205_012_hashed_token_ids')
        await db.migrate.up({ migrationSource });
      const row = (model: string, id: string) => ({
        model,
        id,
        payload: JSON.stringify({ kind: model, jti: id }),
        grant_id: 'g1',
      });
      await db('oidc_payloads').insert([
        row('AccessToken', 'at-in-clear'),
        row('RefreshToken', 'rt-in-clear'),
        row('Session', 'sid-in-clear'),
        row('Grant', 'g1'),
      ]);
      await migrateLatest(db);
      expect(await db('oidc_payloads').select('model', 'id')).toEqual([{ model: 'Grant', id: 'g1' }]);
    } finally {
      await database.drop();
    }
  });
});
