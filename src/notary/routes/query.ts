// What every notary call shares: the API's dependencies, the client-token guards, and the
// `notary.queried` event each call records before its answer leaves.
import type { Context, Next } from 'koa';
import type { AuditLog } from '../../audit/log.js';
import type { TreeHeads } from '../../audit/tree-heads.js';
import { clientToken, type ApiTokens, type ClientPrincipal } from '../../http/client-token.js';
import type { ProofLedger } from '../../http/dpop.js';
import type { KeyService } from '../../keys/service.js';
import type { Registry } from '../registry.js';

export interface NotaryDeps {
  issuer: string;
  /** The client_credentials tokens of the platform's APIs. */
  tokens: ApiTokens;
  /** The DPoP proofs already accepted (a DPoP-bound token's proof is used once). */
  proofs: ProofLedger;
  audit: AuditLog;
  treeHeads: TreeHeads;
  keys: KeyService;
  registry: Registry;
  /** The blind-index key (see identity/blind-index.ts). */
  blindIndexKey: string;
  /** How old (ms) a tree head may be before a read signs a new one. */
  headInterval: number;
}

/**
 * The guards of the API's calls: `read` (scope `audit:read`) and `write` (scope `registry:write`),
 * each for a notary's client_credentials token.
 */
export function notaryGuards({ tokens, proofs, audit }: Pick<NotaryDeps, 'tokens' | 'proofs' | 'audit'>) {
  const readToken = clientToken(tokens, proofs, { scope: 'audit:read', kind: 'notary', realm: 'notary' });
  // A notary reads every event committed so far: what waits in the queue is integrated first.
  const read = (ctx: Context, next: Next) =>
    readToken(ctx, async () => {
      await audit.integrateAll();
      return next();
    });
  const write = clientToken(tokens, proofs, { scope: 'registry:write', kind: 'notary', realm: 'notary' });
  return { read, write };
}

/** What a call asked and answered, as its `notary.queried` event records it. */
export interface QueryDetails {
  filters?: Record<string, unknown>;
  results?: number;
  person?: string;
  account?: string;
}

/** Records the calling notary's `notary.queried` event; a read that cannot be audited is not answered. */
export async function recordQuery(audit: AuditLog, ctx: Context, endpoint: string, details: QueryDetails) {
  const notary = ctx.state.client as ClientPrincipal;
  await audit.record({
    type: 'notary.queried',
    actor: { type: 'notary', id: notary.clientId },
    subjects: {
      client: notary.clientId,
      ...(details.person ? { person: details.person } : {}),
      ...(details.account ? { account: details.account } : {}),
    },
    payload: {
      endpoint,
      ...(details.filters ? { filters: details.filters } : {}),
      ...(details.results !== undefined ? { results: details.results } : {}),
    },
  });
}
