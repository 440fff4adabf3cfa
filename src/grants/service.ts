import { randomBytes, randomInt } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import type { PasswordHasher } from '../accounts/password.js';
import type { AuditLog } from '../audit/log.js';
import type { Db, Queryable } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import { InvalidInput, NotFound } from '../errors.js';
import type { VerificationService } from '../identity/service.js';
import { LEVEL_SCOPES, levelOfScopes } from './scopes.js';
import type { DossierService } from './dossier.js';
import {
  applyConsent,
  applyLowerLevel,
  finishConsent,
  grantOfInteraction,
  LEVELS,
  grantedScopes,
  levelOfGrant,
  lowerLevels,
  requestedClaimNames,
  tokenScopes,
  type ConsentDetails,
  type OidcGrant,
} from './oidc-grant.js';
import { deleteCredentials, findChoice, findCredentials, insertCredentials, saveChoice, type Level } from './store.js';

export type { Level };

/** The merchant as consent needs it. */
export interface ConsentMerchant {
  clientId: string;
  category: string;
  /** Levels its registration allows. */
  levels: string[];
}

/**
 * oidc-provider's stored grants and the tokens issued under them (src/oidc/grants.ts implements
 * it; handed in because oidc/ builds the provider on this domain). Called inside `inTransaction`,
 * each call joins the transaction.
 */
export interface StoredGrants {
  /** The live grants (oidc-provider's Grant model) an account has given, newest first. */
  ofAccount(accountId: string): Promise<Array<{ id: string; payload: Record<string, unknown> }>>;
  /** Deletes every token issued under a grant, keeping the grant; returns how many live ones stopped working. */
  revokeTokens(grantId: string): Promise<number>;
  /** Deletes a grant and every token issued under it. */
  destroy(grantId: string): Promise<void>;
}

/** A password made for a merchant, shown to the person once. */
export interface NewCredentials {
  username: string;
  password: string;
}

/**
 * Grant levels (docs/product.md#grant-levels): the merchant asks for level scopes, the person chooses one, and the
 * grant holds exactly that one, whatever it held before: the person decides at every consent,
 * and may lower a level (or revoke) on their account page. A change of level revokes the tokens
 * issued at the level before, so every live token of a grant carries the grant's level. The
 * choice is remembered to pre-select it next time; the grant, the credentials and the
 * `consent.granted` event commit in one transaction.
 */
export interface GrantServiceOptions {
  db: Db;
  audit: AuditLog;
  verifications: VerificationService;
  /** Hashes the passwords made for merchants (level 2). */
  hasher: PasswordHasher;
  dossier: DossierService;
  stored: StoredGrants;
}

export class GrantService {
  private readonly db: Db;
  private readonly audit: AuditLog;
  private readonly verifications: VerificationService;
  private readonly hasher: PasswordHasher;
  private readonly dossier: DossierService;
  private readonly stored: StoredGrants;

  constructor(options: GrantServiceOptions) {
    ({
      db: this.db,
      audit: this.audit,
      verifications: this.verifications,
      hasher: this.hasher,
      dossier: this.dossier,
      stored: this.stored,
    } = options);
  }

  /** The person's credentials at a merchant (level 2), as the merchant receives them. */
  async credentialsOf(
    accountId: string,
    clientId: string,
  ): Promise<{ username: string; password_hash: string } | undefined> {
    const row = await findCredentials(this.db, accountId, clientId);
    return row && { username: row.username, password_hash: row.password_hash };
  }

  /** Levels the person may choose: asked for by the merchant and allowed by its registration. */
  offeredLevels(requestedScopes: string[], merchant: ConsentMerchant): Level[] {
    return LEVELS.filter((level) => merchant.levels.includes(level) && requestedScopes.includes(LEVEL_SCOPES[level]));
  }

  /** The level the merchant holds now on the interaction's grant, if any. */
  async currentLevel(provider: Provider, details: ConsentDetails): Promise<Level | undefined> {
    return details.grantId ? levelOfGrant((await provider.Grant.find(details.grantId)) ?? undefined) : undefined;
  }

  /** The level to pre-select: last chosen for this merchant, or its category, or the least. */
  async preselect(accountId: string, merchant: ConsentMerchant, offered: Level[]): Promise<Level | undefined> {
    const remembered = await findChoice(this.db, accountId, merchant.clientId, merchant.category);
    return remembered && offered.includes(remembered) ? remembered : offered[0];
  }

  /**
   * Records the person's consent: of the level scopes asked for, the chosen one is granted and the
   * others are rejected; the claims parameter gets only claims of the granted scopes. The dossier
   * needs the person's partial-knowledge answer first, at every authorization that releases it.
   * Level 2 credentials are made when the grant comes to level 2, and returned to be shown once.
   */
  async consent(
    provider: Provider,
    details: ConsentDetails,
    accountId: string,
    merchant: ConsentMerchant,
    chosen: { level?: string; partial?: string },
  ): Promise<{ result: InteractionResults; credentials?: NewCredentials }> {
    const requested = String(details.params.scope ?? '')
      .split(' ')
      .filter(Boolean);
    const offered = this.offeredLevels(requested, merchant);
    let level: Level | undefined;
    if (offered.length) {
      level = offered.find((l) => l === chosen.level);
      if (!level)
        throw new InvalidInput([
          { field: 'level', code: 'invalid_level', message: `choose one of ${offered.join(', ')}` },
        ]);
    }
    if (level === 'dossier') await this.dossier.confirm(accountId, chosen.partial);
    const person = await this.verifications.personIndexOf(accountId);
    const grant = await grantOfInteraction(provider, details);
    const fromLevel = levelOfGrant(grant);
    // Hashing is slow: done before the transaction.
    const fresh =
      level === 'credentials' &&
      (fromLevel !== 'credentials' || !(await findCredentials(this.db, accountId, merchant.clientId)))
        ? newCredentials()
        : undefined;
    const passwordHash = fresh && (await this.hasher.hash(fresh.password));
    return inTransaction(this.db, async (tx) => {
      applyConsent(grant, requested, requestedClaimNames(details.params.claims), level);
      const result = await finishConsent(grant, details);
      // Marks this authorization as re-confirmed (see the dossier check of the consent prompt).
      if (level === 'dossier') result.consent = { ...result.consent, reconfirmed: true };
      const changed = await this.settleLevel(tx, grant, {
        accountId,
        clientId: merchant.clientId,
        fromLevel,
        level,
        credentials: fresh && { ...fresh, passwordHash: passwordHash! },
      });
      if (level)
        await saveChoice(tx, {
          account_id: accountId,
          client_id: merchant.clientId,
          category: merchant.category,
          level,
        });
      await this.audit.append(tx, {
        type: 'consent.granted',
        actor: { type: 'account', id: accountId },
        subjects: { account: accountId, client: merchant.clientId, ...(person ? { person } : {}) },
        payload: {
          grant_id: grant.jti,
          ...(fromLevel && level ? { from_level: fromLevel } : {}),
          ...(level ? { level } : {}),
          scopes: tokenScopes(grant, requested),
          via: 'consent_page',
          ...(changed.tokensRevoked !== undefined ? { tokens_revoked: changed.tokensRevoked } : {}),
        },
      });
      return { result, ...(changed.credentialsStored ? { credentials: fresh } : {}) };
    });
  }

  /**
   * Lowers one of the person's grants on their account page, as a consent would: the tokens of the
   * level before stop working at once, and the merchant's next token carries the lower level.
   * Returns new credentials to show once when lowered to level 2.
   */
  async lower(
    provider: Provider,
    accountId: string,
    grantId: string,
    level: string,
    registered: (clientId: string) => Promise<(ConsentMerchant & { name: string }) | undefined>,
  ): Promise<{ credentials?: NewCredentials; merchant: string }> {
    const grant = await provider.Grant.find(grantId);
    if (!grant || grant.accountId !== accountId) throw new NotFound('No such grant on this account.');
    const clientId = grant.clientId!;
    const merchant = await registered(clientId);
    const target = lowerLevels(grant, merchant?.levels ?? []).find((l) => l === level);
    if (!merchant || !target)
      throw new InvalidInput([
        { field: 'level', code: 'invalid_level', message: 'choose a lower level this merchant asked for' },
      ]);
    const fromLevel = levelOfGrant(grant)!;
    const person = await this.verifications.personIndexOf(accountId);
    const fresh = target === 'credentials' ? newCredentials() : undefined;
    const passwordHash = fresh && (await this.hasher.hash(fresh.password));
    return inTransaction(this.db, async (tx) => {
      applyLowerLevel(grant, target);
      await grant.save();
      const changed = await this.settleLevel(tx, grant, {
        accountId,
        clientId,
        fromLevel,
        level: target,
        credentials: fresh && { ...fresh, passwordHash: passwordHash! },
      });
      await saveChoice(tx, { account_id: accountId, client_id: clientId, category: merchant.category, level: target });
      await this.audit.append(tx, {
        type: 'consent.granted',
        actor: { type: 'account', id: accountId },
        subjects: { account: accountId, client: clientId, ...(person ? { person } : {}) },
        payload: {
          grant_id: grantId,
          from_level: fromLevel,
          level: target,
          scopes: grantedScopes(grant),
          via: 'account_page',
          tokens_revoked: changed.tokensRevoked ?? 0,
        },
      });
      return { merchant: merchant.name, ...(changed.credentialsStored ? { credentials: fresh } : {}) };
    });
  }

  /**
   * What follows a grant's new level: a change revokes the tokens of the level before; merchant
   * credentials exist exactly while the grant is at level 2 (made anew on coming to it).
   */
  private async settleLevel(
    tx: Queryable,
    grant: OidcGrant,
    change: {
      accountId: string;
      clientId: string;
      fromLevel?: Level;
      level?: Level;
      credentials?: NewCredentials & { passwordHash: string };
    },
  ): Promise<{ tokensRevoked?: number; credentialsStored: boolean }> {
    const { accountId, clientId, fromLevel, level, credentials } = change;
    const changed = level !== undefined && level !== fromLevel;
    const tokensRevoked = changed && fromLevel ? await this.stored.revokeTokens(grant.jti) : undefined;
    // Leaving level 2 withdraws the credentials; coming to it replaces any left from before.
    if (changed) await deleteCredentials(tx, accountId, clientId);
    const credentialsStored =
      level === 'credentials' && credentials !== undefined
        ? await insertCredentials(tx, {
            account_id: accountId,
            client_id: clientId,
            username: credentials.username,
            password_hash: credentials.passwordHash,
          })
        : false;
    return { ...(tokensRevoked !== undefined ? { tokensRevoked } : {}), credentialsStored };
  }

  /**
   * What the person's account page lists: each merchant holding a grant, its level, when it was
   * granted, and every token and release of data to it, from the audit trail.
   */
  async grantsOf(
    accountId: string,
    merchantOf: (clientId: string) => Promise<{ name: string; levels: string[] } | undefined>,
  ) {
    // The person sees every release so far, the one a moment ago too.
    await this.audit.integrateAll();
    const grants = [];
    for (const { id, payload } of await this.stored.ofAccount(accountId)) {
      const clientId = String(payload.clientId);
      const scopes = grantedScopes(payload);
      const merchant = await merchantOf(clientId);
      const history = await this.audit.search(
        { account: accountId, client: clientId, types: ['consent.granted', 'token.issued', 'claims.released'] },
        200,
      );
      const events = history
        .map(
          (row) =>
            JSON.parse(row.leaf) as {
              time: string;
              type: string;
              payload: { grant_id?: string; via?: string; claims?: string[] };
            },
        )
        .filter((event) => event.payload.grant_id === id);
      grants.push({
        id,
        clientId,
        merchant: merchant?.name ?? clientId,
        level: levelOfScopes(scopes),
        lowerLevels: lowerLevels(payload, merchant?.levels ?? []),
        scopes,
        grantedAt: new Date(Number(payload.iat) * 1000),
        releases: events
          .filter((e) => e.type === 'claims.released')
          .map((e) => ({ time: new Date(e.time), via: e.payload.via, claims: e.payload.claims ?? [] })),
      });
    }
    return grants;
  }

  /**
   * Revokes every grant of the account and all their tokens (its closure, src/data-rights/),
   * each audited as the person's revocation; returns the merchants that held one. Joins the
   * ambient transaction.
   */
  async revokeAll(accountId: string): Promise<string[]> {
    const held = await this.stored.ofAccount(accountId);
    for (const grant of held) await this.revoke(accountId, grant.id);
    return [...new Set(held.map((grant) => String(grant.payload.clientId)))];
  }

  /** Revokes one of the person's grants and all its tokens at once, audited in the same transaction. */
  async revoke(accountId: string, grantId: string): Promise<void> {
    const grant = (await this.stored.ofAccount(accountId)).find((g) => g.id === grantId);
    if (!grant) throw new NotFound('No such grant on this account.');
    const clientId = String(grant.payload.clientId);
    const person = await this.verifications.personIndexOf(accountId);
    await inTransaction(this.db, async (tx) => {
      await this.stored.destroy(grantId);
      // Credentials live as long as a level 2 grant: a new grant makes new ones, shown again.
      await deleteCredentials(tx, accountId, clientId);
      await this.audit.append(tx, {
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
function newCredentials(): NewCredentials {
  const password = Array.from({ length: 20 }, () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]).join('');
  return { username: `rn_${randomBytes(8).toString('hex')}`, password };
}
