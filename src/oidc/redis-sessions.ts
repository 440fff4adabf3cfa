import type { Redis } from 'ioredis';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { isStorableText } from '../db/text.js';
import { EndingSessions } from './sessions.js';
import type { TokenIds } from './token-ids.js';

// oidc-provider's Sessions in Redis, when `REDIS_URL` is set: a sign-in flow reads and writes its
// session seven times, and userinfo reads it for every token bound to one. Three kinds of key:
//
//   realname:oidc:Session:<keyed hash of the id>   the payload, as in `oidc_payloads`, with its lifetime
//   realname:oidc:SessionUid:<uid>                 the keyed hash of the session's current id
//   realname:oidc:AccountSessions:<account id>     the uids of the account's sessions (a set)
//
// oidc-provider gives a session a new id at every resume (Session#resetIdentifier: it destroys the
// old id and saves the new one) but keeps its uid, so the uid names a session for its whole life:
// the account's set holds uids, and a uid's key follows the id. Redis forgets each key when its
// lifetime ends; the set lives as long as the longest session can (`ttl.sessionAbsolute`).

const PREFIX = 'realname:oidc:';
const MODEL = 'Session';
const payloadKey = (storedId: string) => `${PREFIX}Session:${storedId}`;
const uidKey = (uid: string) => `${PREFIX}SessionUid:${uid}`;
const accountKey = (accountId: string) => `${PREFIX}AccountSessions:${accountId}`;

/**
 * oidc-provider's Session model in Redis. A Session is found by id (its cookie) or by uid (an
 * interaction's session, a token bound to a session: provider.js #getInteraction,
 * token_helpers.js), saved with its lifetime and destroyed; never consumed or revoked by grant.
 */
export class RedisSessionAdapter implements Adapter {
  constructor(
    private readonly redis: Redis,
    private readonly ids: TokenIds,
    /** `ttl.sessionAbsolute`, in seconds: no session lives longer. */
    private readonly longestSession: number,
  ) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    // Session#persist saves what is left of a session's lifetime: 0 or less is a session over.
    if (expiresIn === undefined) throw new TypeError('a session is kept for its lifetime, and none was given');
    if (expiresIn <= 0) return this.destroy(id);
    const seconds = Math.ceil(expiresIn); // whole seconds, as EX takes
    const storedId = this.ids.stored(MODEL, id);
    const { jti: _jti, ...stored } = payload;
    const save = this.redis.multi().set(payloadKey(storedId), JSON.stringify(stored), 'EX', seconds);
    const { uid, accountId } = payload;
    if (typeof uid === 'string') save.set(uidKey(uid), storedId, 'EX', seconds);
    if (typeof uid === 'string' && typeof accountId === 'string')
      save.sadd(accountKey(accountId), uid).expire(accountKey(accountId), Math.max(seconds, this.longestSession));
    await save.exec();
  }

  // Ids and uids come from cookies and tokens: anything unstorable cannot exist.
  async find(id: string): Promise<AdapterPayload | undefined> {
    if (!isStorableText(id, 1000)) return undefined;
    const stored = await this.redis.get(payloadKey(this.ids.stored(MODEL, id)));
    return stored === null ? undefined : { ...(JSON.parse(stored) as AdapterPayload), jti: id };
  }

  /** Without `jti`, as the database adapter finds one by uid: the id is stored hashed. */
  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (!isStorableText(uid, 1000)) return undefined;
    const storedId = await this.redis.get(uidKey(uid));
    if (storedId === null) return undefined;
    const stored = await this.redis.get(payloadKey(storedId));
    return stored === null ? undefined : (JSON.parse(stored) as AdapterPayload);
  }

  /** The uid's key and the account's set may still name the id: both lead to nothing now. */
  async destroy(id: string): Promise<void> {
    await this.redis.del(payloadKey(this.ids.stored(MODEL, id)));
  }

  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  async consume(): Promise<void> {
    throw new TypeError('sessions are not consumed');
  }

  async revokeByGrantId(): Promise<void> {}
}

/**
 * Ends an account's sessions kept in Redis (src/security/ calls it with the session list's own
 * change, a password change, an account disabled…). Redis cannot join the caller's transaction,
 * so the sessions end at once, before it commits: should the transaction then fail, the person
 * was signed out for nothing, never left signed in after a change that ended their sessions.
 * A session is ended only if it still belongs to the account: a uid the account's set names may
 * since have signed in as someone else.
 */
export class RedisLiveSessions extends EndingSessions {
  constructor(private readonly redis: Redis) {
    super();
  }

  async end(accountId: string, which: { uids: string[] } | { except?: string }): Promise<void> {
    const uids =
      'uids' in which
        ? which.uids
        : (await this.redis.smembers(accountKey(accountId))).filter((uid) => uid !== which.except);
    if (uids.length === 0) return;
    const storedIds = await this.redis.mget(uids.map(uidKey));
    const payloads = await Promise.all(
      storedIds.map((storedId) => (storedId === null ? null : this.redis.get(payloadKey(storedId)))),
    );
    const removal = this.redis.multi();
    const removed: AdapterPayload[] = [];
    uids.forEach((uid, i) => {
      const payload = payloads[i] ? (JSON.parse(payloads[i]) as AdapterPayload) : undefined;
      if (payload && payload.accountId !== accountId) return;
      removal.srem(accountKey(accountId), uid);
      if (!payload) return;
      removal.del(payloadKey(storedIds[i]!), uidKey(uid));
      removed.push(payload);
    });
    await removal.exec();
    this.announce(accountId, removed);
  }
}
