import type { Db } from '../db/index.js';
import { afterCommit } from '../db/transaction.js';
import type { LiveSessions } from '../security/service.js';
import { destroySessions } from './store.js';

/** A live session that was ended here: its account and the merchants it signed in to, with their `sid`. */
export interface EndedSession {
  accountId: string;
  /** oidc-provider's `Session.authorizations`: client id → `{ sid, grantId, … }`. */
  authorizations: Record<string, { sid?: string }>;
}

/**
 * Ends an account's live sessions where they are kept (the database here, Redis in
 * ./redis-sessions.ts). Ending them bypasses oidc-provider's `/session/end`, so its back-channel
 * logout does not run: `onEnded` listeners (the platform's, src/oidc/backchannel.ts) hear of the
 * ended sessions that signed in to a merchant once the caller's transaction has committed, and
 * send the logout tokens.
 */
export abstract class EndingSessions implements LiveSessions {
  private readonly listeners: Array<(ended: EndedSession[]) => void> = [];

  /** Calls `listener` with the live sessions each `end` removed, after its transaction commits. */
  onEnded(listener: (ended: EndedSession[]) => void): void {
    this.listeners.push(listener);
  }

  abstract end(accountId: string, which: { uids: string[] } | { except?: string }): Promise<void>;

  /** Tells the listeners, once committed, of the removed sessions' payloads that name merchants. */
  protected announce(accountId: string, removed: Array<Record<string, unknown>>): void {
    const ended = removed
      .map((payload) => ({
        accountId,
        authorizations: (payload.authorizations ?? {}) as EndedSession['authorizations'],
      }))
      .filter((session) => Object.keys(session.authorizations).length > 0);
    if (ended.length && this.listeners.length) afterCommit(() => this.listeners.forEach((listener) => listener(ended)));
  }
}

/**
 * oidc-provider's Sessions of an account in the database (without Redis; ./redis-sessions.ts with
 * it), ended by removing their rows: the browser's session cookie then finds nothing, and the
 * next authorization asks it to sign in. Joins the caller's transaction, so a password change and
 * the sessions it ends commit together.
 */
export class ProviderSessions extends EndingSessions {
  constructor(private readonly db: Db) {
    super();
  }

  async end(accountId: string, which: { uids: string[] } | { except?: string }): Promise<void> {
    this.announce(accountId, await destroySessions(this.db, accountId, which));
  }
}

/**
 * A session's lifetime from now, in seconds, as oidc-provider's `ttl.Session` asks on every save:
 * the idle lifetime, cut to what is left of the absolute one counted from the sign-in (OWASP ASVS
 * 5.0 §7.3.1, §7.3.2). At least one second: oidc-provider takes positive integers only, and a
 * session with a second left is as good as ended.
 */
export function sessionLifetime(
  ttl: { session: number; sessionAbsolute: number },
  loginTs: number | undefined,
  now = Math.floor(Date.now() / 1000),
): number {
  if (!loginTs) return ttl.session;
  return Math.max(1, Math.min(ttl.session, loginTs + ttl.sessionAbsolute - now));
}
