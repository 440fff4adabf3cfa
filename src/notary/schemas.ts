import { z } from 'zod';
import { EVENT_TYPES } from '../audit/events.js';
import { text } from '../validation.js';
import { DOCUMENT_TYPES } from '../identity/document-number.js';

/**
 * What the notary API accepts: the zod schemas its routes parse requests with. They import no
 * Koa, so `npm run docs:openapi` (scripts/notary-openapi.ts) can turn them into the request
 * schemas of docs/notary-openapi.yaml; a `description` in `.meta()` becomes the field's
 * description there. The offline registration records are parsed in registry.ts.
 */

export const MAX_PAGE = 200;
export const MAX_EVIDENCE = 100;

export const cursor = z
  .string()
  .max(40)
  .regex(/^[A-Za-z0-9_-]+$/)
  .transform((value, ctx) => {
    const decoded = Buffer.from(value, 'base64url').toString('utf8');
    const after = Number(decoded);
    if (!/^\d{1,16}$/.test(decoded) || !Number.isSafeInteger(after)) {
      ctx.addIssue({ code: 'custom', message: 'not a cursor this API returned' });
      return z.NEVER;
    }
    return after;
  });

export const searchSchema = z
  .object({
    person: z
      .object({ document_type: z.enum(DOCUMENT_TYPES), document_number: z.string().min(1).max(64) })
      .strict()
      .optional()
      .meta({
        description:
          'A natural person, by document. The number is normalized (NFKC, separators removed, uppercased) and ' +
          'checked like at registration (a bad number is a 400 on `person.document_number` with code `empty`, ' +
          '`format`, `checksum` or `birth_date`), then matched via its blind index against `subjects.person`.',
      }),
    // Storable text only: a NUL cannot reach the query (22021), nor a lone surrogate the audit
    // leaf that records the filters (RFC 8785 canonical JSON refuses it).
    account: text(100).min(1).optional().meta({ description: 'An account id (`subjects.account`).' }),
    merchant: text(200)
      .min(1)
      .optional()
      .meta({
        description:
          'A client id (`subjects.client`). Despite the name it matches any client, merchants and notaries ' +
          "alike (e.g. a notary's own `notary.queried` events).",
      }),
    types: z
      .array(z.enum(EVENT_TYPES as [string, ...string[]]))
      .min(1)
      .max(EVENT_TYPES.length)
      .optional()
      .meta({ description: 'Event types (any of).' }),
    from: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: 'Events recorded at or after this instant (RFC 3339, with `Z` or an offset).' }),
    to: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: 'Events recorded strictly before this instant (RFC 3339, with `Z` or an offset).' }),
    cursor: cursor.optional().meta({ description: 'The `next_cursor` of the previous page (opaque).' }),
    limit: z.number().int().min(1).max(MAX_PAGE).default(50).meta({ description: 'Page size.' }),
  })
  .strict()
  .meta({
    description:
      'Filters, combined with AND. Every member is optional; `{}` returns every event. Unknown members are refused.',
  });

// Decimal integers written plainly: no signs, exponents, hex, spaces or leading zeros.
export const index = z
  .string()
  .regex(/^(0|[1-9]\d{0,15})$/, 'a whole number: 0, 1, 2, …')
  .transform(Number)
  .pipe(z.number().max(Number.MAX_SAFE_INTEGER));
export const size = z
  .string()
  .regex(/^[1-9]\d{0,15}$/, 'a whole number from 1')
  .transform(Number)
  .pipe(z.number().max(Number.MAX_SAFE_INTEGER));
export const inclusionQuery = z
  .object({
    leaf_index: index.meta({ description: 'The leaf, 0-based. Must be below `tree_size`.' }),
    tree_size: size.meta({ description: 'The tree size to prove against. Must not exceed the current log size.' }),
  })
  .strict();
export const consistencyQuery = z
  .object({
    first: size.meta({ description: 'The older tree size (at least 1, at most `second`).' }),
    second: size.meta({ description: 'The newer tree size. Must not exceed the current log size.' }),
  })
  .strict();
export const evidenceRequest = z
  .object({
    leaf_indices: z.array(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)).min(1).max(MAX_EVIDENCE).meta({
      description:
        'The leaves to include. Duplicates are dropped and the bundle lists them in ascending order. Each must exist.',
    }),
  })
  .strict();
