import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { NotFound, PlatformError } from '../errors.js';
import { accessToken, bearerChallenge } from '../http/client-token.js';
import { assertSenderConstraint, type ProofLedger } from '../http/dpop.js';
import { peekProviderForm } from '../http/peek-form.js';
import { LEVEL_SCOPES } from './scopes.js';
import { ATTACHMENT_PATH, type DossierService } from './dossier.js';
import type { IssuedToken, ReleaseAudit } from './releases.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The dossier's document images (the `attachments` of its evidence), for the holder of an access
 * token of a live dossier grant (a revoked grant's tokens no longer open them): a bearer token
 * (RFC 6750), or a DPoP-bound one with a proof for this request (RFC 9449 §7, src/http/dpop.ts).
 */
export function dossierRoutes(provider: Provider, proofs: ProofLedger, dossier: DossierService): Router {
  const router = new Router({ prefix: ATTACHMENT_PATH });
  const scope = LEVEL_SCOPES.dossier!;

  router.get('/:id', async (ctx) => {
    const presented = accessToken(ctx, 'dossier', scope, 'An access token of the dossier grant is required.');
    const token = await provider.AccessToken.find(presented.value);
    const grant = token?.grantId ? await provider.Grant.find(token.grantId) : undefined;
    if (!token || token.isExpired || !token.accountId || !grant || grant.accountId !== token.accountId) {
      bearerChallenge(ctx, 'dossier', scope, 'invalid_token');
      throw new PlatformError('invalid-token', 401, 'The access token is invalid, expired or revoked.');
    }
    await assertSenderConstraint(ctx, proofs, presented, token.jkt, 'dossier');
    // The token's scope, and the grant's level now: a grant lowered since cannot open the dossier.
    if (
      !String(token.scope ?? '')
        .split(' ')
        .includes(scope) ||
      !String(grant.getOIDCScope()).split(' ').includes(scope)
    ) {
      bearerChallenge(ctx, 'dossier', scope, 'insufficient_scope');
      throw new PlatformError('insufficient-scope', 403, `This image needs an access token with the scope ${scope}.`);
    }
    if (!UUID.test(ctx.params.id!)) throw new NotFound('No such document image in this grant.');
    const image = await dossier.attachment(
      { accountId: token.accountId, clientId: token.clientId!, grantId: token.grantId },
      ctx.params.id!,
    );
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Content-Disposition', 'inline');
    ctx.type = image.contentType;
    ctx.body = image.data;
  });

  return router;
}

/** What oidc-provider left on the request's context: the token it issued and the parameters. */
function oidcOf(ctx: Context) {
  return (
    ctx as unknown as {
      oidc?: {
        entities?: { AccessToken?: IssuedToken; Account?: { account?: { id: string; personId?: string } } };
        params?: { grant_type?: string };
      };
    }
  ).oidc;
}

/**
 * Around the mounted provider: a token (POST /token) or userinfo (/me) request is answered inside
 * the transaction in which its release is audited (ReleaseAudit).
 */
export function auditReleases(releases: ReleaseAudit) {
  return async (ctx: Context, next: Next) => {
    const token = ctx.method === 'POST' && ctx.path === '/token';
    const userinfo = (ctx.method === 'GET' || ctx.method === 'POST') && ctx.path === '/me';
    if (!token && !userinfo) return next();
    if (token && (await peekProviderForm(ctx))?.grant_type === 'client_credentials') return withoutAccount(ctx, next);
    await releases.record(token ? 'token' : 'userinfo', async () => {
      await next();
      const oidc = oidcOf(ctx);
      return {
        status: ctx.status,
        accessToken: oidc?.entities?.AccessToken,
        account: oidc?.entities?.Account?.account,
        grantType: oidc?.params?.grant_type,
        body: ctx.body,
        // Set by src/oidc/released-claims.ts when an ID token or a JWT userinfo was made.
        jwtClaimNames: (ctx.state as { releasedClaimNames?: string[] }).releasedClaimNames,
      };
    });
  };
}

/**
 * A client_credentials grant issues a token of the client alone: nothing about a person to audit,
 * so no transaction (two round trips fewer on the merchants' most frequent call). Should a token
 * bound to an account come out anyway, it is not handed over.
 */
async function withoutAccount(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.status === 200 && oidcOf(ctx)?.entities?.AccessToken?.accountId)
    throw new Error('a client_credentials request issued a token bound to an account');
}
