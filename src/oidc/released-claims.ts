// The claims an ID token or a JWT userinfo answer carries, recorded on the request before
// oidc-provider signs and perhaps encrypts them: the audit trail names what was released, and an
// answer encrypted to the merchant's key (a JWE) cannot be read back here.
import type Provider from 'oidc-provider';

/** Where the names are left for `auditReleases` (src/grants/routes.ts): the request's Koa state. */
export interface ReleasedClaimsState {
  releasedClaimNames?: string[];
}

/**
 * Wraps this provider's `IdToken#payload` (lib/models/id_token.js, `async payload()`, which
 * `issue` calls once for an ID token and once for a JWT userinfo answer) to record the payload's
 * claim names on the request. The only place the platform touches oidc-provider's internals for
 * releases; `provider.IdToken` is a class of this provider alone, so nothing else is affected.
 */
export function recordReleasedClaims(provider: Provider): void {
  const prototype = provider.IdToken.prototype as unknown as {
    payload(): Promise<Record<string, unknown>>;
    ctx?: { state?: ReleasedClaimsState };
  };
  const payload = prototype.payload;
  prototype.payload = async function (this: typeof prototype) {
    const claims = await payload.call(this);
    if (this.ctx?.state) this.ctx.state.releasedClaimNames = Object.keys(claims);
    return claims;
  };
}
