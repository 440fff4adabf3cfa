import { randomBytes, randomInt } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { PasswordHasher } from '../accounts/password.js';
import type { InteractionResults } from 'oidc-provider';
import type { AuditLog } from '../audit/log.js';
import type { Db } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { InvalidInput } from '../errors.js';
import type { VerificationService } from '../identity/service.js';
import { grantConsent, type ConsentDetails } from '../interactions/consent.js';
import { LEVEL_SCOPES, levelOfScopes, SCOPE_CLAIMS } from '../oidc/claims.js';
import type { DossierService } from './dossier.js';
import { NotFound } from '../errors.js';
import { destroyGrant, findGrantsOfAccount } from '../oidc/store.js';
import { findChoice, findCredentials, insertCredentials, saveChoice, type Level } from './store.js';

export type { Level };

const LEVELS: Level[] = ['result', 'credentials', 'dossier'];

/** The merchant as consent needs it. */
export interface ConsentMerchant {
  clientId: string;
  category: string;
  /** Levels its registration allows. */
  levels: string[];
}

/**
 * Grant levels (seed 001): the merchant asks for level scopes, the person chooses one, and the
 * grant holds exactly that one. The choice is remembered to pre-select it next time, and the grant
 * and its `consent.granted` event commit in one transaction.
 */
export class GrantService {
  constructor(
    private readonly db: Db,
    private readonly log: AuditLog,
    private readonly verifications: VerificationService,
    private readonly hasher: PasswordHasher,
    private readonly dossier: DossierService,
  ) {}

  /** The person's credentials at a merchant (level 2), as the merchant receives them. */
  async credentialsOf(accountId: string, clientId: string): Promise<{ username: string; password_hash: string } | undefined> {
    const row = await findCredentials(this.db, accountId, clientId);
    return row && { username: row.username, password_hash: row.password_hash };
  }

  /** Levels the person may choose: asked for by the merchant and allowed by its registration. */
  offeredLevels(requestedScopes: string[], merchant: ConsentMerchant): Level[] {
    return LEVELS.filter((level) => merchant.levels.includes(level) && requestedScopes.includes(LEVEL_SCOPES[level]));
  }

  /** The level to pre-select: last chosen for this merchant, or its category, or the least. */
  async preselect(accountId: string, merchant: ConsentMerchant, offered: Level[]): Promise<Level | undefined> {
    const remembered = await findChoice(this.db, accountId, merchant.clientId, merchant.category);
    return remembered && offered.includes(remembered) ? remembered : offered[0];
  }

  /**
   * Records the person's consent: the chosen level's scope is granted, the other level scopes
   * (and their claims, if asked for one by one with the claims parameter) are rejected, so the
   * merchant gets no more than chosen and is not asked again. The dossier needs the person's
   * partial-knowledge answer first, at every authorization that releases it.
   */
  async consent(
    provider: Provider,
    details: ConsentDetails,
    accountId: string,
    merchant: ConsentMerchant,
    chosen: { level?: string; partial?: string },
  ): Promise<{ result: InteractionResults; credentials?: { username: string; password: string } }> {
    const requested = String(details.params.scope ?? '').split(' ').filter(Boolean);
    const offered = this.offeredLevels(requested, merchant);
    let level: Level | undefined;
    if (offered.length) {
      level = offered.find((l) => l === chosen.level);
      if (!level) throw new InvalidInput([{ field: 'level', code: 'invalid_level', message: `choose one of ${offered.join(', ')}` }]);
    }
    if (level === 'dossier') await this.dossier.confirm(accountId, chosen.partial);
    const levelScopes = Object.values(LEVEL_SCOPES);
    // Level 1 comes with no refresh token, so no offline access either: the merchant asks again.
    const reject = requested.filter((scope) => (levelScopes.includes(scope) && scope !== (level && LEVEL_SCOPES[level])) || (level === 'result' && scope === 'offline_access'));
    const allowedClaims = new Set(level ? SCOPE_CLAIMS[LEVEL_SCOPES[level]] : []);
    const rejectClaims = [...new Set(levelScopes.flatMap((scope) => SCOPE_CLAIMS[scope]!))].filter((claim) => !allowedClaims.has(claim));
    const person = await this.verifications.personIndexOf(accountId);
    // Level 2: credentials are made once per merchant; hashing happens before the transaction.
    const fresh = level === 'credentials' && !(await findCredentials(this.db, accountId, merchant.clientId)) ? newCredentials() : undefined;
    const passwordHash = fresh && (await this.hasher.hash(fresh.password));
    return inTransaction(this.db, async (tx) => {
      const stored = fresh && (await insertCredentials(tx, { account_id: accountId, client_id: merchant.clientId, username: fresh.username, password_hash: passwordHash! }));
      const result = await grantConsent(provider, details, { rejectScopes: reject, rejectClaims });
      // Marks this authorization as re-confirmed (see the dossier check of the consent prompt).
      if (level === 'dossier') result.consent = { ...result.consent, reconfirmed: true };
      const grantId = details.grantId ?? (result.consent as { grantId?: string } | undefined)?.grantId;
      if (level) await saveChoice(tx, { account_id: accountId, client_id: merchant.clientId, category: merchant.category, level });
      await this.log.append(tx, {
        type: 'consent.granted',
        actor: { type: 'account', id: accountId },
        subjects: { account: accountId, client: merchant.clientId, ...(person ? { person } : {}) },
        payload: { grant_id: grantId!, ...(level ? { level } : {}), scopes: requested.filter((s) => !reject.includes(s)) },
      });
      return { result, ...(stored ? { credentials: fresh } : {}) };
    });
  }

  /**
   * What the person's account page lists: each merchant holding a grant, its level, when it was
   * granted, and every token and release of data to it, from the audit trail.
   */
  async grantsOf(accountId: string, clientName: (clientId: string) => Promise<string | undefined>) {
    // The person sees every release so far, the one a moment ago too.
    await this.log.integrateAll();
    const grants = [];
    for (const { id, payload } of await findGrantsOfAccount(this.db, accountId)) {
      const clientId = String(payload.clientId);
      const scopes = String((payload.openid as { scope?: string } | undefined)?.scope ?? '').split(' ').filter(Boolean);
      const history = await this.log.search({ account: accountId, client: clientId, types: ['consent.granted', 'token.issued', 'claims.released'] }, 200);
      const events = history
        .map((row) => JSON.parse(row.leaf) as { time: string; type: string; payload: { grant_id?: string; via?: string; claims?: string[] } })
        .filter((event) => event.payload.grant_id === id);
      grants.push({
        id,
        clientId,
        merchant: (await clientName(clientId)) ?? clientId,
        level: levelOfScopes(scopes),
        scopes,
        grantedAt: new Date(Number(payload.iat) * 1000),
        releases: events.filter((e) => e.type === 'claims.released').map((e) => ({ time: new Date(e.time), via: e.payload.via, claims: e.payload.claims ?? [] })),
      });
    }
    return grants;
  }

  /** Revokes one of the person's grants and all its tokens at once, audited in the same transaction. */
  async revoke(accountId: string, grantId: string): Promise<void> {
    const grant = (await findGrantsOfAccount(this.db, accountId)).find((g) => g.id === grantId);
    if (!grant) throw new NotFound('No such grant on this account.');
    const clientId = String(grant.payload.clientId);
    const person = await this.verifications.personIndexOf(accountId);
    await inTransaction(this.db, async (tx) => {
      await destroyGrant(tx, grantId);
      await this.log.append(tx, {
        type: 'consent.revoked',
        actor: { type: 'account', id: accountId },
        subjects: { account: accountId, client: clientId, ...(person ? { person } : {}) },
        payload: { grant_id: grantId, by: 'person' },
      });
    });
  }
}

// No look-alike characters (0/O, 1/l/I): the person copies the password by hand.
const PASSWORD_ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A merchant-scoped username and a random 20-character password (about 116 bits). */
function newCredentials(): { username: string; password: string } {
  const password = Array.from({ length: 20 }, () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]).join('');
  return { username: `rn_${randomBytes(8).toString('hex')}`, password };
}
