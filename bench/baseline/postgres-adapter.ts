import { resolve } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import ClientPgLite from 'knex-pglite';
import type { Adapter, AdapterPayload } from 'oidc-provider';

// The middle rung of the baselines: the smallest adapter that persists what oidc-provider issues,
// as its documentation's example adapters do: one table, the payload as JSONB, one statement per
// call. No transaction, no lock, no audit: what persistence alone costs.

export const BARE_TABLE = 'bare_payloads';

/** Where the adapter stores: a PostgreSQL database, or a PGlite data directory (one process). */
export type BareStore = { databaseUrl: string } | { dataDir: string };

export function openBareDb(store: BareStore): Knex {
  if ('databaseUrl' in store)
    return knexFactory({ client: 'pg', connection: store.databaseUrl, pool: { min: 0, max: 10 } });
  return knexFactory({
    client: ClientPgLite as unknown as typeof Knex.Client,
    dialect: 'postgres',
    connection: { filename: resolve(store.dataDir) } as Knex.StaticConnectionConfig,
  });
}

/** Creates the adapter's table (run once, before any bare provider process starts). */
export async function createBareTable(db: Knex): Promise<void> {
  await db.raw(`CREATE TABLE IF NOT EXISTS ${BARE_TABLE} (
    model text NOT NULL, id text NOT NULL, payload jsonb NOT NULL,
    grant_id text, uid text, user_code text, expires_at timestamptz,
    PRIMARY KEY (model, id))`);
  await db.raw(`CREATE INDEX IF NOT EXISTS ${BARE_TABLE}_grant ON ${BARE_TABLE} (grant_id)`);
}

export function postgresAdapter(db: Knex): new (model: string) => Adapter {
  return class BarePostgresAdapter implements Adapter {
    constructor(private readonly model: string) {}

    private rows() {
      return db(BARE_TABLE).where({ model: this.model });
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const row = {
        model: this.model,
        id,
        payload: JSON.stringify(payload),
        grant_id: payload.grantId ?? null,
        uid: payload.uid ?? null,
        user_code: payload.userCode ?? null,
        expires_at: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      };
      await db(BARE_TABLE).insert(row).onConflict(['model', 'id']).merge();
    }

    private async first(where: Record<string, string>): Promise<AdapterPayload | undefined> {
      const row = await this.rows()
        .where(where)
        .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', db.fn.now()))
        .first('payload');
      return row?.payload as AdapterPayload | undefined;
    }

    find = (id: string) => this.first({ id });
    findByUid = (uid: string) => this.first({ uid });
    findByUserCode = (userCode: string) => this.first({ user_code: userCode });

    async consume(id: string): Promise<void> {
      await this.rows()
        .where({ id })
        .update({ payload: db.raw(`payload || jsonb_build_object('consumed', extract(epoch from now())::int)`) });
    }

    async destroy(id: string): Promise<void> {
      await this.rows().where({ id }).delete();
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await db(BARE_TABLE).where({ grant_id: grantId }).delete();
    }
  };
}
