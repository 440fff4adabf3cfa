import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { PlatformError } from '../errors.js';

/** The client a request acts for, set by `clientToken`. */
export interface ClientPrincipal {
  clientId: string;
  scopes: Set<string>;
}

const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]{1,200}=*)$/;

/**
 * Requires a bearer access token (RFC 6750) that a client of `kind` obtained with the
 * `client_credentials` grant, carrying `scope`. Failures answer 401 `invalid_token` or
 * 403 `insufficient_scope` with the WWW-Authenticate header RFC 6750 §3 describes.
 */
export function clientToken(provider: Provider, required: { scope: string; kind: 'merchant' | 'notary'; realm: string }) {
  const { scope, kind, realm } = required;
  return async (ctx: Context, next: Next) => {
    const challenge = (error?: string) =>
      ctx.set('WWW-Authenticate', `Bearer realm="${realm}"${error ? `, error="${error}"` : ''}${error === 'insufficient_scope' ? `, scope="${scope}"` : ''}`);
    const match = BEARER.exec(ctx.get('authorization'));
    if (!match) {
      challenge();
      throw new PlatformError('unauthorized', 401, 'A bearer token from the client_credentials grant is required.');
    }
    const token = await provider.ClientCredentials.find(match[1]!);
    if (!token || token.isExpired) {
      challenge('invalid_token');
      throw new PlatformError('invalid-token', 401, 'The access token is invalid or expired.');
    }
    const client = await provider.Client.find(token.clientId!);
    const scopes = new Set(String(token.scope ?? '').split(' ').filter(Boolean));
    if ((client as { kind?: string } | undefined)?.kind !== kind || !scopes.has(scope)) {
      challenge('insufficient_scope');
      throw new PlatformError('insufficient-scope', 403, `This call needs a ${kind} token with the scope ${scope}.`);
    }
    ctx.state.client = { clientId: token.clientId!, scopes } satisfies ClientPrincipal;
    return next();
  };
}
