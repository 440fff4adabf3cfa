import type { Context, Next } from 'koa';
import { RateLimited, type RateLimits } from '../rate-limits/service.js';
import { peekProviderForm } from './peek-form.js';

// The rate limits (src/rate-limits/) that guard oidc-provider's own endpoints, as Koa middleware.

/**
 * The token endpoint's limits, around oidc-provider. A refusal answers the way token clients read
 * errors, as an OAuth error response (RFC 6749 §5.2), not problem+json: `invalid_request`
 * (`slow_down` belongs to device-flow polling only, RFC 8628 §3.5), with 429 and Retry-After.
 * oidc-provider answers a refused client authentication with 401 `invalid_client` (RFC 6749
 * §5.2) and a token with 200; nothing else is either.
 */
export function tokenRateLimit(limits: RateLimits, isClient: (clientId: string) => Promise<boolean>) {
  return async (ctx: Context, next: Next) => {
    if (ctx.method !== 'POST' || ctx.path !== '/token') return next();
    const clientId = basicClientId(ctx.get('authorization')) ?? (await bodyClientId(ctx));
    try {
      await limits.token({ ip: ctx.ip, clientId }, isClient, async () => {
        await next();
        return ctx.status === 200 ? 'issued' : ctx.status === 401 ? 'client-refused' : 'other';
      });
    } catch (err) {
      if (!(err instanceof RateLimited)) throw err;
      ctx.status = 429;
      ctx.set('Retry-After', String(err.retryAfter));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        error: 'invalid_request',
        error_description: `too many requests, retry after ${err.retryAfter} seconds`,
      };
    }
  };
}

/**
 * Authorization requests per client IP: each stores an interaction (and its cookie) for anyone
 * who asks, signed in or not, so an unlimited stream of them filled the database (1,000 rows in
 * 7.8 s from one address). Resuming one (`/auth/:uid`) is not counted. Refusals are the friendly
 * page or problem+json of the error handler.
 */
export function authorizationRateLimit(limits: RateLimits) {
  return async (ctx: Context, next: Next) => {
    if (ctx.path === '/auth' && (ctx.method === 'GET' || ctx.method === 'POST'))
      await limits.countAuthorization(ctx.ip);
    return next();
  };
}

/** The client_id of HTTP Basic client authentication: form-urlencoded, then Base64 (RFC 6749 §2.3.1). */
function basicClientId(authorization: string): string | undefined {
  const credentials = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization)?.[1];
  if (!credentials) return undefined;
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The client_id of the form body (client_secret_post, public clients), as oidc-provider will read it. */
async function bodyClientId(ctx: Context): Promise<string | undefined> {
  const value = (await peekProviderForm(ctx))?.client_id;
  return [value ?? []].flat()[0];
}
