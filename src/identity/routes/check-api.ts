import Router from '@koa/router';
import { z } from 'zod';
import type { ClientService } from '../../clients/service.js';
import { parseBody, requireJson } from '../../http/input.js';
import { clientToken, type ApiTokens, type ClientPrincipal } from '../../http/client-token.js';
import type { ProofLedger } from '../../http/dpop.js';
import type { VerificationService } from '../service.js';

export interface CheckDeps {
  /** The client_credentials tokens of the platform's APIs. */
  tokens: ApiTokens;
  proofs: ProofLedger;
  clients: ClientService;
  verifications: VerificationService;
}

const checkSchema = z
  .object({
    document_type: z.string().min(1).max(50),
    document_number: z.string().min(1).max(64),
    name: z.string().min(1).max(100),
  })
  .strict();

/**
 * The check API (docs/integrating.md#check-api): a merchant asks whether the person it names holds a
 * reusable verification result, instead of paying for a new verification. Identity data travels
 * in the body, never in the URL.
 */
export function checkRoutes(deps: CheckDeps): Router {
  const router = new Router({ prefix: '/api/verifications' });
  const merchant = clientToken(deps.tokens, deps.proofs, {
    scope: 'realname:check',
    kind: 'merchant',
    realm: 'merchant',
  });

  router.post('/check', merchant, requireJson, async (ctx) => {
    const input = parseBody(ctx, checkSchema);
    const { clientId } = ctx.state.client as ClientPrincipal;
    const client = (await deps.clients.find(clientId))!;
    ctx.body = await deps.verifications.check(
      { clientId, maxAgeDays: client.result_max_age_days, maxQueries: client.result_max_queries },
      { documentType: input.document_type, documentNumber: input.document_number, name: input.name },
    );
  });

  return router;
}
