import { createHmac, createSecretKey } from 'node:crypto';
import { normalizeLogin } from '../accounts/login.js';
import { BoundedMap } from '../bounded-map.js';
import type { AuditEventInput } from '../audit/events.js';
import type { AuditLog } from '../audit/log.js';
import type { Config } from '../config/schema.js';
import { PlatformError } from '../errors.js';
import type { CounterStore, Window } from './counters.js';

type LimitName = AuditEventInput<'security.rate_limited'>['payload']['limit'];
type KeyKind = AuditEventInput<'security.rate_limited'>['payload']['key_kind'];
/** Who a lockout's audit event names: the limited account or client when known, else the system. */
type Who = Pick<AuditEventInput, 'actor' | 'subjects'>;
const SYSTEM: Who = { actor: { type: 'system' } };

/** A request refused by a rate limit: 429 with Retry-After (RFC 6585 §4, RFC 9110 §10.2.3). */
export class RateLimited extends PlatformError {
  constructor(
    readonly retryAfter: number,
    refusal: string,
  ) {
    super('rate-limited', 429, `${refusal}; try again in ${retryAfter} seconds.`, {
      headers: { 'Retry-After': String(retryAfter) },
    });
  }
}

/** Rate-limit keys whose hashes are kept in memory (a few hundred bytes each: about 1 MiB at most). */
const KEPT_HASHES = 4096;

const secondsOf = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/**
 * One limit: a window counted in the platform's counter store (./counters.ts) and what its
 * lockout records. The hit that starts a refusal is the one whose count is exactly one over the
 * limit, so a lockout is audited once, however many requests follow.
 */
interface LimitOptions {
  counters: CounterStore;
  window: Window;
  name: LimitName;
  keyKind: KeyKind;
  /** What a refusal says, before its wait. */
  refusal: string;
  audit: AuditLog;
  /** The key as stored: keyed-hashed, so no login or address is kept in the clear. */
  hashed: (key: string) => string;
}

class Limit {
  private readonly counters: CounterStore;
  private readonly window: Window;
  private readonly name: LimitName;
  private readonly keyKind: KeyKind;
  private readonly refusal: string;
  private readonly audit: AuditLog;
  private readonly hashed: (key: string) => string;

  constructor(options: LimitOptions) {
    ({
      counters: this.counters,
      window: this.window,
      name: this.name,
      keyKind: this.keyKind,
      refusal: this.refusal,
      audit: this.audit,
      hashed: this.hashed,
    } = options);
  }

  /** Hits a key may count within a window before the next is refused. */
  get points(): number {
    return this.window.points;
  }

  /** Counts one hit; returns the key's count with it, or throws RateLimited when it is over the limit. */
  async consume(key: string, who: () => Who | Promise<Who> = () => SYSTEM): Promise<number> {
    const { count, msBeforeNext } = await this.counters.hit(this.window, this.hashed(key));
    if (count <= this.points) return count;
    const retryAfter = secondsOf(msBeforeNext);
    if (count === this.points + 1) await this.recordLockout(retryAfter, who);
    throw new RateLimited(retryAfter, this.refusal);
  }

  // Its own transaction: the refusal is recorded even though the request goes no further.
  private async recordLockout(retryAfter: number, who: () => Who | Promise<Who>): Promise<void> {
    await this.audit.record({
      type: 'security.rate_limited',
      ...(await who()),
      payload: { limit: this.name, key_kind: this.keyKind, retry_after: retryAfter },
    });
  }

  /**
   * Throws RateLimited when the key has used all its hits, counting nothing: for a quota spent
   * only after the fact (see `countIssuedToken`). The refusal that uses the last hit is audited there.
   */
  async refuseWhenSpent(key: string): Promise<void> {
    const state = await this.counters.peek(this.window, this.hashed(key));
    if (state && state.count >= this.points) throw new RateLimited(secondsOf(state.msBeforeNext), this.refusal);
  }

  /** Counts one hit after the fact: never refuses; the hit that spends the last one is audited. */
  async spend(key: string, who: () => Who | Promise<Who>): Promise<void> {
    const { count, msBeforeNext } = await this.counters.hit(this.window, this.hashed(key));
    if (count === this.points) await this.recordLockout(secondsOf(msBeforeNext), who);
  }

  /** Gives one counted hit back, unless the key is over its limit (a lock keeps its count) or its window ended. */
  async refund(key: string): Promise<void> {
    await this.counters.refund(this.window, this.hashed(key));
  }

  /** Forgets a key's count, unless it is over its limit: a success racing a lock never lifts it. */
  async clear(key: string): Promise<void> {
    await this.counters.clear(this.window, this.hashed(key));
  }
}

/** The refusal to answer when several limits refused: the one with the longest wait. */
function longestRefusal(outcomes: Array<PromiseSettledResult<unknown>>): unknown {
  const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
  const other = failures.find((err) => !(err instanceof RateLimited));
  if (other || failures.length === 0) return other;
  return (failures as RateLimited[]).reduce((a, b) => (b.retryAfter > a.retryAfter ? b : a));
}

/** Counts every hit even when one is refused; throws the refusal with the longest wait. */
async function consumeAll(hits: Array<Promise<number> | undefined>): Promise<void> {
  const refusal = longestRefusal(await Promise.allSettled(hits));
  if (refusal) throw refusal;
}

export interface RateLimitOptions {
  limits: Config['rateLimits'];
  /** Check API calls a merchant may make per minute (`verification.checkRatePerMinute`). */
  checkPerMinute: number;
  /**
   * Keys (logins, IPs) are stored as HMAC-SHA256 under this secret: no login or IP in the table,
   * none recoverable by hashing candidates, and a fixed length for its varchar(255).
   */
  keySecret: string;
}

/**
 * The platform's rate limits, counted in one counter store (./counters.ts, chosen by
 * `countersFor`): in memory where one process serves the platform, in Redis or the database
 * where instances share the counts. Counting never joins a request's transaction: a count must
 * survive that transaction's rollback (and on PGlite, one connection, a query outside an open
 * transaction would wait for it forever). Callers count before they open one.
 *
 * Every limit that guards a secret (a password, a client secret, an identity check) counts the
 * attempt before the secret is evaluated, with the store's one atomic hit: N attempts sent at
 * once get at most the limit evaluated, the rest refused.
 */
export class RateLimits {
  private readonly signInByLogin: Limit;
  private readonly signInByIp: Limit;
  private readonly registrationByIp: Limit;
  private readonly verificationByAccount: Limit;
  private readonly checkByClient: Limit;
  private readonly tokensByClient: Limit;
  private readonly tokenFailuresByClientIp: Limit;
  private readonly tokenByIp: Limit;
  private readonly authorizationByIp: Limit;
  private readonly passwordResetByIp: Limit;
  private readonly passwordResetByLogin: Limit;

  constructor(
    private readonly counters: CounterStore,
    audit: AuditLog,
    options: RateLimitOptions,
  ) {
    const hashKey = createSecretKey(Buffer.from(options.keySecret, 'utf8'));
    // The same few keys (a merchant's id, an address) come back at every request: their hashes
    // are kept, a bounded number of them (an HMAC is 5% of a client_credentials grant's CPU).
    const hashes = new BoundedMap<string, string>(KEPT_HASHES);
    const hashed = (key: string) => {
      let hash = hashes.get(key);
      if (hash === undefined) {
        hash = createHmac('sha256', hashKey).update(`rate-limit:${key}`, 'utf8').digest('base64url');
        hashes.set(key, hash);
      }
      return hash;
    };
    const limit = (
      name: LimitName,
      keyKind: KeyKind,
      refusal: string,
      window: { points: number; duration: number; blockDuration?: number },
    ) =>
      new Limit({
        counters,
        window: { prefix: `${name}:${keyKind}`, ...window },
        name,
        keyKind,
        refusal,
        audit,
        hashed,
      });
    // A failure limit counts every attempt until it is known to have succeeded (see signIn), and
    // locks when a hit goes over `points` (the library refuses and blocks that hit).
    const failures = (f: { maxFailures: number; window: number; lockDuration: number }) => ({
      points: f.maxFailures,
      duration: f.window,
      blockDuration: f.lockDuration,
    });
    const requests = (r: { max: number; window: number }) => ({ points: r.max, duration: r.window });
    const { signIn, registration, verification, token, authorization, passwordReset } = options.limits;
    this.signInByLogin = limit('sign_in', 'login', 'Too many failed sign-in attempts', failures(signIn.perLogin));
    this.signInByIp = limit('sign_in', 'ip', 'Too many failed sign-in attempts', failures(signIn.perIp));
    this.registrationByIp = limit(
      'registration',
      'ip',
      'Too many registrations from this network',
      requests(registration.perIp),
    );
    this.verificationByAccount = limit(
      'verification',
      'account',
      'Too many verification attempts',
      requests(verification.perAccount),
    );
    this.checkByClient = limit('check_api', 'client', 'Too many check API calls', {
      points: options.checkPerMinute,
      duration: 60,
    });
    this.tokensByClient = limit('token', 'client', 'Too many token requests', requests(token.perClient));
    this.tokenFailuresByClientIp = limit(
      'token',
      'client_ip',
      'Too many failed client authentications',
      failures(token.failuresPerClientIp),
    );
    this.tokenByIp = limit('token', 'ip', 'Too many token requests', requests(token.perIp));
    this.authorizationByIp = limit(
      'authorization',
      'ip',
      'Too many sign-in requests from this network',
      requests(authorization.perIp),
    );
    this.passwordResetByIp = limit(
      'password_reset',
      'ip',
      'Too many password reset requests from this network',
      requests(passwordReset.perIp),
    );
    this.passwordResetByLogin = limit(
      'password_reset',
      'login',
      'Too many password reset requests for this login',
      requests(passwordReset.perLogin),
    );
  }

  /**
   * A password sign-in under its limits, per client IP and per login. Logins are counted
   * normalized, so spellings of one login share a count; one that is no valid login can never
   * succeed and counts against the IP only.
   *
   * Every attempt is counted before the password is checked: attempts sent at once are all
   * counted, so a burst gets no more guesses than a sequence (counting only after a failure let
   * every attempt already in flight through). An attempt refused by one limit gives its count back
   * to the others; a success gives its count back to the IP and clears the login's (not the IP's
   * whole count: one account of one's own must not reset a guesser's budget); an attempt that
   * failed for another reason than a wrong login or password (401) gives both back. Neither undoes
   * a lock that a concurrent attempt set (Limit.refund, Limit.clear). The `maxFailures`-th wrong
   * attempt locks: it spends the one hit over the limit, which blocks the key for `lockDuration`
   * and records the lockout, and is answered with the refusal.
   */
  async signIn<T>(attempt: { ip: string; login: string }, authenticate: () => Promise<T>): Promise<T> {
    const login = normalizeLogin(attempt.login)?.login;
    const keys: Array<[Limit, string]> = [
      [this.signInByIp, attempt.ip],
      ...(login ? [[this.signInByLogin, login] as [Limit, string]] : []),
    ];
    const counts = await countAll(keys);
    let result: T;
    try {
      result = await authenticate();
    } catch (err) {
      if (!(err instanceof PlatformError) || err.status !== 401) {
        await Promise.all(keys.map(([limit, key]) => limit.refund(key)));
        throw err;
      }
      await consumeAll(keys.map(([limit, key], i) => (counts[i]! >= limit.points ? limit.consume(key) : undefined)));
      throw err;
    }
    await Promise.all([this.signInByIp.refund(attempt.ip), login ? this.signInByLogin.clear(login) : undefined]);
    return result;
  }

  /**
   * One password reset request (a code asked for, or a reset by re-verification), per client IP
   * and per login: normalized, and counted the same whether or not an account has it, so the
   * limit says nothing about who has an account. A login that is no valid login counts against
   * the IP only.
   */
  async countPasswordReset(attempt: { ip: string; login: string }): Promise<void> {
    const login = normalizeLogin(attempt.login)?.login;
    await countAll([
      [this.passwordResetByIp, attempt.ip],
      ...(login ? [[this.passwordResetByLogin, login] as [Limit, string]] : []),
    ]);
  }

  /** One registration attempt from this IP. */
  async countRegistration(ip: string): Promise<void> {
    await this.registrationByIp.consume(ip);
  }

  /** One verification submission (verify form or step-up) of this account. */
  async countVerification(accountId: string): Promise<void> {
    await this.verificationByAccount.consume(accountId, () => ({
      actor: { type: 'account', id: accountId },
      subjects: { account: accountId },
    }));
  }

  /** One check API call of this (authenticated) merchant. */
  async countCheck(clientId: string): Promise<void> {
    await this.checkByClient.consume(clientId, () => ({
      actor: { type: 'client', id: clientId },
      subjects: { client: clientId },
    }));
  }

  /** One authorization request (`/auth`, which stores an interaction for anyone) from this IP. */
  async countAuthorization(ip: string): Promise<void> {
    await this.authorizationByIp.consume(ip);
  }

  /**
   * A token request under its limits. The `client_id` a request names is public (it is in every
   * authorization URL) and not yet authenticated, so nothing an outsider sends with it may refuse
   * the merchant itself:
   * - per IP, every request, counted before it is evaluated;
   * - per (client_id, IP), the attempts to authenticate as that client, counted before the
   *   secret is checked and given back unless it was wrong (401 `invalid_client`): a guesser
   *   gets `maxFailures` guesses a window from each address, and locks only that address;
   * - per client, the tokens issued to it (only the right secret gets one), counted after: a
   *   quota only the merchant can spend. A burst of the merchant's own may pass it by the
   *   requests already in flight; it guards load, not a secret.
   * `exchange` runs the request and answers whether the client's secret was refused.
   */
  async token(
    request: { ip: string; clientId?: string },
    isClient: (clientId: string) => Promise<boolean>,
    exchange: () => Promise<TokenOutcome>,
  ): Promise<void> {
    const { clientId } = request;
    const named = async (): Promise<Who> =>
      clientId && (await isClient(clientId)) ? { ...SYSTEM, subjects: { client: clientId } } : SYSTEM;
    const attempt: [Limit, string] = [this.tokenFailuresByClientIp, `${clientId ?? ''}\n${request.ip}`];
    // The client's quota is only read: asked with the counts, in the same round trip to Redis.
    const [counted, quota] = await Promise.allSettled([
      countAll([
        [this.tokenByIp, request.ip],
        [...attempt, named],
      ]),
      clientId ? this.tokensByClient.refuseWhenSpent(clientId) : undefined,
    ]);
    if (counted.status === 'rejected') throw counted.reason;
    if (quota.status === 'rejected') {
      await attempt[0].refund(attempt[1]);
      throw quota.reason;
    }
    let outcome: TokenOutcome;
    try {
      outcome = await exchange();
    } catch (err) {
      await attempt[0].refund(attempt[1]);
      throw err;
    }
    if (outcome === 'client-refused') return;
    await Promise.all([
      attempt[0].refund(attempt[1]),
      outcome === 'issued' && clientId
        ? this.tokensByClient.spend(clientId, () => ({
            actor: { type: 'client', id: clientId },
            subjects: { client: clientId },
          }))
        : undefined,
    ]);
  }
}

/** What a token request came to: a token, the client's authentication refused, or anything else. */
export type TokenOutcome = 'issued' | 'client-refused' | 'other';

/**
 * Counts one hit on each key, all at once; when any refuses, gives the others theirs back and
 * throws the refusal with the longest wait. Returns each key's count.
 */
async function countAll(keys: Array<[Limit, string, (() => Who | Promise<Who>)?]>): Promise<number[]> {
  const counted = await Promise.allSettled(keys.map(([limit, key, who]) => limit.consume(key, who)));
  const refusal = longestRefusal(counted);
  if (refusal) {
    await Promise.all(
      keys.map(([limit, key], i) => (counted[i]!.status === 'fulfilled' ? limit.refund(key) : undefined)),
    );
    throw refusal;
  }
  return counted.map((outcome) => (outcome as PromiseFulfilledResult<number>).value);
}
