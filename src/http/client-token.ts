import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { PlatformError } from '../errors.js';
import { assertSenderConstraint, presentedToken, type PresentedToken, type ProofLedger } from './dpop.js';

/** The client a request acts for, set by `clientToken`. */
export interface ClientPrincipal {
  clientId: string;
  scopes: Set<string>;
}

/** Sets the RFC 6750 §3 challenge for a protected resource of `realm` needing `scope`. */
export function bearerChallenge(
  ctx: Context,
  realm: string,
  scope: string,
  error?: 'invalid_token' | 'insufficient_scope',
): void {
  ctx.set(
    'WWW-Authenticate',
    `Bearer realm="${realm}"${error ? `, error="${error}"` : ''}${error === 'insufficient_scope' ? `, scope="${scope}"` : ''}`,
  );
}

/**
 * The access token of the request, as a bearer token (RFC 6750 §2.1) or a DPoP-bound one (RFC 9449
 * §7.1), or a 401 with the challenge. Which of the two it may be is `assertSenderConstraint`'s call
 * once the token is found.
 */
export function accessToken(ctx: Context, realm: string, scope: string, message: string): PresentedToken {
  const presented = presentedToken(ctx);
  if (!presented) {
    bearerChallenge(ctx, realm, scope);
    throw new PlatformError('unauthorized', 401, message);
  }
  return presented;
}

/**
 * Requires an access token that a client of `kind` obtained with the `client_credentials` grant,
 * carrying `scope`: a bearer token (RFC 6750), or a DPoP-bound one with its proof (RFC 9449 §7,
 * src/http/dpop.ts). Failures answer 401 `invalid_token` or `invalid_dpop_proof`, or 403
 * `insufficient_scope`, with the WWW-Authenticate header RFC 6750 §3 and RFC 9449 §7.1 describe.
 */
export function clientToken(
  provider: Provider,
  proofs: ProofLedger,
  required: { scope: string; kind: 'merchant' | 'notary' | 'operator'; realm: string },
) {
  const { scope, kind, realm } = required;
  return async (ctx: Context, next: Next) => {
    const presented = accessToken(ctx, realm, scope, 'An access token from the client_credentials grant is required.');
    const token = await provider.ClientCredentials.find(presented.value);
    if (!token || token.isExpired) {
      bearerChallenge(ctx, realm, scope, 'invalid_token');
      throw new PlatformError('invalid-token', 401, 'The access token is invalid or expired.');
    }
    await assertSenderConstraint(ctx, proofs, presented, token.jkt, realm);
    const client = await provider.Client.find(token.clientId!);
    const scopes = new Set(
      String(token.scope ?? '')
        .split(' ')
        .filter(Boolean),
    );
    if ((client as { kind?: string } | undefined)?.kind !== kind || !scopes.has(scope)) {
      bearerChallenge(ctx, realm, scope, 'insufficient_scope');
      throw new PlatformError('insufficient-scope', 403, `This call needs a ${kind} token with the scope ${scope}.`);
    }
    ctx.state.client = { clientId: token.clientId!, scopes } satisfies ClientPrincipal;
    return next();
  };
}
