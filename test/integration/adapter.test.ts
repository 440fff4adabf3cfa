import type { Db } from '../../src/db/index.js';
import { migrateLatest } from '../../src/db/migrate.js';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis } from '../../src/db/redis.js';
import { KnexAdapter, RedisInteractionAdapter } from '../../src/oidc/adapter.js';
import { purgeExpiredPayloads } from '../../src/oidc/purge.js';
import { RedisLiveSessions, RedisSessionAdapter } from '../../src/oidc/redis-sessions.js';
import type { EndedSession } from '../../src/oidc/sessions.js';
import { TokenIds } from '../../src/oidc/token-ids.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

describe('the knex adapter for oidc-provider models', () => {
  let database: TestDatabase;
  let db: Db;
  const ids = new TokenIds(randomBytes(32).toString('base64url'));

  beforeAll(async () => {
    database = await createTestDatabase();
    db = database.open();
    await migrateLatest(db);
  });
  afterAll(() => database.drop());

  it('stores, finds and overwrites a payload by model and id', async () => {
    const sessions = new KnexAdapter(db, 'Session', ids);
    const codes = new KnexAdapter(db, 'AuthorizationCode', ids);
    await sessions.upsert('same-id', { kind: 'Session', uid: 'u1', accountId: 'a1' }, 60);
    await codes.upsert('same-id', { kind: 'AuthorizationCode', grantId: 'g1' }, 60);
    expect(await sessions.find('same-id')).toEqual({ kind: 'Session', uid: 'u1', accountId: 'a1', jti: 'same-id' });
    expect(await codes.find('same-id')).toEqual({ kind: 'AuthorizationCode', grantId: 'g1', jti: 'same-id' });
    await sessions.upsert('same-id', { kind: 'Session', uid: 'u2', accountId: 'a1' }, 60);
    expect(await sessions.findByUid('u2')).toEqual(expect.objectContaining({ uid: 'u2' }));
    expect(await sessions.findByUid('u1')).toBeUndefined();
  });

  it('stores token, code, session and interaction ids only as keyed hashes, and payloads without them', async () => {
    const access = new KnexAdapter(db, 'AccessToken', ids);
    const interactions = new KnexAdapter(db, 'Interaction', ids);
    const token = 'Hk3xVhTq0h8n1zWQ6cJ2mYbA4rLs9pEu7gXoNdKfRiC';
    const sessionId = 'sessionCookieValue123';
    await access.upsert(token, { kind: 'AccessToken', jti: token, grantId: 'g-hash', accountId: 'a1' }, 60);
    await interactions.upsert(
      'interaction-uid-1',
      { kind: 'Interaction', jti: 'interaction-uid-1', session: { accountId: 'a1', uid: 'su1', cookie: sessionId } },
      60,
    );
    const rows = JSON.stringify(await db('oidc_payloads').whereIn('model', ['AccessToken', 'Interaction']));
    expect(rows).not.toContain(token);
    expect(rows).not.toContain(sessionId);
    expect(rows).not.toContain('interaction-uid-1');
    const stored = await db('oidc_payloads')
      .where({ model: 'AccessToken', id: ids.stored('AccessToken', token) })
      .first();
    expect(stored?.grant_id).toBe('g-hash');
    // Whoever presents the value finds the row, with its id back in the payload as oidc-provider wrote it.
    expect(await access.find(token)).toEqual({ kind: 'AccessToken', jti: token, grantId: 'g-hash', accountId: 'a1' });
    expect(await interactions.find('interaction-uid-1')).toEqual({
      kind: 'Interaction',
      jti: 'interaction-uid-1',
      session: { accountId: 'a1', uid: 'su1' },
    });
    // Another key (another platform, or a guess) finds nothing.
    expect(
      await new KnexAdapter(db, 'AccessToken', new TokenIds(randomBytes(32).toString('base64url'))).find(token),
    ).toBeUndefined();
  });

  it('keeps grant ids in clear: they name a grant, they open nothing', async () => {
    await new KnexAdapter(db, 'Grant', ids).upsert(
      'grant-in-clear',
      { kind: 'Grant', jti: 'grant-in-clear', accountId: 'a1' },
      60,
    );
    expect(await db('oidc_payloads').where({ model: 'Grant', id: 'grant-in-clear' }).first()).toBeDefined();
  });

  it('finds device codes by user code', async () => {
    const deviceCodes = new KnexAdapter(db, 'DeviceCode', ids);
    await deviceCodes.upsert('dc1', { kind: 'DeviceCode', userCode: 'ABCD-EFGH' }, 60);
    expect(await deviceCodes.findByUserCode('ABCD-EFGH')).toEqual(expect.objectContaining({ userCode: 'ABCD-EFGH' }));
  });

  it('does not return a payload past its expiry', async () => {
    const tokens = new KnexAdapter(db, 'AccessToken', ids);
    await tokens.upsert('short', { kind: 'AccessToken' }, 1);
    expect(await tokens.find('short')).toBeDefined();
    await db('oidc_payloads')
      .where({ model: 'AccessToken', id: ids.stored('AccessToken', 'short') })
      .update({ expires_at: new Date(Date.now() - 1000) });
    expect(await tokens.find('short')).toBeUndefined();
  });

  it('treats a payload saved with no lifetime left as over, not as kept without end', async () => {
    const interactions = new KnexAdapter(db, 'Interaction', ids);
    await interactions.upsert('ending', { kind: 'Interaction' }, 600);
    await interactions.upsert('ending', { kind: 'Interaction' }, 0);
    expect(await interactions.find('ending')).toBeUndefined();
    expect(await db('oidc_payloads').where({ model: 'Interaction', id: ids.stored('Interaction', 'ending') })).toEqual(
      [],
    );
    // Without a lifetime at all, a payload is kept until it is destroyed.
    await interactions.upsert('kept', { kind: 'Interaction' });
    expect(await interactions.find('kept')).toEqual({ kind: 'Interaction', jti: 'kept' });
  });

  it('marks a consumed payload with the time it was consumed, once', async () => {
    const codes = new KnexAdapter(db, 'AuthorizationCode', ids);
    await codes.upsert('c1', { kind: 'AuthorizationCode', grantId: 'g-consume' }, 60);
    await codes.consume('c1');
    const consumed = await codes.find('c1');
    expect(consumed?.consumed).toEqual(expect.any(Number));
    expect(Math.abs(Number(consumed!.consumed) - Date.now() / 1000)).toBeLessThan(60);
    await expect(codes.consume('c1')).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('lets exactly one of concurrent consumers win and revokes the grant for the others', async () => {
    const codes = new KnexAdapter(db, 'AuthorizationCode', ids);
    const access = new KnexAdapter(db, 'AccessToken', ids);
    await codes.upsert('race', { kind: 'AuthorizationCode', grantId: 'g-race' }, 60);
    await access.upsert('race-at', { kind: 'AccessToken', grantId: 'g-race' }, 60);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => codes.consume('race')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await access.find('race-at')).toBeUndefined();
  });

  it('consumes other models without treating a second consume as a replay', async () => {
    const sessions = new KnexAdapter(db, 'Interaction', ids);
    await sessions.upsert('i1', { kind: 'Interaction' }, 60);
    await sessions.consume('i1');
    await expect(sessions.consume('i1')).resolves.toBeUndefined();
  });

  it('revokes every token of a grant and nothing else', async () => {
    const access = new KnexAdapter(db, 'AccessToken', ids);
    const refresh = new KnexAdapter(db, 'RefreshToken', ids);
    await access.upsert('at-g2', { kind: 'AccessToken', grantId: 'g2' }, 60);
    await refresh.upsert('rt-g2', { kind: 'RefreshToken', grantId: 'g2' }, 60);
    await access.upsert('at-g3', { kind: 'AccessToken', grantId: 'g3' }, 60);
    await access.revokeByGrantId('g2');
    expect(await access.find('at-g2')).toBeUndefined();
    expect(await refresh.find('rt-g2')).toBeUndefined();
    expect(await access.find('at-g3')).toBeDefined();
  });

  it('destroys one payload', async () => {
    const grants = new KnexAdapter(db, 'Grant', ids);
    await grants.upsert('gr1', { kind: 'Grant', accountId: 'a1' }, 60);
    await grants.destroy('gr1');
    expect(await grants.find('gr1')).toBeUndefined();
  });

  it('treats ids that cannot be stored (NUL, lone surrogates, huge) as unknown instead of failing', async () => {
    const tokens = new KnexAdapter(db, 'AccessToken', ids);
    await expect(tokens.find('a\u0000b')).resolves.toBeUndefined();
    await expect(tokens.find('\uD800')).resolves.toBeUndefined();
    await expect(tokens.findByUid('x'.repeat(5000))).resolves.toBeUndefined();
  });

  it('purges expired rows in bounded batches until none are left, keeping live ones', async () => {
    const rows = Array.from({ length: 250 }, (_, i) => ({
      model: 'Interaction',
      id: `expired-${i}`,
      payload: JSON.stringify({ kind: 'Interaction' }),
      expires_at: new Date(Date.now() - 60_000),
    }));
    await db.batchInsert('oidc_payloads', rows, 100);
    const live = new KnexAdapter(db, 'Interaction', ids);
    await live.upsert('live', { kind: 'Interaction' }, 600);
    const removed = await purgeExpiredPayloads(db, { batchSize: 40 });
    expect(removed).toBeGreaterThanOrEqual(250);
    const [row] = await db('oidc_payloads').where('expires_at', '<', new Date()).count({ count: '*' });
    expect(Number(row?.count)).toBe(0);
    expect(await live.find('live')).toBeDefined();
  });

  it('stops a purge after maxBatches, leaving the rest for the next run', async () => {
    const rows = Array.from({ length: 30 }, (_, i) => ({
      model: 'Session',
      id: `old-${i}`,
      payload: JSON.stringify({ kind: 'Session' }),
      expires_at: new Date(Date.now() - 60_000),
    }));
    await db.batchInsert('oidc_payloads', rows, 100);
    expect(await purgeExpiredPayloads(db, { batchSize: 10, maxBatches: 2 })).toBe(20);
    expect(await purgeExpiredPayloads(db, { batchSize: 10 })).toBe(10);
  });
});

describe('interactions in Redis (REDIS_URL set)', () => {
  const ids = new TokenIds(randomBytes(32).toString('base64url'));
  let redis: Redis;
  let interactions: RedisInteractionAdapter;

  beforeAll(() => {
    redis = connectRedis(TEST_REDIS_URL);
    interactions = new RedisInteractionAdapter(redis, ids);
  });
  afterAll(() => closeRedis(redis));

  /** The one key an interaction is kept under, read as Redis holds it. */
  const raw = async (id: string) => {
    const key = `realname:oidc:Interaction:${ids.stored('Interaction', id)}`;
    return { value: await redis.get(key), ttl: await redis.ttl(key) };
  };

  it('keeps an interaction under a keyed hash of its id, without the session cookie, for its lifetime', async () => {
    const uid = `interaction-${randomBytes(8).toString('hex')}`;
    const sessionId = `session-${randomBytes(8).toString('hex')}`;
    await interactions.upsert(
      uid,
      { kind: 'Interaction', jti: uid, session: { accountId: 'a1', uid: 'su1', cookie: sessionId } },
      600,
    );
    const kept = await raw(uid);
    expect(kept.value).not.toBeNull();
    expect(kept.value).not.toContain(uid);
    expect(kept.value).not.toContain(sessionId);
    expect(kept.ttl).toBeGreaterThan(590);
    expect(kept.ttl).toBeLessThanOrEqual(600);
    expect(await redis.keys(`*${uid}*`)).toEqual([]);
    expect(await interactions.find(uid)).toEqual({
      kind: 'Interaction',
      jti: uid,
      session: { accountId: 'a1', uid: 'su1' },
    });
    // Another key (another platform, or a guess) finds nothing.
    expect(
      await new RedisInteractionAdapter(redis, new TokenIds(randomBytes(32).toString('base64url'))).find(uid),
    ).toBeUndefined();
  });

  it('overwrites on a second save, forgets on destroy and when its lifetime ends', async () => {
    const uid = `interaction-${randomBytes(8).toString('hex')}`;
    await interactions.upsert(
      uid,
      { kind: 'Interaction', jti: uid, prompt: { name: 'login', reasons: [], details: {} } },
      600,
    );
    await interactions.upsert(
      uid,
      { kind: 'Interaction', jti: uid, prompt: { name: 'consent', reasons: [], details: {} } },
      600,
    );
    expect(await interactions.find(uid)).toEqual({
      kind: 'Interaction',
      jti: uid,
      prompt: { name: 'consent', reasons: [], details: {} },
    });
    await interactions.destroy(uid);
    expect(await interactions.find(uid)).toBeUndefined();
    expect((await raw(uid)).value).toBeNull();

    // Saved once its lifetime is over (a step's result saved at the last second): it is over.
    const over = `interaction-${randomBytes(8).toString('hex')}`;
    await interactions.upsert(over, { kind: 'Interaction', jti: over }, 600);
    await interactions.upsert(over, { kind: 'Interaction', jti: over }, 0);
    expect(await interactions.find(over)).toBeUndefined();

    const brief = `interaction-${randomBytes(8).toString('hex')}`;
    await interactions.upsert(brief, { kind: 'Interaction', jti: brief }, 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await interactions.find(brief)).toBeUndefined();
  });

  it('refuses to keep an interaction without a lifetime, and has no uid, user code or consumption', async () => {
    await expect(interactions.upsert('no-ttl', { kind: 'Interaction' })).rejects.toThrow(TypeError);
    expect((await raw('no-ttl')).value).toBeNull();
    expect(await interactions.findByUid()).toBeUndefined();
    expect(await interactions.findByUserCode()).toBeUndefined();
    await expect(interactions.consume()).rejects.toThrow('interactions are not consumed');
  });

  it('treats ids that cannot be stored (NUL, lone surrogates, huge) as unknown instead of failing', async () => {
    for (const id of ['a\u0000b', '\ud800', 'x'.repeat(5000)]) expect(await interactions.find(id)).toBeUndefined();
  });
});

describe('sessions in Redis (REDIS_URL set)', () => {
  const ids = new TokenIds(randomBytes(32).toString('base64url'));
  const LONGEST = 7200;
  let redis: Redis;
  let sessions: RedisSessionAdapter;
  let live: RedisLiveSessions;
  const ended: EndedSession[][] = [];

  beforeAll(() => {
    redis = connectRedis(TEST_REDIS_URL);
    sessions = new RedisSessionAdapter(redis, ids, LONGEST);
    live = new RedisLiveSessions(redis);
    live.onEnded((list) => ended.push(list));
  });
  afterAll(() => closeRedis(redis));
  beforeEach(() => {
    ended.length = 0;
  });

  const random = (prefix: string) => `${prefix}-${randomBytes(8).toString('hex')}`;
  /** A signed-in session as oidc-provider saves it: `authorizations` names the merchants it signed in to. */
  const signedIn = (id: string, uid: string, accountId: string, clients: string[] = []) => ({
    kind: 'Session',
    jti: id,
    uid,
    accountId,
    loginTs: 1_700_000_000,
    authorizations: Object.fromEntries(clients.map((client) => [client, { sid: `sid-${client}` }])),
  });

  it('keeps a session under a keyed hash of its id for its lifetime, found by id and by uid', async () => {
    const [id, uid, account] = [random('session'), random('uid'), random('account')];
    await sessions.upsert(id, signedIn(id, uid, account), 600);
    const key = `realname:oidc:Session:${ids.stored('Session', id)}`;
    const value = await redis.get(key);
    expect(value).not.toBeNull();
    expect(value).not.toContain(id);
    expect(await redis.ttl(key)).toBeGreaterThan(590);
    expect(await redis.keys(`*${id}*`)).toEqual([]);
    // The account's set lives as long as its longest session can.
    expect(await redis.smembers(`realname:oidc:AccountSessions:${account}`)).toEqual([uid]);
    expect(await redis.ttl(`realname:oidc:AccountSessions:${account}`)).toBeGreaterThan(LONGEST - 10);

    expect(await sessions.find(id)).toEqual(signedIn(id, uid, account));
    const { jti: _jti, ...byUid } = signedIn(id, uid, account);
    expect(await sessions.findByUid(uid)).toEqual(byUid);
    expect(
      await new RedisSessionAdapter(redis, new TokenIds(randomBytes(32).toString('base64url')), LONGEST).find(id),
    ).toBeUndefined();
  });

  it('follows a session to its new id at a resume, and forgets it when destroyed or over', async () => {
    const [first, second, uid, account] = [random('session'), random('session'), random('uid'), random('account')];
    await sessions.upsert(first, signedIn(first, uid, account), 600);
    // Session#resetIdentifier, then Session#save: the old id destroyed, the same uid saved under a new one.
    await sessions.destroy(first);
    await sessions.upsert(second, signedIn(second, uid, account), 600);
    expect(await sessions.find(first)).toBeUndefined();
    expect(await sessions.find(second)).toEqual(signedIn(second, uid, account));
    expect((await sessions.findByUid(uid))?.accountId).toBe(account);

    await sessions.destroy(second);
    expect(await sessions.find(second)).toBeUndefined();
    expect(await sessions.findByUid(uid)).toBeUndefined();

    const over = random('session');
    await sessions.upsert(over, signedIn(over, random('uid'), account), 600);
    await sessions.upsert(over, signedIn(over, random('uid'), account), 0);
    expect(await sessions.find(over)).toBeUndefined();
  });

  it('ends one session, all but one, or all of an account, and tells who listens which merchants to log out of', async () => {
    const account = random('account');
    const made = [0, 1, 2].map(() => ({ id: random('session'), uid: random('uid') }));
    for (const [i, { id, uid }] of made.entries())
      await sessions.upsert(id, signedIn(id, uid, account, i === 0 ? ['merchant-a', 'merchant-b'] : []), 600);
    const other = { id: random('session'), uid: random('uid'), account: random('account') };
    await sessions.upsert(other.id, signedIn(other.id, other.uid, other.account, ['merchant-a']), 600);

    await live.end(account, { uids: [made[0]!.uid] });
    expect(await sessions.find(made[0]!.id)).toBeUndefined();
    expect(await sessions.findByUid(made[0]!.uid)).toBeUndefined();
    expect(ended).toEqual([
      [
        {
          accountId: account,
          authorizations: { 'merchant-a': { sid: 'sid-merchant-a' }, 'merchant-b': { sid: 'sid-merchant-b' } },
        },
      ],
    ]);

    // A session without merchants ends too; there is no one to tell.
    await live.end(account, { except: made[1]!.uid });
    expect(await sessions.find(made[2]!.id)).toBeUndefined();
    expect(await sessions.find(made[1]!.id)).toBeDefined();
    expect(ended).toHaveLength(1);

    await live.end(account, {});
    expect(await sessions.find(made[1]!.id)).toBeUndefined();
    expect(await redis.smembers(`realname:oidc:AccountSessions:${account}`)).toEqual([]);
    // Another account's session is not touched, even when named by its uid.
    await live.end(account, { uids: [other.uid] });
    expect(await sessions.find(other.id)).toBeDefined();
  });

  it('does not end a session that has since signed in as another account', async () => {
    const [id, uid, first, second] = [random('session'), random('uid'), random('account'), random('account')];
    await sessions.upsert(id, signedIn(id, uid, first), 600);
    await sessions.upsert(id, signedIn(id, uid, second), 600);
    await live.end(first, {});
    expect((await sessions.find(id))?.accountId).toBe(second);
    await live.end(second, {});
    expect(await sessions.find(id)).toBeUndefined();
  });

  it('refuses to keep a session without a lifetime, and treats unstorable ids as unknown', async () => {
    await expect(sessions.upsert('no-ttl', { kind: 'Session' })).rejects.toThrow(TypeError);
    await expect(sessions.consume()).rejects.toThrow('sessions are not consumed');
    for (const id of ['a\u0000b', '\ud800', 'x'.repeat(5000)]) {
      expect(await sessions.find(id)).toBeUndefined();
      expect(await sessions.findByUid(id)).toBeUndefined();
    }
  });
});
