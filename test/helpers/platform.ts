import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createPlatform, type Platform } from '../../src/platform.js';
import { consentEventsNotMatchingTokens } from './consent-evidence.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export interface RunningPlatform {
  platform: Platform;
  server: Server;
  issuer: string;
  stop(): Promise<void>;
}

// Listens first on a random port so the issuer can name it, then serves the platform there.
async function freePortServer(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * Test configuration (config/test.json: quiet logs, rate limits out of the way, since every test
 * signs in from 127.0.0.1; a test of the limits sets its own), the given database and its own
 * directory of kept tree heads.
 */
export function testConfig(database: TestDatabase, overrides: Record<string, unknown> = {}): Config {
  const audit = { headsDir: database.headsDir, ...(overrides.audit as Record<string, unknown> | undefined) };
  return loadConfig({
    env: { NODE_ENV: 'test', LOG_LEVEL: process.env.LOG_LEVEL },
    overrides: { databaseUrl: database.databaseUrl, dataDir: database.dataDir, ...overrides, audit },
  });
}

/**
 * Starts one platform instance over real HTTP on 127.0.0.1. On PGlite every instance shares the
 * file's one in-memory database; on PostgreSQL each instance gets its own pool.
 */
export async function startPlatform(
  database: TestDatabase,
  overrides: Record<string, unknown> = {},
): Promise<RunningPlatform> {
  const { server, port } = await freePortServer();
  // `issuerHost` names the server by another loopback name: WebAuthn takes no IP address as RP ID.
  const { issuerHost = '127.0.0.1', ...rest } = overrides as { issuerHost?: string } & Record<string, unknown>;
  const issuer = (rest.issuer as string | undefined) ?? `http://${issuerHost}:${port}`;
  const config = testConfig(database, { issuer, port, ...rest });
  let platform: Platform;
  try {
    platform = await createPlatform(config, { db: database.open() });
  } catch (err) {
    server.close();
    throw err;
  }
  server.on('request', platform.app.callback());
  return {
    platform,
    server,
    issuer,
    stop: async () => {
      server.closeAllConnections();
      const closed = once(server, 'close');
      server.close();
      // Every consent this platform recorded must name the scopes its token then carried. A
      // database a fault test took away cannot be read: nothing to compare then.
      const mismatches = await consentEventsNotMatchingTokens(platform).catch(() => []);
      await platform.close();
      await closed;
      if (mismatches.length)
        throw new Error(`the audit trail says what did not take effect:\n${mismatches.join('\n')}`);
    },
  };
}

/** One database and one platform for a test file; if the platform fails to start, the database is dropped. */
export async function startTestPlatform(overrides: Record<string, unknown> = {}) {
  const database = await createTestDatabase();
  let running: RunningPlatform;
  try {
    running = await startPlatform(database, overrides);
  } catch (err) {
    await database.drop();
    throw err;
  }
  return {
    ...running,
    database,
    stop: async () => {
      await running.stop();
      await database.drop();
    },
  };
}
