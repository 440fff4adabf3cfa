import { randomBytes, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Db, Queryable } from '../db/index.js';
import { inTransaction } from '../db/transaction.js';
import type { SecretBox } from '../crypto/secret-box.js';
import {
  activeKeysGeneration,
  findActiveKeys,
  findAllKeys,
  findUsableKeys,
  insertKey,
  lockKeys,
  retireKeys,
  type KeyRow,
} from './store.js';

/** A kind of key the platform keeps: what it is for and its algorithm. */
export interface KeySpec {
  purpose: string;
  alg: 'RS256' | 'ES256' | 'EdDSA' | 'secret';
}

/** OIDC signing keys: RS256 is the OIDC default alg (OIDC Core §15.1); ES256 is smaller and faster. */
export const OIDC_SIGNING: KeySpec[] = [
  { purpose: 'oidc-signing', alg: 'RS256' },
  { purpose: 'oidc-signing', alg: 'ES256' },
];
export const COOKIE_KEY: KeySpec = { purpose: 'cookie', alg: 'secret' };
export const PAIRWISE_SALT: KeySpec = { purpose: 'pairwise-salt', alg: 'secret' };

export class KeyService {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
  ) {}

  /** Creates any missing active key; safe when several processes start at once. */
  async ensure(specs: KeySpec[]): Promise<void> {
    await inTransaction(this.db, async (tx) => {
      await lockKeys(tx);
      for (const spec of specs) {
        const active = await findActiveKeys(tx, spec.purpose);
        if (!active.some((k) => k.alg === spec.alg)) await this.create(tx, spec);
      }
    });
  }

  /**
   * Retires the active key of `spec` (kept for verification until `retiredLifetime` seconds
   * from now) and makes a new one active. Running processes pick the new key up within
   * `settingsCheckInterval` (src/oidc/live-settings.ts).
   */
  async rotate(spec: KeySpec, retiredLifetime: number): Promise<{ retired: number; kid: string }> {
    return inTransaction(this.db, async (tx) => {
      await lockKeys(tx);
      const retired = await retireKeys(tx, spec.purpose, spec.alg, new Date(Date.now() + retiredLifetime * 1000));
      const kid = await this.create(tx, spec);
      return { retired, kid };
    });
  }

  /** What changes when a key of these purposes rotates, in any process (src/oidc/live-settings.ts). */
  generation(purposes: string[]): Promise<string> {
    return activeKeysGeneration(this.db, purposes);
  }

  /** Private JWKs of a purpose, the signing key of each alg first, then keys kept to verify. */
  async privateJwks(purpose: string): Promise<JWK[]> {
    const rows = await findUsableKeys(this.db, purpose);
    return rows.map((row) => JSON.parse(this.box.openText(row.secret_encrypted, contextOf(row))) as JWK);
  }

  /**
   * Public JWKs of every key of a purpose ever made: for signatures that must stay verifiable
   * long after their key was rotated out (audit tree heads, evidence bundles).
   */
  async publicJwksEver(purpose: string): Promise<JWK[]> {
    return publicJwksEver(this.db, purpose);
  }

  /** Symmetric secrets of a purpose (base64url), the current one first. */
  async secrets(purpose: string): Promise<string[]> {
    const rows = await findUsableKeys(this.db, purpose);
    return rows.map((row) => this.box.openText(row.secret_encrypted, contextOf(row)));
  }

  private async create(tx: Queryable, spec: KeySpec): Promise<string> {
    if (spec.alg === 'secret') {
      const kid = randomUUID();
      const secret = randomBytes(32).toString('base64url');
      const row = { kid, purpose: spec.purpose, alg: spec.alg, public_jwk: null, status: 'active' as const };
      await insertKey(tx, { ...row, secret_encrypted: this.box.seal(secret, contextOf(row)) });
      return kid;
    }
    const { publicKey, privateKey } = await generateKeyPair(spec.alg, {
      extractable: true,
      ...(spec.alg === 'RS256' ? { modulusLength: 2048 } : {}),
      ...(spec.alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const meta = { kid, alg: spec.alg, use: 'sig' };
    const row = {
      kid,
      purpose: spec.purpose,
      alg: spec.alg,
      public_jwk: { ...publicJwk, ...meta },
      status: 'active' as const,
    };
    const privateJwk = { ...(await exportJWK(privateKey)), ...meta };
    await insertKey(tx, { ...row, secret_encrypted: this.box.seal(JSON.stringify(privateJwk), contextOf(row)) });
    return kid;
  }
}

/**
 * KeyService.publicJwksEver without the master key: public keys need none to be read (`audit
 * verify` checks tree-head signatures with them).
 */
export async function publicJwksEver(db: Queryable, purpose: string): Promise<JWK[]> {
  const rows = await findAllKeys(db, purpose);
  return rows.map((row) => row.public_jwk as JWK);
}

function contextOf(row: Pick<KeyRow, 'kid' | 'purpose'>): string {
  return `platform_keys:${row.purpose}:${row.kid}`;
}
