import type { Redis } from 'ioredis';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Db } from '../db/index.js';
import type { ClientService } from '../clients/service.js';
import { ProviderClients } from './clients.js';
import { RedisSessionAdapter } from './redis-sessions.js';
import { isStorableText } from '../db/text.js';
import {
  consumePayload,
  destroyByGrantId,
  destroyPayload,
  findPayload,
  upsertPayload,
  type PayloadRow,
} from './store.js';
import type { TokenIds } from './token-ids.js';

// oidc-provider's Adapter contract, as its reference memory adapter implements it
// (oidc-provider/lib/adapters/memory_adapter.js): `consumed` is an epoch time in the payload,
// a payload past its expiry is not found, revokeByGrantId removes every token of a grant.

/**
 * `id`, when given, is the value the row was found by: it goes back into the payload as `jti`,
 * which is not stored for hashed models (see storable).
 */
function toPayload(row: PayloadRow | undefined, id?: string): AdapterPayload | undefined {
  if (!row) return undefined;
  const payload = { ...(row.payload as AdapterPayload), ...(id === undefined ? {} : { jti: id }) };
  return row.consumed_at ? { ...payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : payload;
}

/**
 * What is stored of a payload whose id is hashed: not the id itself. oidc-provider puts the id
 * in the payload as `jti` (oidc-provider/lib/models/base_model.js IN_PAYLOAD), and an Interaction
 * carries its Session's id as `session.cookie` (lib/models/interaction.js), which nothing in
 * oidc-provider 9 or this platform reads back. Rows found by uid or user code therefore come back
 * without `jti`: oidc-provider 9 only reads those (a Session by uid in provider.js #getInteraction
 * and token_helpers.js checkSessionBinding), it never saves them.
 */
function storable(model: string, payload: AdapterPayload): AdapterPayload {
  const { jti: _jti, ...rest } = payload;
  const session = rest.session as Record<string, unknown> | undefined;
  if (model === 'Interaction' && session && 'cookie' in session) {
    const { cookie: _cookie, ...kept } = session;
    return { ...rest, session: kept };
  }
  return rest;
}

/** Grant sources whose consumption must happen once, even under concurrent requests. */
const SINGLE_USE = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

/** Every model but Client (and Interaction and Session where Redis keeps them), stored in `oidc_payloads`. */
export class KnexAdapter implements Adapter {
  private readonly hashed: boolean;

  constructor(
    private readonly db: Db,
    private readonly model: string,
    private readonly ids: TokenIds,
  ) {
    this.hashed = ids.hashes(model);
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    // Interaction#persist and Session#persist save what is left of their lifetime: 0 or less is a
    // payload saved as it ends, which is over (not a payload without expiry, as 0 stored would be).
    if (expiresIn !== undefined && expiresIn <= 0) return this.destroy(id);
    await upsertPayload(this.db, {
      model: this.model,
      id: this.ids.stored(this.model, id),
      payload: this.hashed ? storable(this.model, payload) : payload,
      grantId: payload.grantId,
      uid: payload.uid,
      userCode: payload.userCode,
      accountId: payload.accountId,
      expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : undefined,
    });
  }

  // Ids, uids and user codes come from requests: anything unstorable cannot exist.
  async find(id: string): Promise<AdapterPayload | undefined> {
    if (!isStorableText(id, 1000)) return undefined;
    const row = await findPayload(this.db, this.model, { id: this.ids.stored(this.model, id) });
    return toPayload(row, this.hashed ? id : undefined);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    if (!isStorableText(uid, 1000)) return undefined;
    return toPayload(await findPayload(this.db, this.model, { uid }));
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    if (!isStorableText(userCode, 1000)) return undefined;
    return toPayload(await findPayload(this.db, this.model, { user_code: userCode }));
  }

  /**
   * oidc-provider checks `consumed` on the payload it read, then consumes: two concurrent
   * redemptions of one code both pass that check. The UPDATE here decides; the loser is a replay,
   * so its grant is revoked and the request fails (RFC 6749 §4.1.2, §10.5).
   */
  async consume(id: string): Promise<void> {
    const { consumed, grantId } = await consumePayload(this.db, this.model, this.ids.stored(this.model, id));
    if (consumed || !SINGLE_USE.has(this.model)) return;
    if (grantId) await destroyByGrantId(this.db, grantId);
    throw new errors.InvalidGrant(
      `${this.model === 'RefreshToken' ? 'refresh token' : 'authorization code'} already used`,
    );
  }

  async destroy(id: string): Promise<void> {
    await destroyPayload(this.db, this.model, this.ids.stored(this.model, id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await destroyByGrantId(this.db, grantId);
  }
}

/**
 * oidc-provider's Interactions in Redis, when `REDIS_URL` is set: a sign-in's steps read and write
 * its interaction a dozen times, and none of it needs to outlive the sign-in. One command per
 * call (SET with the lifetime, GET, DEL), under the same keyed hash of the id as in the database,
 * and Redis forgets an interaction when its lifetime ends. An interaction lost (Redis restarted)
 * is a sign-in the person starts again from the merchant.
 *
 * oidc-provider finds an Interaction by id only and never consumes or revokes one
 * (lib/models/interaction.js): the other operations have nothing to act on.
 */
export class RedisInteractionAdapter implements Adapter {
  private static readonly MODEL = 'Interaction';

  constructor(
    private readonly redis: Redis,
    private readonly ids: TokenIds,
  ) {}

  private key(id: string): string {
    return `realname:oidc:${RedisInteractionAdapter.MODEL}:${this.ids.stored(RedisInteractionAdapter.MODEL, id)}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    // oidc-provider saves every Interaction with its lifetime: ttl.Interaction when it starts, what
    // is left of it when a step's result is saved (Interaction#persist), which is 0 or less once over.
    if (expiresIn === undefined) throw new TypeError('an interaction is kept for its lifetime, and none was given');
    if (expiresIn <= 0) return this.destroy(id);
    await this.redis.set(
      this.key(id),
      JSON.stringify(storable(RedisInteractionAdapter.MODEL, payload)),
      'EX',
      Math.ceil(expiresIn), // whole seconds, as EX takes
    );
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (!isStorableText(id, 1000)) return undefined;
    const stored = await this.redis.get(this.key(id));
    return stored === null ? undefined : { ...(JSON.parse(stored) as AdapterPayload), jti: id };
  }

  async destroy(id: string): Promise<void> {
    await this.redis.del(this.key(id));
  }

  async findByUid(): Promise<undefined> {
    return undefined;
  }

  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  async consume(): Promise<void> {
    throw new TypeError('interactions are not consumed');
  }

  async revokeByGrantId(): Promise<void> {}
}

/** Clients live in our own `clients` table, registered by the operator CLI; read-only here. */
export class ClientAdapter implements Adapter {
  constructor(private readonly clients: ProviderClients) {}

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (!isStorableText(id, 200)) return undefined;
    return (await this.clients.find(id)) as AdapterPayload | undefined;
  }

  async upsert(): Promise<void> {
    throw new Error('clients are registered with the operator CLI');
  }

  async findByUid(): Promise<undefined> {
    return undefined;
  }

  async findByUserCode(): Promise<undefined> {
    return undefined;
  }

  async consume(): Promise<void> {}

  async destroy(): Promise<void> {
    throw new Error('clients are removed with the operator CLI');
  }

  async revokeByGrantId(): Promise<void> {}
}

/**
 * Clients from the `clients` table; Interactions and Sessions in Redis when there is one
 * (`longestSession`: `ttl.sessionAbsolute`); the rest in `oidc_payloads`.
 */
export function adapterFactory(
  db: Db,
  clients: ClientService,
  ids: TokenIds,
  shared?: { redis: Redis; longestSession: number },
) {
  const registered = new ProviderClients(clients);
  return (model: string): Adapter => {
    if (model === 'Client') return new ClientAdapter(registered);
    if (model === 'Interaction' && shared) return new RedisInteractionAdapter(shared.redis, ids);
    if (model === 'Session' && shared) return new RedisSessionAdapter(shared.redis, ids, shared.longestSession);
    return new KnexAdapter(db, model, ids);
  };
}
