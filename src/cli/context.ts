import { verifyWholeLog } from '../admin/service.js';
import { AuditLog } from '../audit/log.js';
import type { OperatorActor } from '../operators/service.js';
import { loadConfig } from '../config/load.js';
import { operatorCredentials } from '../config/operator-credentials.js';
import type { Config } from '../config/schema.js';
import { createDb, type Db } from '../db/index.js';
import { DataDirInUse } from '../db/lock.js';
import { migrateLatest } from '../db/migrate.js';
import { closeRedis } from '../db/redis.js';
import { PlatformError } from '../errors.js';
import { createLogger } from '../logger.js';
import { createServices, type Services } from '../services.js';
import { RemoteAdmin, type AdminOperations } from './remote.js';

/** The CLI on the database itself acts as an operator it cannot name. */
export const CLI_OPERATOR: OperatorActor = { type: 'operator' };

/** The database itself: configuration, a migrated database, and the services. */
export interface LocalContext {
  config: Config;
  db: Db;
  /** The platform's services, built on first use: commands that only read tables need none. */
  services(): Promise<Services>;
}

/** A local context this process opened: closing it closes the database and any Redis connection. */
interface OpenedContext extends LocalContext {
  close(): Promise<void>;
}

/** What every operator command gets. */
export interface CliContext {
  json: boolean;
  /** Prints a result: one JSON object with --json, else readable lines. */
  print(result: Record<string, unknown>, human: string): void;
  /**
   * The operator's operations: AdminService on the database, or the admin API of a running
   * platform with `--url` (or when a running platform holds the embedded database and operator
   * credentials are set), which answers the same.
   */
  admin(): Promise<AdminOperations>;
  /** The audit verification alone: on the database it needs no master key (and builds no services). */
  auditVerifier(): Promise<Pick<AdminOperations, 'verifyAudit'>>;
  /** The database itself, for what the admin API does not offer; refused with `--url`. */
  local(): Promise<LocalContext>;
  close(): Promise<void>;
}

export function openCliContext(json: boolean, url: string | undefined, command: string): CliContext {
  let local: Promise<OpenedContext> | undefined;
  let remote: RemoteAdmin | undefined;
  const remoteAt = (address: string) => {
    const credentials = operatorCredentials();
    if (!credentials) {
      throw new PlatformError(
        'operator-credentials-required',
        400,
        'The admin API needs an operator client: set OPERATOR_CLIENT_ID and OPERATOR_CLIENT_SECRET (from `operator credentials LOGIN`).',
      );
    }
    return (remote ??= new RemoteAdmin(address, credentials));
  };
  const openLocal = () => {
    if (url) {
      throw new PlatformError(
        'needs-database',
        400,
        `\`${command}\` works on the database itself, not through the admin API: run it without --url where the platform's database is.`,
      );
    }
    return (local ??= openLocalContext());
  };
  return {
    json,
    print: (result, human) => console.log(json ? JSON.stringify(result) : human),
    admin: async () => {
      if (url) return remoteAt(url);
      try {
        return await (await openLocal()).services().then((services) => services.admin);
      } catch (err) {
        // One process per embedded database: beside a running platform, go through its admin API.
        if (err instanceof DataDirInUse) {
          if (!operatorCredentials()) {
            throw new Error(
              `${err.message} Or work through its admin API: set OPERATOR_CLIENT_ID and OPERATOR_CLIENT_SECRET (and --url if it is not at its issuer).`,
              { cause: err },
            );
          }
          local = undefined;
          return remoteAt(loadConfig().issuer);
        }
        throw err;
      }
    },
    auditVerifier: async () => {
      if (url) return remoteAt(url);
      const { db, config } = await openLocal();
      const deps = { db, audit: new AuditLog(db), headsDir: config.audit.headsDir };
      return { verifyAudit: (body: unknown, actor: OperatorActor) => verifyWholeLog(deps, body, actor) };
    },
    local: openLocal,
    close: async () => {
      if (local) await (await local.catch(() => undefined))?.close();
    },
  };
}

async function openLocalContext(): Promise<OpenedContext> {
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
    close: async () => {
      // Ending sessions (`sessions end`, `account disable`) talks to Redis when REDIS_URL is set.
      const redis = (await services?.catch(() => undefined))?.redis;
      if (redis) await closeRedis(redis);
      await db.destroy();
    },
  };
}
