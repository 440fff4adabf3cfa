import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { SecretBox } from '../crypto/secret-box.js';
import { createDb, type Db } from '../db/index.js';
import { migrateLatest } from '../db/migrate.js';

/** What every operator command gets: configuration and a migrated database. */
export interface CliContext {
  config: Config;
  db: Db;
  box: SecretBox;
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
  return {
    config,
    db,
    box: SecretBox.fromBase64(config.masterKey, config.previousMasterKeys),
    json,
    print: (result, human) => console.log(json ? JSON.stringify(result) : human),
  };
}
