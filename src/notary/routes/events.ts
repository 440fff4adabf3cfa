// Reading the audit trail's events: a search by person, account, merchant, type and time, and a
// single leaf by its index.
import type { Context } from 'koa';
import type { AuditLeaf } from '../../audit/events.js';
import type { EventRow } from '../../audit/log.js';
import { InvalidInput, NotFound } from '../../errors.js';
import { parseBody } from '../../http/input.js';
import { personIndex } from '../../identity/blind-index.js';
import { checkDocumentNumber } from '../../identity/document-number.js';
import { index, searchSchema } from '../schemas.js';
import { recordQuery, type NotaryDeps } from './query.js';

/** An event as the API shows it: the leaf's fields plus its hash. */
function toApiEvent(row: EventRow) {
  const leaf = JSON.parse(row.leaf) as AuditLeaf;
  return {
    leaf_index: Number(row.leaf_index),
    time: leaf.time,
    type: leaf.type,
    actor: leaf.actor,
    subjects: leaf.subjects,
    payload: leaf.payload,
    leaf_hash: row.leaf_hash.toString('hex'),
  };
}

/** Events matching the search, a page at a time; a person is looked up by the blind index only. */
export function searchEvents({ audit, blindIndexKey }: Pick<NotaryDeps, 'audit' | 'blindIndexKey'>) {
  return async (ctx: Context) => {
    const query = parseBody(ctx, searchSchema);
    let person: string | undefined;
    if (query.person) {
      const checked = checkDocumentNumber(query.person.document_type, query.person.document_number);
      if (!checked.ok)
        throw new InvalidInput([{ field: 'person.document_number', code: checked.code, message: checked.message }]);
      person = personIndex(blindIndexKey, checked.type, checked.number);
    }
    const rows = await audit.search(
      {
        person,
        account: query.account,
        client: query.merchant,
        types: query.types,
        from: query.from ? new Date(query.from) : undefined,
        to: query.to ? new Date(query.to) : undefined,
        after: query.cursor,
      },
      query.limit + 1,
    );
    const page = rows.slice(0, query.limit);
    const more = rows.length > query.limit;
    // What was asked, without identity data: the person appears only as the event's subject.
    const filters = {
      ...(person ? { person: true } : {}),
      ...(query.account ? { account: query.account } : {}),
      ...(query.merchant ? { merchant: query.merchant } : {}),
      ...(query.types ? { types: query.types } : {}),
      ...(query.from ? { from: query.from } : {}),
      ...(query.to ? { to: query.to } : {}),
    };
    await recordQuery(audit, ctx, 'events/search', {
      filters,
      results: page.length,
      person,
      account: query.account,
    });
    ctx.body = {
      events: page.map(toApiEvent),
      next_cursor: more ? Buffer.from(String(page.at(-1)!.leaf_index)).toString('base64url') : null,
    };
  };
}

/** One leaf, exactly as it was hashed. */
export function readLeaf({ audit }: Pick<NotaryDeps, 'audit'>) {
  return async (ctx: Context) => {
    const leafIndex = index.safeParse(ctx.params.index);
    if (!leafIndex.success)
      throw new InvalidInput([{ field: 'index', code: 'invalid', message: 'a leaf index: 0, 1, 2, …' }]);
    const row = await audit.event(leafIndex.data);
    if (!row) throw new NotFound(`There is no leaf ${leafIndex.data}.`);
    await recordQuery(audit, ctx, 'leaves', { filters: { leaf_index: leafIndex.data }, results: 1 });
    ctx.body = { leaf_index: Number(row.leaf_index), leaf: row.leaf };
  };
}
