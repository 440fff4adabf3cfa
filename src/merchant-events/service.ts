import { importJWK, SignJWT, type JWK } from 'jose';
import type { ClientService } from '../clients/service.js';
import type { Queryable } from '../db/index.js';
import type { GrantChanges, Level } from '../grants/service.js';
import type { KeyService } from '../keys/service.js';
import { OIDC_SIGNING, PAIRWISE_SALT } from '../keys/service.js';
import type { Outbox } from '../notifications/service.js';
import { pairwiseSubject } from '../oidc/pairwise.js';
import { securityEventClaims, SET_TYPE, type MerchantEvent } from './set.js';

export interface MerchantEventsOptions {
  issuer: string;
  clients: Pick<ClientService, 'find'>;
  keys: Pick<KeyService, 'privateJwks' | 'secrets'>;
  outbox: Pick<Outbox, 'enqueueSecurityEvent'>;
  /** The merchants holding a grant of the account (oidc-provider's Grants; for accountPurged). */
  grantedClients: (accountId: string) => Promise<string[]>;
}

type SigningKey = { key: Awaited<ReturnType<typeof importJWK>>; kid: string; alg: string };

/**
 * Tells merchants, with a signed Security Event Token (RFC 8417) pushed to the events endpoint they
 * registered (RFC 8935, the outbox's `set` channel), that a grant of theirs ended or was lowered.
 * Each method queues in the caller's transaction (`tx`): a SET goes out exactly when the change it
 * reports committed, and never for one that rolled back.
 *
 * The SET is signed when queued, not when sent: its `jti` and `iat` are fixed at the change, so a
 * retry is the same SET (RFC 8935 §2.4: the recipient drops a `jti` it has seen), and the outbox
 * needs neither the signing key nor the pairwise salt. It carries only the pairwise `sub` the
 * merchant already received. Signed with the platform's OIDC RS256 key (published at `/jwks`); a key
 * rotated meanwhile stays in the JWKS longer than the outbox retries (`retiredKeyLifetime`).
 */
export class MerchantEvents implements GrantChanges {
  private signing: Promise<SigningKey> | undefined;
  private salt: Promise<string> | undefined;

  constructor(private readonly options: MerchantEventsOptions) {}

  /** The person revoked the merchant's grant: CAEP `session-revoked`. */
  async revoked(tx: Queryable, change: { accountId: string; clientId: string }): Promise<void> {
    await this.tell(tx, change.accountId, change.clientId, { type: 'grant_revoked' });
  }

  /** The person lowered the merchant's grant level: the platform's `grant-level-lowered`. */
  async lowered(
    tx: Queryable,
    change: { accountId: string; clientId: string; fromLevel: Level; level: Level },
  ): Promise<void> {
    await this.tell(tx, change.accountId, change.clientId, {
      type: 'level_lowered',
      previousLevel: change.fromLevel,
      level: change.level,
    });
  }

  /**
   * The account was closed (issue 14's erasure): RISC `account-purged` to every merchant holding a
   * grant of it. Called in the closing transaction before the grants are revoked (it finds the
   * merchants through them); its outbox rows belong to no account, so they outlive its row.
   */
  async accountPurged(accountId: string, tx?: Queryable): Promise<void> {
    const clientIds = [...new Set(await this.options.grantedClients(accountId))];
    for (const clientId of clientIds) await this.tell(tx, accountId, clientId, { type: 'account_purged' });
  }

  private async tell(
    tx: Queryable | undefined,
    accountId: string,
    clientId: string,
    event: MerchantEvent,
  ): Promise<void> {
    const merchant = await this.options.clients.find(clientId);
    const endpoint = merchant?.events_endpoint;
    const redirect = merchant?.redirect_uris[0];
    if (!endpoint || !redirect) return;
    // The sector as oidc-provider derives it for a pairwise client without a sector_identifier_uri
    // (node_modules/oidc-provider/lib/helpers/sector_identifier.js): the first redirect URI's host.
    const subject = pairwiseSubject(await this.pairwiseSalt(), new URL(redirect).host, accountId);
    const claims = securityEventClaims({ issuer: this.options.issuer, clientId, subject, event });
    const { key, kid, alg } = await this.signingKey();
    const token = await new SignJWT({ ...claims }).setProtectedHeader({ alg, kid, typ: SET_TYPE }).sign(key);
    await this.options.outbox.enqueueSecurityEvent({ clientId, endpoint, token, jti: claims.jti }, tx);
  }

  private signingKey(): Promise<SigningKey> {
    this.signing ??= (async () => {
      const jwks = await this.options.keys.privateJwks(OIDC_SIGNING[0]!.purpose);
      const jwk = jwks.find((k) => k.alg === 'RS256') as (JWK & { kid: string; alg: string }) | undefined;
      if (!jwk) throw new Error('no RS256 OIDC signing key');
      return { key: await importJWK(jwk, jwk.alg), kid: jwk.kid, alg: jwk.alg };
    })();
    this.signing.catch(() => (this.signing = undefined));
    return this.signing;
  }

  private pairwiseSalt(): Promise<string> {
    this.salt ??= this.options.keys.secrets(PAIRWISE_SALT.purpose).then(([salt]) => {
      if (!salt) throw new Error('no pairwise salt');
      return salt;
    });
    this.salt.catch(() => (this.salt = undefined));
    return this.salt;
  }
}
