import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createDb, type Db } from '../db/index.js';
import { migrateLatest } from '../db/migrate.js';
import { createLogger } from '../logger.js';
import { createServices, type Services } from '../services.js';

/** What every operator command gets: configuration, a migrated database, and the services. */
export interface CliContext {
  config: Config;
  db: Db;
  /** The platform's services, built on first use: commands that only read tables need none. */
  services(): Promise<Services>;
  json: boolean;
  /** Prints a result: one JSON object with --json, else readable lines. */
  print(result: Record<string, unknown>, human: string): void;
}

export async function openCliContext(json: boolean): Promise<CliContext> {
  const config = loadConfig();
  const db = createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: 2 });
  try {
    await migrateLatest(db);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  let services: Promise<Services> | undefined;
  return {
    config,
    db,
    services: () => (services ??= createServices(config, db, createLogger(config.logLevel))),
    json,
    print: (result, human) => console.log(json ? JSON.stringify(result) : human),
  };
}
