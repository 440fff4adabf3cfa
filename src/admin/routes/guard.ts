// Who may call the admin API: an operator client's client_credentials token with the scope
// `admin`, whose operator account is still an operator and not disabled.
import type { Context, Next } from 'koa';
import type { ClientService } from '../../clients/service.js';
import { bearerChallenge, clientToken, type ApiTokens, type ClientPrincipal } from '../../http/client-token.js';
import type { ProofLedger } from '../../http/dpop.js';
import { PlatformError } from '../../errors.js';
import type { OperatorActor, OperatorService } from '../../operators/service.js';

export function operatorToken(deps: {
  tokens: ApiTokens;
  proofs: ProofLedger;
  clients: ClientService;
  operators: OperatorService;
}) {
  const token = clientToken(deps.tokens, deps.proofs, { scope: 'admin', kind: 'operator', realm: 'admin' });
  return (ctx: Context, next: Next) =>
    token(ctx, async () => {
      const { clientId } = ctx.state.client as ClientPrincipal;
      const accountId = (await deps.clients.find(clientId))?.operator_account;
      // Removed as operator, or the account disabled: its credentials stop at once.
      if (!accountId || !(await deps.operators.isActive(accountId))) {
        bearerChallenge(ctx, 'admin', 'admin', 'insufficient_scope');
        throw new PlatformError('not-an-operator', 403, 'The account these credentials belong to is not an operator.');
      }
      ctx.state.operator = { type: 'operator', id: accountId } satisfies OperatorActor;
      return next();
    });
}

/** The operator a guarded request acts for. */
export function operatorOf(ctx: Context): OperatorActor {
  return ctx.state.operator as OperatorActor;
}
