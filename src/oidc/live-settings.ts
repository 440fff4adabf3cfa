// What every process keeps in memory and an operator changes while the processes run: the OIDC
// signing keys, the cookie keys and the tree-head key (`keys rotate`), and the registrations
// (src/oidc/clients.ts keeps them a while). Each process compares a cheap generation of each with
// what it loaded, at most once per `settingsCheckInterval` seconds on its next request, and loads
// what changed: a rotation takes effect in every process without a restart.
import type { JWK } from 'jose';
import type Provider from 'oidc-provider';
// oidc-provider builds its keystore and published JWKS once, in its constructor
// (lib/provider.js: `inititalizeKeyStore.call(this, configuration.jwks)`), and has no API to replace
// them; calling the same function again on the provider swaps both. This module is the only one
// that reaches into oidc-provider's internals for it:
// https://github.com/panva/node-oidc-provider/blob/v9.13.3/lib/helpers/initialize_keystore.js#L282
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';
import type { Logger } from 'pino';
import { AUDIT_TREE_HEAD_KEY, type TreeHeads } from '../audit/tree-heads.js';
import type { ClientService } from '../clients/service.js';
import { COOKIE_KEY, OIDC_SIGNING, type KeyService } from '../keys/service.js';
import { CookieKeys } from '../crypto/cookie-keys.js';
import { forEveryRsaAlg } from './provider.js';

const PURPOSES = [OIDC_SIGNING[0]!.purpose, COOKIE_KEY.purpose, AUDIT_TREE_HEAD_KEY.purpose];

export interface LiveSettingsDeps {
  provider: Provider;
  /** The Koa applications whose signed cookies use the cookie keys (the provider is one too). */
  cookieApps: () => Array<{ keys: unknown }>;
  keys: KeyService;
  treeHeads: TreeHeads;
  clients: ClientService;
  /** Milliseconds between two checks (`settingsCheckInterval`). */
  intervalMs: number;
  logger: Logger;
  /** Told the signing keys after a reload (the APIs' token verification keeps their public halves). */
  signingKeysLoaded: (keys: JWK[]) => void;
}

export class LiveSettings {
  private checkedAt = 0;
  private checking: Promise<void> | undefined;
  private keysSeen: string | undefined;
  private clientsSeen: string | undefined;

  constructor(private readonly deps: LiveSettingsDeps) {}

  /** Notes the generations the process started with. */
  async start(): Promise<void> {
    [this.keysSeen, this.clientsSeen] = await Promise.all([
      this.deps.keys.generation(PURPOSES),
      this.deps.clients.generation(),
    ]);
    this.checkedAt = Date.now();
  }

  /** Middleware: checks (once per interval, one check at a time) before the request goes on. */
  middleware() {
    return async (_ctx: unknown, next: () => Promise<unknown>) => {
      if (Date.now() - this.checkedAt >= this.deps.intervalMs) {
        this.checking ??= this.check().finally(() => (this.checking = undefined));
        await this.checking;
      }
      return next();
    };
  }

  /** Loads whatever changed since the last check. A failed check is logged and tried again later. */
  async check(): Promise<void> {
    this.checkedAt = Date.now();
    try {
      const [keys, clients] = await Promise.all([this.deps.keys.generation(PURPOSES), this.deps.clients.generation()]);
      if (keys !== this.keysSeen) {
        await this.reloadKeys();
        this.keysSeen = keys;
      }
      if (clients !== this.clientsSeen) {
        this.deps.clients.changed();
        this.clientsSeen = clients;
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'checking for rotated keys and changed clients failed');
    }
  }

  private async reloadKeys(): Promise<void> {
    const { keys, provider, cookieApps, treeHeads, logger } = this.deps;
    const [signing, cookies] = await Promise.all([
      keys.privateJwks(OIDC_SIGNING[0]!.purpose),
      keys.secrets(COOKIE_KEY.purpose),
    ]);
    initializeKeystore.call(provider, { keys: signing.map(forEveryRsaAlg) });
    this.deps.signingKeysLoaded(signing);
    // Cookies are signed with the first key and verified with any, on both Koa apps.
    const cookieKeys = new CookieKeys(cookies);
    for (const app of [...cookieApps(), provider]) app.keys = cookieKeys;
    await treeHeads.reloadKeys(keys);
    logger.info({ signing: signing.map((k) => k.kid) }, 'rotated keys loaded');
  }
}
