import { createDb } from '../../src/db/index.js';
import { migrateLatest, pendingMigrations } from '../../src/db/migrate.js';
import { createTestDatabase, ENGINE } from '../helpers/db.js';

// Several processes starting at once on an empty database all come up: one migrates, the others
// wait for it (knex's lock) or lose the race to create knex's own tables, and retry.
describe('migrating from several processes at once', () => {
  it(`leaves every starter with an up-to-date database (${ENGINE})`, async () => {
    for (let round = 0; round < 3; round += 1) {
      const database = await createTestDatabase();
      // Separate pools stand for separate processes (on PGlite, one embedded instance is shared).
      const pools = database.databaseUrl ? [1, 2, 3, 4].map(() => createDb({ databaseUrl: database.databaseUrl, dataDir: ':memory:', poolMax: 2 })) : [database.open()];
      try {
        const applied = await Promise.all(pools.map((db) => migrateLatest(db)));
        expect(applied.flat().length).toBe(applied.reduce((max, a) => Math.max(max, a.length), 0));
        expect(await pendingMigrations(pools[0]!)).toEqual([]);
      } finally {
        if (database.databaseUrl) await Promise.all(pools.map((db) => db.destroy()));
        await database.drop();
      }
    }
  });
});
