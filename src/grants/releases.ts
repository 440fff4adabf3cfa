import type { AuditEventInput } from '../audit/events.js';
import type { AuditLog } from '../audit/log.js';
import type { Db } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import type { VerificationService } from '../identity/service.js';
import { levelOfScopes } from './scopes.js';

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

/** An access token as oidc-provider issued it (its AccessToken entity). */
export interface IssuedToken {
  accountId?: string;
  clientId?: string;
  grantId?: string;
  scope?: string;
}

/** What oidc-provider answered to a token or userinfo request, as far as the audit trail reads it. */
export interface ProviderAnswer {
  status: number;
  /** The access token issued (token endpoint) or presented (userinfo). */
  accessToken?: IssuedToken;
  /** The account oidc-provider loaded for the request (findAccount's answer), as read then. */
  account?: { id: string; personId?: string };
  /** The token request's grant_type. */
  grantType?: string;
  /** The response body: the token response, or the userinfo claims (an object, or a JWS or JWE of them). */
  body: unknown;
  /**
   * The claims of the ID token or JWT userinfo answer, as they were before signing and encryption
   * (a JWE cannot be read back).
   */
  jwtClaimNames?: string[];
}

function levelOf(scope: string | undefined) {
  return levelOfScopes(String(scope ?? '').split(' '));
}

/** The personal claims among a released JWT's claim names. */
function personalClaims(names: string[] | undefined): string[] {
  if (!names) throw new Error('a JWT was released without its claims being recorded');
  return names.filter((name) => !PROTOCOL_CLAIMS.has(name));
}

/**
 * Audits what a merchant receives at a realname level: a token from the token endpoint
 * (`token.issued`, and `claims.released` for the ID token) and claims from userinfo
 * (`claims.released`). A token's events are written in the same transaction as everything
 * oidc-provider writes for the request, and userinfo's before its answer leaves, so a token is
 * never issued, nor claims released, without its trace.
 */
export class ReleaseAudit {
  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    private readonly verifications: VerificationService,
  ) {}

  /**
   * Runs `serve` (oidc-provider answering the request), then records the events of its answer
   * before the answer leaves: at the token endpoint in one transaction with what oidc-provider
   * wrote; at userinfo, which writes nothing of its own, as one statement.
   */
  async record(endpoint: 'token' | 'userinfo', serve: () => Promise<ProviderAnswer>): Promise<void> {
    if (endpoint === 'userinfo') {
      await this.audit.record(...(await this.eventsOf(endpoint, await serve())));
      return;
    }
    await inTransaction(this.db, async (tx) => {
      await this.audit.append(tx, ...(await this.eventsOf(endpoint, await serve())));
    });
  }

  /** The events recording an answer: none for a refusal, or a token bound to no account or level. */
  private async eventsOf(endpoint: 'token' | 'userinfo', answer: ProviderAnswer): Promise<AuditEventInput[]> {
    if (answer.status !== 200) return [];
    const { accessToken } = answer;
    const level = levelOf(accessToken?.scope);
    if (!accessToken?.accountId || !level) return [];
    const person = await this.verifications.personIndexOf(accessToken.accountId, answer.account);
    const subjects = { account: accessToken.accountId, client: accessToken.clientId, ...(person ? { person } : {}) };
    const actor = { type: 'client' as const, id: accessToken.clientId };
    const grant = accessToken.grantId ? { grant_id: accessToken.grantId } : {};
    const body = answer.body as Record<string, unknown>;
    const events: AuditEventInput[] = [];
    if (endpoint === 'token') {
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
          grant_type: String(answer.grantType ?? ''),
        },
      });
      if (body.id_token)
        events.push({
          type: 'claims.released',
          actor,
          subjects,
          payload: { ...grant, level, via: 'id_token', claims: personalClaims(answer.jwtClaimNames) },
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
          claims:
            typeof answer.body === 'string' ? personalClaims(answer.jwtClaimNames) : personalClaims(Object.keys(body)),
        },
      });
    }
    return events;
  }
}
