// A recent sign-in, for the account pages' changes that a session left open on a shared computer
// must not be enough for: changing passkeys, downloading one's data, closing the account.
import type { Context, Middleware, Next } from 'koa';
import { PlatformError } from '../../errors.js';
import { wantsJson } from '../../http/errors.js';

/** Where a stale sign-in is sent: the sign-in again (OIDC `prompt=login`), then back to `page`. */
export const reauthAddress = (page: string) => `/account/login?return=${encodeURIComponent(page)}&reauth=1`;

/** Whether the session signed in (password or passkey) within the last `seconds` (`ctx.state.authTime`, epoch seconds). */
export function signedInRecently(ctx: Context, seconds: number): boolean {
  const authTime = ctx.state.authTime as number | undefined;
  return authTime !== undefined && Date.now() / 1000 - authTime <= seconds;
}

/**
 * Lets the request through after a recent sign-in; otherwise sends the browser to sign in again
 * and come back to `page` (a script is answered 401 `reauthentication-required` instead).
 */
export function requireRecentSignIn(seconds: number, page: string, why: string): Middleware {
  return async (ctx: Context, next: Next) => {
    if (signedInRecently(ctx, seconds)) return next();
    if (wantsJson(ctx)) throw new PlatformError('reauthentication-required', 401, why);
    ctx.status = 303;
    ctx.redirect(reauthAddress(page));
  };
}
