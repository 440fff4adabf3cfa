import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import type { AccountSessions, RequestOrigin } from '../security/service.js';

/** Where a request came from, as the security log keeps it. */
export function requestOrigin(ctx: Context): RequestOrigin {
  return { ip: ctx.ip, userAgent: ctx.get('user-agent') || undefined };
}

/** The part of oidc-provider's Session this reads (lib/models/session.js). */
interface ProviderSession {
  uid?: string;
  accountId?: string;
  amr?: string[];
  loginTs?: number;
  exp?: number;
  destroyed?: boolean;
}

/**
 * Keeps the person's session list (src/security/) in step with oidc-provider's sessions: after
 * every provider request that used a signed-in session (an authorization, its resume, a sign-out),
 * the session is recorded as seen with its new expiry, or as signed out. Runs around the mounted
 * provider; token, userinfo and the other endpoints without a session write nothing.
 *
 * The response is already decided when this runs: a failure to record is logged, never turned
 * into an error for a sign-in that did take place.
 */
export function trackSessions(sessions: AccountSessions, logger: Logger) {
  return async (ctx: Context, next: Next) => {
    await next();
    const session = (ctx as { oidc?: { session?: ProviderSession } }).oidc?.session;
    if (!session?.accountId || !session.uid) return;
    const origin = requestOrigin(ctx);
    try {
      if (session.destroyed) await sessions.signedOut(session.accountId, session.uid, origin);
      else if (session.exp && session.loginTs)
        await sessions.seen({
          uid: session.uid,
          accountId: session.accountId,
          amr: session.amr ?? [],
          signedInAt: new Date(session.loginTs * 1000),
          expiresAt: new Date(session.exp * 1000),
          origin,
        });
    } catch (err) {
      logger.error({ err, requestId: ctx.state.requestId }, 'recording the session for the session list failed');
    }
  };
}
