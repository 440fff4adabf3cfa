import { createHmac } from 'node:crypto';
import type { KeySpec } from '../keys/service.js';
import { normalizeDocumentNumber } from './document-number.js';

/**
 * The key of the natural-person blind index. Like the pairwise salt it is never rotated:
 * rotating it would lose every person's link to their records and audit events.
 */
export const BLIND_INDEX_KEY: KeySpec = { purpose: 'blind-index', alg: 'secret' };

/**
 * The blind index of a natural person: HMAC-SHA256 under a platform key of the document type and
 * normalized number, hex. It finds a person's records without storing or logging the number, and
 * cannot be computed by anyone without the key.
 */
export function personIndex(key: string, documentType: string, documentNumber: string): string {
  return createHmac('sha256', Buffer.from(key, 'base64url'))
    .update(`${documentType}\n${normalizeDocumentNumber(documentNumber)}`)
    .digest('hex');
}
