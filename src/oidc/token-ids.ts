import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { KeySpec } from '../keys/service.js';

/**
 * The key of the stored token ids. Never rotated: rotating it would make every live token,
 * session and interaction unfindable, which is a mass sign-out (delete the rows instead).
 */
export const TOKEN_ID_KEY: KeySpec = { purpose: 'oidc-token-id', alg: 'secret' };

/**
 * Models whose id names something rather than opens it, kept in clear: a Grant id is no
 * credential (it is in audit events and tokens' `grantId`, and the account page revokes by it),
 * and a ReplayDetection id is derived from an assertion already used.
 */
const CLEAR_IDS = new Set(['Grant', 'ReplayDetection']);

/**
 * How an oidc-provider model's id is stored. Opaque access and refresh tokens, authorization
 * codes, client-credentials tokens and the session and interaction cookie values are the ids of
 * their rows (oidc-provider's `BaseModel#save` upserts under `jti`, the value handed out), so a
 * copy of `oidc_payloads` holding them in clear would be a copy of working bearer credentials.
 * They are stored as HMAC-SHA256 under a platform key (sealed by the master key, like every
 * platform key), with the model name as domain separation: a database copy opens nothing, and
 * the adapter, which is given the value, finds its row.
 */
export class TokenIds {
  // A KeyObject, made once: createHmac given raw bytes prepares a key at every call.
  private readonly key: KeyObject;

  constructor(key: string) {
    this.key = createSecretKey(Buffer.from(key, 'base64url'));
  }

  /** Whether ids of this model are stored hashed. */
  hashes(model: string): boolean {
    return !CLEAR_IDS.has(model);
  }

  /** The `oidc_payloads.id` under which a model's id is stored. */
  stored(model: string, id: string): string {
    if (!this.hashes(model)) return id;
    return createHmac('sha256', this.key).update(`${model}\n${id}`).digest('base64url');
  }
}
