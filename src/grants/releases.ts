import type { Context, Next } from 'koa';
import type { AuditLog } from '../audit/log.js';
import type { AuditEventInput } from '../audit/events.js';
import type { Db } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { peekProviderForm } from '../http/peek-form.js';
import { levelOfScopes } from './scopes.js';
import type { VerificationService } from '../identity/service.js';

/** JWT and OIDC protocol claims: not personal data about anyone, so not "released". */
const PROTOCOL_CLAIMS = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'nonce',
  'auth_time',
  'at_hash',
  'c_hash',
  's_hash',
  'sid',
  'azp',
  'acr',
  'amr',
]);

interface TokenEntity {
  accountId?: string;
  clientId?: string;
  grantId?: string;
  scope?: string;
}

/** What oidc-provider left on the request's context: the token it issued and the parameters. */
function oidcOf(ctx: Context) {
  return (ctx as unknown as { oidc?: { entities?: { AccessToken?: TokenEntity }; params?: { grant_type?: string } } })
    .oidc;
}

function levelOf(scope: string | undefined) {
  return levelOfScopes(String(scope ?? '').split(' '));
}

function claimNamesOfJwt(jwt: unknown): string[] {
  if (typeof jwt !== 'string') return [];
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
  return Object.keys(payload).filter((name) => !PROTOCOL_CLAIMS.has(name));
}

/**
 * Audits what a merchant receives at a realname level: a token from the token endpoint
 * (`token.issued`, and `claims.released` for the ID token) and claims from userinfo
 * (`claims.released`). The events are written in the same transaction as everything oidc-provider
 * writes for the request, so a token is never issued, nor claims released, without its trace.
 */
export function auditReleases(db: Db, audit: AuditLog, verifications: VerificationService) {
  return async (ctx: Context, next: Next) => {
    const token = ctx.method === 'POST' && ctx.path === '/token';
    const userinfo = (ctx.method === 'GET' || ctx.method === 'POST') && ctx.path === '/me';
    if (!token && !userinfo) return next();
    if (token && (await peekProviderForm(ctx))?.grant_type === 'client_credentials') return withoutAccount(ctx, next);
    await inTransaction(db, async (tx) => {
      await next();
      if (ctx.status !== 200) return;
      const oidc = oidcOf(ctx);
      const accessToken = oidc?.entities?.AccessToken;
      const level = levelOf(accessToken?.scope);
      if (!accessToken?.accountId || !level) return;
      const person = await verifications.personIndexOf(accessToken.accountId);
      const subjects = { account: accessToken.accountId, client: accessToken.clientId, ...(person ? { person } : {}) };
      const actor = { type: 'client' as const, id: accessToken.clientId };
      const grant = accessToken.grantId ? { grant_id: accessToken.grantId } : {};
      const body = ctx.body as Record<string, unknown>;
      const events: AuditEventInput[] = [];
      if (token) {
        events.push({
          type: 'token.issued',
          actor,
          subjects,
          payload: {
            ...grant,
            level,
            scopes: String(accessToken.scope ?? '')
              .split(' ')
              .filter(Boolean),
            token_type: body.id_token ? 'access_token+id_token' : 'access_token',
            grant_type: String(oidc?.params?.grant_type ?? ''),
          },
        });
        if (body.id_token)
          events.push({
            type: 'claims.released',
            actor,
            subjects,
            payload: { ...grant, level, via: 'id_token', claims: claimNamesOfJwt(body.id_token) },
          });
      } else {
        events.push({
          type: 'claims.released',
          actor,
          subjects,
          payload: {
            ...grant,
            level,
            via: 'userinfo',
            claims: Object.keys(body).filter((name) => !PROTOCOL_CLAIMS.has(name)),
          },
        });
      }
      await audit.append(tx, ...events);
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
