import { createHash } from 'node:crypto';
import type { Db } from '../db/index.js';
import { insertPayloadOnce } from './store.js';

/**
 * The DPoP proofs the platform's own resources have accepted (RFC 9449 §11.1: a proof is used
 * once). Kept as oidc-provider keeps its own (`ReplayDetection` rows of `oidc_payloads`, purged
 * when they expire), but claimed in one INSERT, so two copies of a proof sent at once cannot both
 * pass, which oidc-provider's find-then-save (lib/models/replay_detection.js) would let happen.
 */
export class DpopProofs {
  constructor(private readonly db: Db) {}

  /** True the first time a proof (`jti`) of a key (`jkt`) is presented, false ever after, until `expiresAt`. */
  async firstUse(jkt: string, jti: string, expiresAt: Date): Promise<boolean> {
    const id = createHash('sha256').update(`resource:${jkt}:${jti}`).digest('base64url');
    return insertPayloadOnce(this.db, { model: 'ReplayDetection', id, payload: { iss: 'resource' }, expiresAt });
  }
}
