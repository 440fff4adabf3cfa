import { createDb } from '../../src/db/index.js';
import { migrateLatest, pendingMigrations } from '../../src/db/migrate.js';
import { createTestDatabase, ENGINE } from '../helpers/db.js';

// Several processes starting at once on an empty database all come up: one migrates while the
// others wait for its advisory lock, then find nothing left to do.
describe('migrating from several processes at once', () => {
  it(`leaves every starter with an up-to-date database (${ENGINE})`, async () => {
    // Rounds give the race a chance on PostgreSQL; PGlite has one shared pool, so one round says all.
    const rounds = ENGINE === 'pglite' ? 1 : 5;
    for (let round = 0; round < rounds; round += 1) {
      const database = await createTestDatabase({ empty: true });
      // Separate pools stand for separate processes (on PGlite, one embedded instance is shared).
      const pools = database.databaseUrl
        ? [1, 2, 3, 4, 5, 6].map(() => createDb({ databaseUrl: database.databaseUrl, dataDir: ':memory:', poolMax: 2 }))
        : [database.open()];
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
