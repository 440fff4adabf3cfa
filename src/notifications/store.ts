import type { Queryable, Tx } from '../db/index.js';

export type Channel = 'log' | 'email' | 'sms' | 'set';

export interface OutboxRow {
  id: string;
  /** The account a message is for; none for a SET (`set`), which must outlive a closed account. */
  account_id: string | null;
  channel: Channel;
  recipient: string;
  template: string;
  params: Record<string, unknown>;
  dedupe_key: string;
  status: 'pending' | 'sent' | 'failed';
  attempts: number;
  last_error: string | null;
  created_at: Date;
  sent_at: Date | null;
  next_attempt_at: Date;
}

export type NewOutboxRow = Pick<
  OutboxRow,
  'id' | 'account_id' | 'channel' | 'recipient' | 'template' | 'params' | 'dedupe_key'
>;

/** Queues a message; false when one with the same dedupe key exists (no exception, no row). */
export async function insertMessage(db: Queryable, row: NewOutboxRow): Promise<boolean> {
  const inserted = await db('notification_outbox')
    .insert({ ...row, params: JSON.stringify(row.params) })
    .onConflict('dedupe_key')
    .ignore()
    .returning('id');
  return inserted.length === 1;
}

/**
 * Takes up to `limit` due pending messages for one worker: each gets one more attempt counted
 * and its next_attempt_at moved `leaseMs` ahead, so no other worker picks it up while it is
 * being sent, and a worker that dies mid-send leaves it to be retried when the lease ends.
 * SKIP LOCKED lets concurrent workers claim disjoint rows without waiting on each other.
 */
export async function claimDueMessages(tx: Tx, limit: number, leaseMs: number): Promise<OutboxRow[]> {
  const due = await tx('notification_outbox')
    .select('id')
    .where({ status: 'pending' })
    .andWhere('next_attempt_at', '<=', tx.fn.now())
    .orderBy([{ column: 'next_attempt_at' }, { column: 'created_at' }])
    .limit(limit)
    .forUpdate()
    .skipLocked();
  if (due.length === 0) return [];
  const claimed: OutboxRow[] = await tx('notification_outbox')
    .whereIn(
      'id',
      due.map((row: { id: string }) => row.id),
    )
    .update({
      attempts: tx.raw('attempts + 1'),
      next_attempt_at: tx.raw(`now() + ? * interval '1 millisecond'`, [leaseMs]),
    })
    .returning('*');
  return claimed.sort((a, b) => a.created_at.getTime() - b.created_at.getTime());
}

/** Marks a message sent; a one-time code it carried (params.sealed_code) is removed with it. */
export async function markSent(db: Queryable, id: string): Promise<void> {
  await db('notification_outbox')
    .where({ id })
    .update({ status: 'sent', sent_at: db.fn.now(), last_error: null, params: db.raw(`params - 'sealed_code'`) });
}

/** Records a failed attempt: retried after `retryInMs`, or given up on (and any code removed) when it is null. */
export async function markAttemptFailed(
  db: Queryable,
  id: string,
  error: string,
  retryInMs: number | null,
): Promise<void> {
  await db('notification_outbox')
    .where({ id })
    .update(
      retryInMs === null
        ? { status: 'failed', last_error: error, params: db.raw(`params - 'sealed_code'`) }
        : {
            status: 'pending',
            last_error: error,
            next_attempt_at: db.raw(`now() + ? * interval '1 millisecond'`, [retryInMs]),
          },
    );
}

/** Messages of one channel, newest first, optionally only those given up on: the operator's view. */
export async function listMessages(
  db: Queryable,
  filter: { channel: Channel; status?: OutboxRow['status'] },
  limit: number,
): Promise<OutboxRow[]> {
  const query = db('notification_outbox').where({ channel: filter.channel });
  if (filter.status) query.andWhere({ status: filter.status });
  return query.orderBy('created_at', 'desc').limit(limit);
}

/** How many messages of a channel are in each status. */
export async function countByStatus(db: Queryable, channel: Channel): Promise<Record<string, number>> {
  const rows: Array<{ status: string; count: string | number }> = await db('notification_outbox')
    .where({ channel })
    .groupBy('status')
    .select('status')
    .count({ count: '*' });
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.count)]));
}

/** Messages of these templates made since `since`, by template and status (the console's reminders). */
export async function countByTemplate(
  db: Queryable,
  templates: string[],
  since: Date,
): Promise<Array<{ template: string; status: string; count: number }>> {
  const rows = (await db('notification_outbox')
    .whereIn('template', templates)
    .andWhere('created_at', '>=', since)
    .groupBy('template', 'status')
    .select('template', 'status')
    .count({ count: '*' })
    .orderBy(['template', 'status'])) as Array<{ template: string; status: string; count: string | number }>;
  return rows.map((row) => ({ template: row.template, status: row.status, count: Number(row.count) }));
}
