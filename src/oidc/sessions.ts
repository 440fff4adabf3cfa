import type { Db } from '../db/index.js';
import type { LiveSessions } from '../security/service.js';
import { destroySessions } from './store.js';

/**
 * oidc-provider's Sessions of an account, ended by removing their rows: the browser's session
 * cookie then finds nothing, and the next authorization asks it to sign in. Joins the caller's
 * transaction, so a password change and the sessions it ends commit together.
 */
export class ProviderSessions implements LiveSessions {
  constructor(private readonly db: Db) {}

  async end(accountId: string, which: { uids: string[] } | { except?: string }): Promise<void> {
    await destroySessions(this.db, accountId, which);
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
