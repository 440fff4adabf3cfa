import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startService, waitUntilAnswering } from '../lib/processes.js';

/** The bare provider's one static client (client_secret_basic, like a merchant). */
export const BARE_CLIENT = { client_id: 'bare-merchant', client_secret: 'bare-merchant-secret-bare-merchant-secret' };
export const BARE_SCOPE = 'openid offline_access realname:check';

export interface BareProviders {
  urls: string[];
  /** Refresh tokens minted by each process, by URL (each process has its own memory). */
  refreshTokens: Map<string, string[]>;
  pids: number[];
  stop(): Promise<void>;
}

export interface BareOptions {
  /** Refresh tokens each process mints at start. */
  refreshTokens?: number;
  /** Rotate every refresh token (match the platform's policy). */
  rotate?: boolean;
}

/** Starts `processes` bare oidc-provider processes, each on its own port. */
export async function startBareProviders(processes: number, options: BareOptions = {}): Promise<BareProviders> {
  const ports = await Promise.all(Array.from({ length: processes }, freePort));
  const services = ports.map((port) =>
    startService(new URL('./bare-provider-process.ts', import.meta.url).pathname, {
      NODE_ENV: 'test',
      PORT: String(port),
      REFRESH_TOKENS: String(options.refreshTokens ?? 0),
      ROTATE: options.rotate ? '1' : '0',
      TOKENS_FILE: tokensFile(port),
    }),
  );
  const stop = async () => {
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all(ports.map((port) => rm(tokensFile(port), { force: true })));
  };
  try {
    await Promise.all(
      services.map((s, i) => waitUntilAnswering(`http://127.0.0.1:${ports[i]}/.well-known/openid-configuration`, s)),
    );
    const refresh = new Map<string, string[]>();
    for (const port of ports) {
      refresh.set(
        `http://127.0.0.1:${port}`,
        options.refreshTokens ? (JSON.parse(await readFile(tokensFile(port), 'utf8')) as string[]) : [],
      );
    }
    return {
      urls: ports.map((p) => `http://127.0.0.1:${p}`),
      refreshTokens: refresh,
      pids: services.map((s) => s.pid),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
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
