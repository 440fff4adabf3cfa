import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import { PlatformError } from '../errors.js';

/**
 * Cross-site request forgery protection for the platform's own forms (OWASP CSRF Prevention Cheat
 * Sheet, "signed double-submit cookie"). Each browser gets a random secret in a signed, HttpOnly,
 * SameSite=Lax cookie; every POST form carries `_csrf` = HMAC-SHA256(secret, form action path),
 * so a token is good for one form address only. Another site can neither read the cookie nor
 * compute the token, so its forged post is refused before anything is read or written.
 * oidc-provider's own endpoints are not covered: its logout form carries its own `xsrf`, and
 * /token and the other back-channel endpoints authenticate the client instead.
 */

/** The hidden field every POST form carries. */
export const CSRF_FIELD = '_csrf';
/** Where a script's JSON post carries the same token (public/passkeys.js reads it from its form). */
export const CSRF_HEADER = 'X-CSRF-Token';
const COOKIE = 'rn_csrf';
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** The browser's secret from its cookie; with `create`, a new one is set when it has none. */
function secretOf(ctx: Context, create: boolean): string | undefined {
  if (ctx.state.csrfSecret) return ctx.state.csrfSecret as string;
  let secret = ctx.cookies.get(COOKIE, { signed: true });
  if (!secret || !SECRET.test(secret)) {
    if (!create) return undefined;
    secret = randomBytes(32).toString('base64url');
    // Signed with the app keys (the same keys as oidc-provider's cookies); Secure behind TLS.
    ctx.cookies.set(COOKIE, secret, {
      signed: true,
      httpOnly: true,
      sameSite: 'lax',
      secure: ctx.secure,
      overwrite: true,
    });
  }
  ctx.state.csrfSecret = secret;
  return secret;
}

const tokenFor = (secret: string, action: string) => createHmac('sha256', secret).update(action).digest('base64url');

/** The `_csrf` value for a form that posts to `action` (a path on this platform, no query). */
export function csrfToken(ctx: Context, action: string): string {
  return tokenFor(secretOf(ctx, true)!, action);
}

/** Refuses the request (403) unless `given` is this browser's token for the path it posts to. */
export function verifyCsrfToken(ctx: Context, given: unknown): void {
  const secret = secretOf(ctx, false);
  const expected = secret && Buffer.from(tokenFor(secret, ctx.path));
  const received = typeof given === 'string' ? Buffer.from(given) : undefined;
  // Constant time: a token is never compared byte by byte (the lengths are public: 43 characters).
  if (!expected || !received || received.length !== expected.length || !timingSafeEqual(received, expected)) {
    throw new PlatformError(
      'csrf-failed',
      403,
      'This form has expired or was not sent from this site. Go back, reload the page and try again.',
    );
  }
}

/**
 * The check for a router's requests, run once the body is parsed: safe methods pass, and so do
 * multipart posts to `uploads` (their route parses the body and calls verifyCsrfToken before
 * anything is written or any provider is called). Any other post must carry the token, in its
 * urlencoded body's `_csrf` (forms) or in the `X-CSRF-Token` header (a script's JSON post; another
 * site can set neither without reading the page).
 */
export function requireCsrfToken(uploads: RegExp) {
  return (ctx: Context): void => {
    if (ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.method === 'OPTIONS') return;
    if (uploads.test(ctx.path) && ctx.is('multipart/form-data')) return;
    const body = (ctx.request as { body?: unknown }).body;
    const field =
      body && typeof body === 'object' && !Array.isArray(body)
        ? (body as Record<string, unknown>)[CSRF_FIELD]
        : undefined;
    verifyCsrfToken(ctx, field ?? (ctx.get(CSRF_HEADER) || undefined));
  };
}
