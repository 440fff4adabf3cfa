import type { Argon2Params } from '../../src/accounts/password.js';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBenchDatabase, type BenchDatabase } from '../lib/database.js';
import type { Engine } from '../lib/options.js';
import { freePort, startService, waitUntilAnswering } from '../lib/processes.js';
import { createBareTable, openBareDb } from './postgres-adapter.js';

/** The bare provider's one static client (client_secret_basic, like a merchant). */
export const BARE_CLIENT = { client_id: 'bare-merchant', client_secret: 'bare-merchant-secret-bare-merchant-secret' };
export const BARE_SCOPE = 'openid offline_access realname:check';
/** The resource its JWT client_credentials tokens are for. */
export const BARE_API = 'urn:bare:api';

export interface BareProviders {
  urls: string[];
  /** Tokens minted by each process, by URL (each process has its own memory). */
  refreshTokens: Map<string, string[]>;
  accessTokens: Map<string, string[]>;
  pids: number[];
  /** PostgreSQL backends serving the adapter's database (on PostgreSQL), for its CPU time. */
  backends?: () => Promise<number[]>;
  stop(): Promise<void>;
}

export interface BareOptions {
  /** Refresh and access tokens each process mints at start. */
  refreshTokens?: number;
  accessTokens?: number;
  /** Rotate every refresh token (match the platform's policy). */
  rotate?: boolean;
  /** Store through the one-table adapter (./postgres-adapter.ts) in a database of this engine; in memory when absent. */
  engine?: Engine;
  /** client_credentials tokens as EdDSA JWTs. */
  jwtClientCredentials?: boolean;
  /** Serve sign-in flows: the sign-in form checks this password with argon2id at these parameters. */
  signIn?: { password: string; argon2: Argon2Params };
}

/** The rung's name as the table shows it. */
export function bareName(options: BareOptions): string {
  return `bare${options.engine ? ' + adapter' : ''}${options.jwtClientCredentials ? ' (EdDSA JWT)' : ''}`;
}

/** Starts `processes` bare oidc-provider processes, each on its own port. */
export async function startBareProviders(processes: number, options: BareOptions = {}): Promise<BareProviders> {
  const database = options.engine ? await createBenchDatabase(options.engine, 'bare') : undefined;
  if (database) {
    const store = database.databaseUrl ? { databaseUrl: database.databaseUrl } : { dataDir: database.dataDir };
    const db = openBareDb(store);
    await createBareTable(db);
    await db.destroy();
  }
  const ports = await Promise.all(Array.from({ length: processes }, freePort));
  const services = ports.map((port) =>
    startService(new URL('./bare-provider-process.ts', import.meta.url).pathname, {
      NODE_ENV: 'test',
      PORT: String(port),
      REFRESH_TOKENS: String(options.refreshTokens ?? 0),
      ACCESS_TOKENS: String(options.accessTokens ?? 0),
      ROTATE: options.rotate ? '1' : '0',
      CC_JWT: options.jwtClientCredentials ? '1' : '0',
      ...(options.signIn ? { SIGN_IN: JSON.stringify(options.signIn) } : {}),
      TOKENS_FILE: tokensFile(port),
      ...storeEnv(database),
    }),
  );
  const stop = async () => {
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all(ports.map((port) => rm(tokensFile(port), { force: true })));
    await database?.drop();
  };
  try {
    await Promise.all(
      services.map((s, i) => waitUntilAnswering(`http://127.0.0.1:${ports[i]}/.well-known/openid-configuration`, s)),
    );
    const minted = new Map<string, { refresh: string[]; access: string[] }>();
    for (const port of ports) {
      minted.set(
        `http://127.0.0.1:${port}`,
        options.refreshTokens || options.accessTokens
          ? (JSON.parse(await readFile(tokensFile(port), 'utf8')) as { refresh: string[]; access: string[] })
          : { refresh: [], access: [] },
      );
    }
    return {
      urls: ports.map((p) => `http://127.0.0.1:${p}`),
      refreshTokens: new Map([...minted].map(([url, t]) => [url, t.refresh])),
      accessTokens: new Map([...minted].map(([url, t]) => [url, t.access])),
      pids: services.map((s) => s.pid),
      backends: database?.postgres?.backends,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function storeEnv(database: BenchDatabase | undefined): Record<string, string> {
  if (!database) return {};
  return database.databaseUrl ? { DATABASE_URL: database.databaseUrl } : { DATA_DIR: database.dataDir };
}

function tokensFile(port: number): string {
  return join(tmpdir(), `rn-bench-bare-${port}.json`);
}

/** Runs `work` against freshly started bare providers (one per server process of the layout). */
export async function withBareProviders<T>(
  processes: number,
  work: (bare: BareProviders) => Promise<T>,
  options: BareOptions = {},
): Promise<T> {
  const bare = await startBareProviders(processes, options);
  try {
    return await work(bare);
  } finally {
    await bare.stop();
  }
}
