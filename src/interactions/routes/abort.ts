// The person cancels: the authorization ends with access_denied, back at the merchant.
import type { Context } from 'koa';
import { finish, interactionDetails, type InteractionDeps } from './interaction.js';

export function abortInteraction({ provider }: Pick<InteractionDeps, 'provider'>) {
  return async (ctx: Context) => {
    await interactionDetails(provider, ctx);
    await finish(provider, ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' });
  };
}
