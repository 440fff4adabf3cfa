import type { Queryable } from '../db/index.js';

export interface ClientRow {
  client_id: string;
  client_secret_encrypted: string;
  name: string;
  kind: 'merchant' | 'notary' | 'operator';
  category: string;
  security_level: 1 | 2 | 3;
  grant_levels: string[];
  metadata: Record<string, unknown>;
  result_max_age_days: number | null;
  result_max_queries: number | null;
  /** The operator an operator client acts for (kind `operator` only). */
  operator_account_id?: string | null;
  /** Set while an operator has the client disabled: oidc-provider then finds no such client. */
  disabled_at?: Date | null;
  created_at: Date;
}

export function findClient(db: Queryable, clientId: string): Promise<ClientRow | undefined> {
  return db<ClientRow>('clients').where({ client_id: clientId }).first();
}

export async function insertClient(db: Queryable, row: Omit<ClientRow, 'created_at' | 'disabled_at'>): Promise<void> {
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
    .update({ metadata: JSON.stringify(metadata), updated_at: db.raw('clock_timestamp()') });
}

export function listClients(db: Queryable): Promise<ClientRow[]> {
  return db<ClientRow>('clients').orderBy('created_at');
}

/** Changes a client's columns (its name, levels, metadata, secret, whether it is disabled). */
export async function updateClient(
  db: Queryable,
  clientId: string,
  changes: Partial<Omit<ClientRow, 'client_id' | 'created_at' | 'kind' | 'operator_account_id'>>,
): Promise<void> {
  const { metadata, ...rest } = changes;
  await db('clients')
    .where({ client_id: clientId })
    .update({
      ...rest,
      ...(metadata ? { metadata: JSON.stringify(metadata) } : {}),
      updated_at: db.raw('clock_timestamp()'),
    });
}

/** Deletes a client; false when there was none. */
export async function deleteClient(db: Queryable, clientId: string): Promise<boolean> {
  return (await db('clients').where({ client_id: clientId }).delete().returning('client_id')).length > 0;
}

/**
 * What changes whenever a registration does: the count and the latest change. A process that
 * keeps registrations in memory compares it with what it saw (src/oidc/live-settings.ts).
 */
export async function clientsGeneration(db: Queryable): Promise<string> {
  const row = (await db('clients').count({ n: '*' }).max({ latest: 'updated_at' }).first()) as
    { n: string | number; latest: Date | string | null } | undefined;
  return `${row?.n ?? 0}:${row?.latest ? new Date(row.latest).getTime() : 0}`;
}
