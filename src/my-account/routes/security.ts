// The person's security page: change the password, see and end sessions, and the recent security
// activity of the account (src/security/).
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import { PlatformError } from '../../errors.js';
import { parseBody } from '../../http/input.js';
import { renderPage } from '../../http/locale.js';
import { requestOrigin } from '../../http/sessions.js';
import { RateLimited } from '../../rate-limits/service.js';
import { text } from '../../validation.js';
import type { AccountService } from '../../accounts/service.js';
import type { Views } from '../../http/views.js';
import type { RateLimits } from '../../rate-limits/service.js';
import type { AccountSessions, SecurityLog } from '../../security/service.js';

const passwordChange = z.object({ current_password: text(1024), new_password: text(1024) });
/** Session uids are oidc-provider's nanoids. */
const SESSION_UID = /^[A-Za-z0-9_-]{1,64}$/;

/** Messages the page shows after a change, by query flag. */
const NOTICES = ['password_changed', 'session_ended', 'others_ended'] as const;

export interface SecurityPageDeps {
  views: Views;
  accounts: AccountService;
  securityLog: SecurityLog;
  sessions: AccountSessions;
  limits: RateLimits;
}

/** Adds the security page's routes to the account router, each behind `signedIn`. */
export function securityRoutes(router: Router, signedIn: Middleware, deps: SecurityPageDeps): void {
  const { views, accounts, securityLog, sessions } = deps;

  const show = async (ctx: Context, extra: Record<string, unknown> = {}, status = 200) => {
    const accountId = ctx.state.accountId as string;
    const [list, activity] = await Promise.all([
      sessions.list(accountId, ctx.state.sessionUid as string | undefined),
      securityLog.recent(accountId),
    ]);
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = renderPage(
      views,
      ctx,
      'security',
      {
        sessions: list,
        others: list.filter((s) => !s.current).length,
        activity,
        notice: NOTICES.find((n) => ctx.query[n] !== undefined),
        endedCount: Number(ctx.query.others_ended) || 0,
        ...extra,
      },
      '/account/security',
    );
  };

  router.get('/security', signedIn, (ctx) => show(ctx));

  // The current password is checked under the sign-in limits: this form must not be a way to
  // guess it that the sign-in page's lockout does not count.
  router.post('/password', signedIn, async (ctx) => {
    const accountId = ctx.state.accountId as string;
    const account = await accounts.find(accountId);
    if (!account) throw new PlatformError('session-expired', 400, 'This account no longer exists.');
    try {
      const input = parseBody(ctx, passwordChange);
      const origin = requestOrigin(ctx);
      const { otherSessionsEnded } = await deps.limits.signIn({ ip: ctx.ip, login: account.login }, () =>
        accounts.changePassword(
          accountId,
          { current: input.current_password, next: input.new_password },
          ctx.state.sessionUid as string | undefined,
          origin,
        ),
      );
      ctx.status = 303;
      ctx.redirect(`/account/security?password_changed=1&others_ended=${otherSessionsEnded}`);
    } catch (err) {
      if (!(err instanceof PlatformError) || ![400, 401, 429].includes(err.status)) throw err;
      if (err instanceof RateLimited) ctx.set('Retry-After', String(err.retryAfter));
      await show(ctx, { passwordError: passwordError(err) }, err.status);
    }
  });

  router.post('/sessions/end-others', signedIn, async (ctx) => {
    const ended = await sessions.endOthers(
      ctx.state.accountId as string,
      ctx.state.sessionUid as string | undefined,
      requestOrigin(ctx),
    );
    ctx.status = 303;
    ctx.redirect(`/account/security?others_ended=${ended}`);
  });

  router.post('/sessions/:uid/end', signedIn, async (ctx) => {
    const uid = ctx.params.uid!;
    if (!SESSION_UID.test(uid) || !(await sessions.end(ctx.state.accountId as string, uid, requestOrigin(ctx))))
      throw new PlatformError('not-found', 404, 'There is no such session of this account.');
    ctx.status = 303;
    // Ending the session this page runs in signs the person out here too.
    ctx.redirect(uid === ctx.state.sessionUid ? '/account' : '/account/security?session_ended=1');
  });
}

/** The i18n key (and its parameters) for a refused password change. */
function passwordError(err: PlatformError): { key: string; params?: Record<string, unknown> } {
  if (err instanceof RateLimited)
    return { key: 'error.sign_in_locked', params: { minutes: Math.ceil(err.retryAfter / 60) } };
  if (err.status === 401) return { key: 'error.current_password_wrong' };
  const errors = (err.extra as { errors?: Array<{ field: string; code: string }> }).errors ?? [];
  const code = errors.find((e) => e.field === 'password')?.code;
  return { key: code ? `error.${code}` : 'error.invalid_input' };
}
