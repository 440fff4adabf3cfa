import Router from '@koa/router';
import type Provider from 'oidc-provider';
import { NotFound, PlatformError } from '../errors.js';
import { bearerChallenge, bearerToken } from '../http/client-token.js';
import { LEVEL_SCOPES } from './scopes.js';
import { ATTACHMENT_PATH, type DossierService } from './dossier.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The dossier's document images (the `attachments` of its evidence), for the bearer of an access
 * token of a live dossier grant (RFC 6750; a revoked grant's tokens no longer open them).
 */
export function dossierRoutes(provider: Provider, dossier: DossierService): Router {
  const router = new Router({ prefix: ATTACHMENT_PATH });
  const scope = LEVEL_SCOPES.dossier!;

  router.get('/:id', async (ctx) => {
    const token = await provider.AccessToken.find(
      bearerToken(ctx, 'dossier', scope, 'An access token of the dossier grant is required.'),
    );
    const grant = token?.grantId ? await provider.Grant.find(token.grantId) : undefined;
    if (!token || token.isExpired || !token.accountId || !grant || grant.accountId !== token.accountId) {
      bearerChallenge(ctx, 'dossier', scope, 'invalid_token');
      throw new PlatformError('invalid-token', 401, 'The access token is invalid, expired or revoked.');
    }
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
