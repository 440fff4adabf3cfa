import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { PlatformError } from '../errors.js';

/** The client a request acts for, set by `clientToken`. */
export interface ClientPrincipal {
  clientId: string;
  scopes: Set<string>;
}

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]{1,200}=*)$/;

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

/** The bearer token of the request (RFC 6750 §2.1), or a 401 with the challenge. */
export function bearerToken(ctx: Context, realm: string, scope: string, message: string): string {
  const match = BEARER.exec(ctx.get('authorization'));
  if (!match) {
    bearerChallenge(ctx, realm, scope);
    throw new PlatformError('unauthorized', 401, message);
  }
  return match[1]!;
}

/**
 * Requires a bearer access token (RFC 6750) that a client of `kind` obtained with the
 * `client_credentials` grant, carrying `scope`. Failures answer 401 `invalid_token` or
 * 403 `insufficient_scope` with the WWW-Authenticate header RFC 6750 §3 describes.
 */
export function clientToken(
  provider: Provider,
  required: { scope: string; kind: 'merchant' | 'notary'; realm: string },
) {
  const { scope, kind, realm } = required;
  return async (ctx: Context, next: Next) => {
    const token = await provider.ClientCredentials.find(
      bearerToken(ctx, realm, scope, 'A bearer token from the client_credentials grant is required.'),
    );
    if (!token || token.isExpired) {
      bearerChallenge(ctx, realm, scope, 'invalid_token');
      throw new PlatformError('invalid-token', 401, 'The access token is invalid or expired.');
    }
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
