import { createHmac } from 'node:crypto';

/**
 * Pairwise subject identifiers (OIDC Core §8.1): sub = HMAC-SHA256(salt, sector ‖ account), so two
 * merchants with different sector identifiers cannot join their users, and the value is stable for
 * one merchant across sessions. The salt is a persisted platform secret.
 */
export function pairwiseSubject(salt: string, sectorIdentifier: string, accountId: string): string {
  return createHmac('sha256', salt).update(`${sectorIdentifier}\u0000${accountId}`).digest('base64url');
}
