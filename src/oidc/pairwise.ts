import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

// The salt as a KeyObject, made once (createHmac given a string prepares a key at every call).
const saltKeys = new Map<string, KeyObject>();
function saltKey(salt: string): KeyObject {
  let key = saltKeys.get(salt);
  if (!key) saltKeys.set(salt, (key = createSecretKey(Buffer.from(salt, 'utf8'))));
  return key;
}

/**
 * Pairwise subject identifiers (OIDC Core §8.1): sub = HMAC-SHA256(salt, sector ‖ account), so two
 * merchants with different sector identifiers cannot join their users, and the value is stable for
 * one merchant across sessions. The salt is a persisted platform secret.
 */
export function pairwiseSubject(salt: string, sectorIdentifier: string, accountId: string): string {
  return createHmac('sha256', saltKey(salt)).update(`${sectorIdentifier}\u0000${accountId}`).digest('base64url');
}

/**
 * `realname_person` (docs/product.md#the-natural-person-identifier): a pairwise identifier of the
 * natural person per merchant sector, the same for every account of that person there and different
 * at every other merchant, so a merchant can enforce one-per-person offers
 * (docs/background.md#security-levels) without learning the document number. Domain-separated from
 * `sub` so the two can never be equal or related.
 */
export function pairwisePerson(salt: string, sectorIdentifier: string, personId: string): string {
  return createHmac('sha256', saltKey(salt))
    .update(`realname_person\u0000${sectorIdentifier}\u0000${personId}`)
    .digest('base64url');
}
