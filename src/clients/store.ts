import type { Queryable } from '../db/index.js';

export interface ClientRow {
  client_id: string;
  client_secret_encrypted: string;
  name: string;
  kind: 'merchant' | 'notary';
  category: string;
  security_level: 1 | 2 | 3;
  grant_levels: string[];
  metadata: Record<string, unknown>;
  result_max_age_days: number | null;
  result_max_queries: number | null;
  created_at: Date;
}

export function findClient(db: Queryable, clientId: string): Promise<ClientRow | undefined> {
  return db<ClientRow>('clients').where({ client_id: clientId }).first();
}

export async function insertClient(db: Queryable, row: Omit<ClientRow, 'created_at'>): Promise<void> {
  await db('clients').insert({ ...row, metadata: JSON.stringify(row.metadata) });
}

/** Inserts a client, or replaces the metadata of the existing one with the same id. */
export async function upsertClient(db: Queryable, row: Omit<ClientRow, 'created_at'>): Promise<void> {
  await db('clients')
    .insert({ ...row, metadata: JSON.stringify(row.metadata) })
    .onConflict('client_id')
    .merge(['metadata', 'name']);
}

/** Replaces a client's metadata (its keys, on rotation). */
export async function updateClientMetadata(
  db: Queryable,
  clientId: string,
  metadata: Record<string, unknown>,
): Promise<void> {
  await db('clients')
    .where({ client_id: clientId })
    .update({ metadata: JSON.stringify(metadata) });
}

export function listClients(db: Queryable): Promise<ClientRow[]> {
  return db<ClientRow>('clients').orderBy('created_at');
}
