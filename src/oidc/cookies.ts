// oidc-provider's cookies (its session and interaction cookies): signed with the platform's cookie
// keys, out of reach of scripts, and sent on the top-level navigations merchants start.
import type { Configuration } from 'oidc-provider';
import { CookieKeys } from '../crypto/cookie-keys.js';

/** Cookie options for the provider; `keys` are the cookie signing keys, the current one first. */
export function cookieOptions(keys: string[]): Configuration['cookies'] {
  return {
    keys: new CookieKeys(keys),
    long: { signed: true, httpOnly: true, sameSite: 'lax' },
    short: { signed: true, httpOnly: true, sameSite: 'lax' },
  };
}
