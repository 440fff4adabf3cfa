import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import { PasswordHasher } from './accounts/password.js';
import { AccountService } from './accounts/service.js';
import { buildApp } from './app.js';
import { ClientService } from './clients/service.js';
import type { Config } from './config/schema.js';
import { SecretBox } from './crypto/secret-box.js';
import { createDb, type Db } from './db/index.js';
import { migrateLatest } from './db/migrate.js';
import { Views } from './http/views.js';
import { COOKIE_KEY, KeyService, OIDC_SIGNING, PAIRWISE_SALT } from './keys/service.js';
import { createLogger } from './logger.js';
import { buildProvider } from './oidc/provider.js';

export interface Platform {
  config: Config;
  db: Db;
  logger: Logger;
  app: Koa;
  provider: Provider;
  accounts: AccountService;
  clients: ClientService;
  keys: KeyService;
  close(): Promise<void>;
}

export interface PlatformOptions {
  /** An already open database (tests share one between two platform instances). */
  db?: Db;
  logger?: Logger;
}

/** Opens the database, applies migrations, loads or creates keys, and builds the application. */
export async function createPlatform(config: Config, options: PlatformOptions = {}): Promise<Platform> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const db = options.db ?? createDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolMax: config.databasePoolMax });
  try {
    await migrateLatest(db);
    const box = SecretBox.fromBase64(config.masterKey);
    const keys = new KeyService(db, box);
    await keys.ensure([...OIDC_SIGNING, COOKIE_KEY, PAIRWISE_SALT]);
    const [signingKeys, cookieKeys, [pairwiseSalt]] = await Promise.all([
      keys.privateJwks(OIDC_SIGNING[0]!.purpose),
      keys.secrets(COOKIE_KEY.purpose),
      keys.secrets(PAIRWISE_SALT.purpose),
    ]);

    const views = new Views();
    const accounts = new AccountService(db, new PasswordHasher(config.argon2));
    const clients = new ClientService(db, box);
    const provider = buildProvider({
      config,
      db,
      accounts,
      clients,
      views,
      signingKeys: { keys: signingKeys as never },
      cookieKeys,
      pairwiseSalt: pairwiseSalt!,
    });
    provider.on('server_error', (ctx, err) => logger.error({ err, reqId: ctx.state?.requestId }, 'oidc-provider server error'));
    const app = buildApp({ config, logger, views, provider, accounts, cookieKeys });
    const close = async () => {
      if (!options.db) await db.destroy();
    };
    return { config, db, logger, app, provider, accounts, clients, keys, close };
  } catch (err) {
    if (!options.db) await db.destroy();
    throw err;
  }
}
