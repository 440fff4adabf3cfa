import { createLocalJWKSet, errors, jwtVerify, type JWK } from 'jose';
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

/** What an API token says, once its signature and lifetime are checked. */
export interface ApiToken {
  clientId: string;
  scope: string;
  /** The DPoP key's thumbprint when the token is bound to one (RFC 9449 §6.1). */
  jkt?: string;
}

/**
 * The client_credentials tokens of the platform's APIs: JWT access tokens (RFC 9068) that
 * oidc-provider signs with the ES256 key (src/oidc/features.ts `apiTokens`), checked here by
 * their signature, issuer, audience, type and expiry: no token is stored or looked up, only the
 * client's (cached) registration.
 */
export class ApiTokens {
  private keySet?: { keys: JWK[]; find: ReturnType<typeof createLocalJWKSet> };

  constructor(
    private readonly provider: Provider,
    private readonly options: {
      /** Their audience: the platform's APIs (src/oidc/features.ts `platformApi`). */
      audience: string;
      /** The public keys that sign them: the current one, and those kept after a rotation. */
      keys: () => JWK[];
    },
  ) {}

  /** The token's claims, or undefined when it is not a live API token of this issuer. */
  async verify(value: string): Promise<ApiToken | undefined> {
    try {
      const { payload } = await jwtVerify(value, this.verificationKeys(), {
        issuer: this.provider.issuer,
        audience: this.options.audience,
        typ: 'at+jwt',
        algorithms: ['ES256'],
        requiredClaims: ['exp', 'client_id'],
      });
      const cnf = payload.cnf as { jkt?: unknown } | undefined;
      if (typeof payload.client_id !== 'string' || (cnf !== undefined && typeof cnf.jkt !== 'string')) return undefined;
      return {
        clientId: payload.client_id,
        scope: typeof payload.scope === 'string' ? payload.scope : '',
        ...(cnf ? { jkt: cnf.jkt as string } : {}),
      };
    } catch (err) {
      if (err instanceof errors.JOSEError || err instanceof TypeError) return undefined;
      throw err;
    }
  }

  /** The client's registration, as oidc-provider knows it (disabled and deleted clients are none). */
  client(clientId: string): Promise<{ kind?: string } | undefined> {
    return this.provider.Client.find(clientId) as Promise<{ kind?: string } | undefined>;
  }

  private verificationKeys() {
    const keys = this.options.keys();
    if (this.keySet?.keys !== keys) this.keySet = { keys, find: createLocalJWKSet({ keys }) };
    return this.keySet.find;
  }
}

/**
 * Requires an access token that a client of `kind` obtained with the `client_credentials` grant,
 * carrying `scope`: a bearer token (RFC 6750), or a DPoP-bound one with its proof (RFC 9449 §7,
 * src/http/dpop.ts). Failures answer 401 `invalid_token` or `invalid_dpop_proof`, or 403
 * `insufficient_scope`, with the WWW-Authenticate header RFC 6750 §3 and RFC 9449 §7.1 describe.
 */
export function clientToken(
  tokens: ApiTokens,
  proofs: ProofLedger,
  required: { scope: string; kind: 'merchant' | 'notary' | 'operator'; realm: string },
) {
  const { scope, kind, realm } = required;
  return async (ctx: Context, next: Next) => {
    const presented = accessToken(ctx, realm, scope, 'An access token from the client_credentials grant is required.');
    const token = await tokens.verify(presented.value);
    // A client disabled or deleted since: its tokens end with it.
    const client = token && (await tokens.client(token.clientId));
    if (!token || !client) {
      bearerChallenge(ctx, realm, scope, 'invalid_token');
      throw new PlatformError('invalid-token', 401, 'The access token is invalid or expired.');
    }
    await assertSenderConstraint(ctx, proofs, presented, token.jkt, realm);
    const scopes = new Set(token.scope.split(' ').filter(Boolean));
    if (client.kind !== kind || !scopes.has(scope)) {
      bearerChallenge(ctx, realm, scope, 'insufficient_scope');
      throw new PlatformError('insufficient-scope', 403, `This call needs a ${kind} token with the scope ${scope}.`);
    }
    ctx.state.client = { clientId: token.clientId, scopes } satisfies ClientPrincipal;
    return next();
  };
}
