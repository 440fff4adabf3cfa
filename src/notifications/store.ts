import type { Queryable, Tx } from '../db/index.js';

export type Channel = 'log' | 'email' | 'sms';

export interface OutboxRow {
  id: string;
  account_id: string;
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
