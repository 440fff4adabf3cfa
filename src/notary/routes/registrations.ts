// Offline registrations a notary body uploads: records of people registered in person, checked
// and stored by the registry.
import type { Context } from 'koa';
import type { ClientPrincipal } from '../../http/client-token.js';
import { recordQuery, type NotaryDeps } from './query.js';

export function uploadRegistrations({ audit, registry }: Pick<NotaryDeps, 'audit' | 'registry'>) {
  return async (ctx: Context) => {
    const notary = ctx.state.client as ClientPrincipal;
    const body = (ctx.request as { body?: unknown }).body;
    const result = await registry.upload(notary.clientId, body);
    await recordQuery(audit, ctx, 'registrations', {
      results: result.accepted,
      filters: { records: result.results.length, unchanged: result.unchanged, rejected: result.rejected },
    });
    ctx.body = result;
  };
}
