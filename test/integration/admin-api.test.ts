import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { addMerchant, CALLBACK, discover, newLogin } from '../helpers/merchant.js';
import { startPlatform, type RunningPlatform } from '../helpers/platform.js';

const PASSWORD = 'correct horse battery';

type Answer = { status: number; body: any; headers: Headers };

// The admin API as an operator's tools use it: real HTTP against two platform instances on one
// database, tokens from an operator client's client_credentials grant.
describe('the admin API', () => {
  let database: TestDatabase;
  let a: RunningPlatform;
  let b: RunningPlatform;
  let token: string;
  let operatorLogin: string;

  async function api(
    path: string,
    init: { method?: string; body?: unknown; token?: string | null } = {},
  ): Promise<Answer> {
    const bearer = init.token === undefined ? token : init.token;
    const response = await fetch(`${a.issuer}/api/admin${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
  }

  /** Events of these types about a client (or all), integrated first. */
  async function events(types: string[], client?: string) {
    await a.platform.audit.integrateAll();
    return a.platform.audit.search({ types, ...(client ? { client } : {}) }, 1000);
  }

  /** A new operator account with its own API client, and a token of it. */
  async function newOperator(): Promise<{
    login: string;
    accountId: string;
    token: string;
    clientId: string;
    clientSecret: string;
  }> {
    const login = newLogin();
    const account = await a.platform.accounts.register({ login, password: PASSWORD });
    await a.platform.operators.add(login, { type: 'operator' });
    const client = await a.platform.clients.addOperatorClient(account.id, login, { type: 'operator' });
    const config = await discover(a.issuer, client.client_id, client.client_secret);
    const granted = await oidc.clientCredentialsGrant(config, { scope: 'admin' });
    return {
      login,
      accountId: account.id,
      token: granted.access_token,
      clientId: client.client_id,
      clientSecret: client.client_secret,
    };
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    // Both instances look for rotated keys and changed clients on every request.
    a = await startPlatform(database, { settingsCheckInterval: 0 });
    b = await startPlatform(database, { settingsCheckInterval: 0 });
    const operator = await newOperator();
    token = operator.token;
    operatorLogin = operator.login;
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await database?.drop();
  });

  describe('authentication', () => {
    it('refuses a call without a token with 401 problem+json and a Bearer challenge', async () => {
      const answer = await api('/clients', { token: null });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="admin"');
      expect(answer.body.type).toBe('urn:realname:problem:unauthorized');
    });

    it('refuses an unknown token with 401 invalid-token', async () => {
      const answer = await api('/clients', { token: 'not-a-token' });
      expect(answer.status).toBe(401);
      expect(answer.body.type).toBe('urn:realname:problem:invalid-token');
    });

    it("refuses a merchant's and a notary's tokens with 403 insufficient-scope", async () => {
      const merchant = await addMerchant(a.platform);
      const merchantToken = (
        await oidc.clientCredentialsGrant(await discover(a.issuer, merchant.client_id, merchant.client_secret), {
          scope: 'realname:check',
        })
      ).access_token;
      const notary = await a.platform.clients.add({ name: 'Notary', kind: 'notary' });
      const notaryToken = (
        await oidc.clientCredentialsGrant(await discover(a.issuer, notary.client_id, notary.client_secret), {
          scope: 'audit:read',
        })
      ).access_token;
      for (const other of [merchantToken, notaryToken]) {
        const answer = await api('/clients', { token: other });
        expect(answer.status).toBe(403);
        expect(answer.body.type).toBe('urn:realname:problem:insufficient-scope');
        expect(answer.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
      }
    });

    it('refuses a merchant asking for the admin scope at the token endpoint', async () => {
      const merchant = await addMerchant(a.platform);
      const config = await discover(a.issuer, merchant.client_id, merchant.client_secret);
      await expect(oidc.clientCredentialsGrant(config, { scope: 'admin' })).rejects.toMatchObject({
        error: 'invalid_scope',
      });
    });

    it("stops an operator's credentials once the account is no longer an operator, or is disabled", async () => {
      const removed = await newOperator();
      expect((await api('/clients', { token: removed.token })).status).toBe(200);
      const answer = await api('/operators/remove', { body: { login: removed.login } });
      expect(answer).toMatchObject({ status: 200, body: { login: removed.login, changed: true } });
      const refused = await api('/clients', { token: removed.token });
      expect(refused.status).toBe(403);
      expect(refused.body.type).toBe('urn:realname:problem:not-an-operator');

      const disabled = await newOperator();
      await a.platform.disabling.disable(disabled.accountId, 'test');
      expect((await api('/clients', { token: disabled.token })).status).toBe(403);
    });
  });

  describe('clients', () => {
    it('makes client ids a command line reads as values: none starts with - or _', async () => {
      // One id in 32 started so, and `--client-id -…` then read as an option (seen in admin-cli.test.ts).
      const ids = await Promise.all(
        Array.from(
          { length: 300 },
          async (_, i) => (await addMerchant(a.platform, { name: `Merchant ${i}` })).client_id,
        ),
      );
      expect(ids.filter((id) => !/^[A-Za-z0-9]/.test(id))).toEqual([]);
    });

    it('registers a merchant, shows its secret once, and audits the registration with the operator', async () => {
      const added = await api('/clients', {
        body: { name: '示例商城', redirect_uris: [CALLBACK], levels: ['result', 'credentials'], security_level: 2 },
      });
      expect(added.status).toBe(201);
      expect(added.body).toMatchObject({
        name: '示例商城',
        kind: 'merchant',
        grant_levels: ['result', 'credentials'],
        security_level: 2,
        disabled: false,
      });
      expect(added.body.client_secret.length).toBeGreaterThanOrEqual(43);
      const shown = await api(`/clients/${added.body.client_id}`);
      expect(shown.status).toBe(200);
      expect(shown.body.client_secret).toBeUndefined();
      const listed = await api('/clients');
      expect(listed.body.clients.map((c: { client_id: string }) => c.client_id)).toContain(added.body.client_id);
      expect(JSON.stringify(listed.body)).not.toContain(added.body.client_secret);

      const [event] = await events(['client.registered'], added.body.client_id);
      const operator = await a.platform.accounts.findByLogin(operatorLogin);
      expect(event).toMatchObject({ actor_type: 'operator', actor_id: operator!.id });
      expect(event!.leaf ?? '').not.toContain(added.body.client_secret);
    });

    it('refuses bad input with problem+json naming each field, and writes nothing', async () => {
      const before = (await api('/clients')).body.clients.length;
      const registered = (await events(['client.registered'])).length;
      const cases: Array<[unknown, string]> = [
        [{ name: 'No URIs' }, 'redirectUris'],
        [{ name: 'Bad URI', redirect_uris: ['http://shop.example/cb'] }, 'redirectUris.0'],
        [{ name: 'Bad level', redirect_uris: [CALLBACK], levels: ['everything'] }, 'levels.0'],
        [{ name: 'Extra', redirect_uris: [CALLBACK], surprise: 1 }, '(body)'],
        [{ name: 'NUL\u0000', redirect_uris: [CALLBACK] }, 'name'],
        [{ name: 'Level', redirect_uris: [CALLBACK], security_level: 9 }, 'securityLevel'],
      ];
      for (const [body, field] of cases) {
        const answer = await api('/clients', { body });
        expect({ body, status: answer.status }).toEqual({ body, status: 400 });
        expect(answer.headers.get('content-type')).toMatch(/application\/problem\+json/);
        expect(answer.body.type).toBe('urn:realname:problem:invalid-input');
        expect(answer.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      }
      const malformed = await api('/clients', { body: '{"name": ' });
      expect(malformed.status).toBe(400);
      const notJson = await fetch(`${a.issuer}/api/admin/clients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
        body: 'name=x',
      });
      expect(notJson.status).toBe(415);
      expect((await api('/clients')).body.clients.length).toBe(before);
      expect((await events(['client.registered'])).length).toBe(registered);
    });

    it('updates redirect URIs and levels, audited with the changed fields; keeps the pairwise host', async () => {
      const merchant = await addMerchant(a.platform, { levels: ['result', 'credentials', 'dossier'] });
      const updated = await api(`/clients/${merchant.client_id}`, {
        method: 'PATCH',
        body: { levels: ['result'], redirect_uris: [CALLBACK, 'http://localhost:8080/other'] },
      });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({
        grant_levels: ['result'],
        redirect_uris: [CALLBACK, 'http://localhost:8080/other'],
      });
      const [event] = await events(['client.updated'], merchant.client_id);
      expect(JSON.parse(event!.leaf).payload).toEqual({
        fields: ['redirect_uris', 'levels'],
        grant_levels: ['result'],
      });

      for (const body of [
        { redirect_uris: ['https://elsewhere.example/cb'] },
        {},
        { levels: [] },
        { kind: 'notary' },
      ]) {
        const refused = await api(`/clients/${merchant.client_id}`, { method: 'PATCH', body });
        expect({ body, status: refused.status }).toEqual({ body, status: 400 });
      }
      expect(await events(['client.updated'], merchant.client_id)).toHaveLength(1);
      expect((await api(`/clients/${merchant.client_id}`)).body.redirect_uris).toEqual([
        CALLBACK,
        'http://localhost:8080/other',
      ]);
      const missing = await api('/clients/no-such-client', { method: 'PATCH', body: { name: 'x' } });
      expect(missing.status).toBe(404);
    });

    it('disables a client in every instance: no token until it is enabled again', async () => {
      const merchant = await addMerchant(a.platform);
      // Instance b has the registration in memory once it authenticated the client.
      const atB = await discover(b.issuer, merchant.client_id, merchant.client_secret);
      await oidc.clientCredentialsGrant(atB, { scope: 'realname:check' });

      const disabled = await api(`/clients/${merchant.client_id}/disable`, { method: 'POST' });
      expect(disabled.body).toEqual({ client_id: merchant.client_id, disabled: true, changed: true });
      await expect(oidc.clientCredentialsGrant(atB, { scope: 'realname:check' })).rejects.toMatchObject({
        error: 'invalid_client',
      });
      const again = await api(`/clients/${merchant.client_id}/disable`, { method: 'POST' });
      expect(again.body.changed).toBe(false);
      expect(await events(['client.disabled'], merchant.client_id)).toHaveLength(1);

      await api(`/clients/${merchant.client_id}/enable`, { method: 'POST' });
      await expect(oidc.clientCredentialsGrant(atB, { scope: 'realname:check' })).resolves.toHaveProperty(
        'access_token',
      );
      expect(await events(['client.enabled'], merchant.client_id)).toHaveLength(1);
    });

    it('rotates a secret: shown once, the old one refused, the new one accepted', async () => {
      const merchant = await addMerchant(a.platform);
      const old = await discover(a.issuer, merchant.client_id, merchant.client_secret);
      await oidc.clientCredentialsGrant(old, { scope: 'realname:check' });
      const rotated = await api(`/clients/${merchant.client_id}/secret`, { method: 'POST' });
      expect(rotated.status).toBe(200);
      expect(rotated.body.client_secret).not.toBe(merchant.client_secret);
      await expect(oidc.clientCredentialsGrant(old, { scope: 'realname:check' })).rejects.toMatchObject({
        error: 'invalid_client',
      });
      for (const issuer of [a.issuer, b.issuer]) {
        const fresh = await discover(issuer, merchant.client_id, rotated.body.client_secret);
        await expect(oidc.clientCredentialsGrant(fresh, { scope: 'realname:check' })).resolves.toHaveProperty(
          'access_token',
        );
      }
      const [event] = await events(['client.secret_rotated'], merchant.client_id);
      expect(event!.leaf).not.toContain(rotated.body.client_secret);
    });

    it('deletes a client, and refuses one that uploads still name, auditing only what happened', async () => {
      const merchant = await addMerchant(a.platform);
      const deleted = await api(`/clients/${merchant.client_id}`, { method: 'DELETE' });
      expect(deleted.body).toEqual({ client_id: merchant.client_id, deleted: true });
      expect((await api(`/clients/${merchant.client_id}`)).status).toBe(404);
      expect(await events(['client.deleted'], merchant.client_id)).toHaveLength(1);
      expect((await api(`/clients/${merchant.client_id}`, { method: 'DELETE' })).status).toBe(404);

      const notary = await a.platform.clients.add({ name: 'Counter', kind: 'notary' });
      const upload = await a.platform.registry.upload(notary.client_id, {
        records: [
          {
            external_id: 'c-1',
            document_type: 'cn_resident_id',
            document_number: '11010519491231002X',
            name: '张三',
            verified_at: new Date().toISOString(),
          },
        ],
      });
      expect(upload.accepted).toBe(1);
      const refused = await api(`/clients/${notary.client_id}`, { method: 'DELETE' });
      expect(refused.status).toBe(409);
      expect(refused.body.type).toBe('urn:realname:problem:client-in-use');
      expect(await events(['client.deleted'], notary.client_id)).toHaveLength(0);
      expect((await api(`/clients/${notary.client_id}`)).status).toBe(200);
    });

    it("refuses changes to the platform's own account client", async () => {
      const answer = await api('/clients/platform-account/disable', { method: 'POST' });
      expect(answer.status).toBe(409);
    });
  });

  describe('keys', () => {
    it('rotates the signing keys, and every instance publishes and signs with them without a restart', async () => {
      const before = (await (await fetch(`${b.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
      const rotated = await api('/keys/rotate', { body: { purpose: 'oidc-signing' } });
      expect(rotated.status).toBe(200);
      const kids = rotated.body.rotated.map((r: { kid: string }) => r.kid);
      expect(kids).toHaveLength(2);
      for (const instance of [a, b]) {
        const jwks = (await (await fetch(`${instance.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
        expect(jwks.keys.map((k) => k.kid)).toEqual(
          expect.arrayContaining([...kids, ...before.keys.map((k) => k.kid)]),
        );
      }
      // Instance b signs with the new key of each algorithm: the first of its kind it holds.
      const atB = (await (await fetch(`${b.issuer}/jwks`)).json()) as { keys: Array<{ kid: string; kty: string }> };
      for (const kty of ['RSA', 'EC']) {
        expect(kids).toContain(atB.keys.find((k) => k.kty === kty)!.kid);
      }
      const [event] = await events(['keys.rotated']);
      expect(JSON.parse(event!.leaf).payload).toMatchObject({ purpose: 'oidc-signing', kids, retired: 2 });
      // The APIs' client_credentials JWTs, on each instance (each its own issuer here): signed
      // with the new EC key and taken; a token signed before with the retired key still works.
      const operator = await newOperator();
      for (const instance of [a, b]) {
        const config = await discover(instance.issuer, operator.clientId, operator.clientSecret);
        const fresh = (await oidc.clientCredentialsGrant(config, { scope: 'admin' })).access_token;
        expect(kids).toContain(decodeProtectedHeader(fresh).kid);
        const answer = await fetch(`${instance.issuer}/api/admin/clients`, {
          headers: { authorization: `Bearer ${fresh}` },
        });
        expect(answer.status).toBe(200);
      }
      expect(kids).not.toContain(decodeProtectedHeader(token).kid);
      expect((await api('/clients', { token })).status).toBe(200);
    });

    it('rotates the tree-head key: instance b signs new heads with it', async () => {
      const rotated = await api('/keys/rotate', { body: { purpose: 'audit-tree-head' } });
      const [{ kid }] = rotated.body.rotated;
      await fetch(`${b.issuer}/jwks`); // any request: b notices the rotation
      await a.platform.accounts.register({ login: newLogin(), password: PASSWORD });
      const head = await b.platform.treeHeads.publish();
      const header = JSON.parse(Buffer.from(head.signature.split('.')[0]!, 'base64url').toString());
      expect(header.kid).toBe(kid);
    });

    it('refuses the pairwise salt and unknown purposes, rotating nothing', async () => {
      const rotations = (await events(['keys.rotated'])).length;
      for (const body of [{ purpose: 'pairwise-salt' }, { purpose: 'everything' }, { purpose: 1 }, []]) {
        const answer = await api('/keys/rotate', { body });
        expect({ body, status: answer.status }).toEqual({ body, status: 400 });
      }
      expect((await events(['keys.rotated'])).length).toBe(rotations);
    });
  });

  describe('accounts, the security log and events to merchants', () => {
    it('disables and enables an account, audited with the operator, and ends its sessions', async () => {
      const login = newLogin();
      const account = await a.platform.accounts.register({ login, password: PASSWORD });
      const disabled = await api('/accounts/disable', { body: { login, reason: 'ticket 4711' } });
      expect(disabled.body).toEqual({
        account: account.id,
        login,
        disabled: true,
        changed: true,
        sessions_ended: 0,
        tokens_revoked: 0,
      });
      expect((await api('/accounts/disable', { body: { login } })).body.changed).toBe(false);
      expect((await api('/accounts/enable', { body: { login } })).body).toEqual({
        account: account.id,
        login,
        disabled: false,
        changed: true,
      });
      await a.platform.audit.integrateAll();
      const operator = await a.platform.accounts.findByLogin(operatorLogin);
      const audited = await a.platform.audit.search(
        { account: account.id, types: ['account.disabled', 'account.enabled'] },
        10,
      );
      expect(audited.map((e) => [e.type, e.actor_id])).toEqual([
        ['account.disabled', operator!.id],
        ['account.enabled', operator!.id],
      ]);
      expect(JSON.stringify(audited)).not.toContain('4711');
      const ended = await api('/accounts/sessions/end', { body: { login } });
      expect(ended.body).toEqual({ account: account.id, login, sessions_ended: 0 });

      const log = await api('/security-log', { body: { login } });
      expect(log.body.events.map((e: { kind: string }) => e.kind)).toEqual([
        'account_disabled',
        'account_enabled',
        'all_sessions_ended_by_operator',
      ]);
      expect((await api('/security-log', { body: { since: 'last week' } })).status).toBe(400);
      expect((await api('/accounts/disable', { body: { login: 'nobody@example.test' } })).status).toBe(404);
      expect((await api('/accounts/disable', { body: { login, reason: 'x\u0000' } })).status).toBe(400);
    });

    it('lists the events pushed to merchants, and refuses an unknown filter', async () => {
      const answer = await api('/security-events?failed=true');
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ events: expect.any(Array) });
      expect((await api('/security-events?failed=maybe')).status).toBe(400);
    });
  });

  describe('costs, self-check, audit verification, operators', () => {
    it('reports costs, and refuses a bad date', async () => {
      const costs = await api('/costs?since=2026-01-01');
      expect(costs.status).toBe(200);
      expect(costs.body).toMatchObject({ since: '2026-01-01T00:00:00.000Z', total_calls: expect.any(Number) });
      expect((await api('/costs?since=yesterday')).status).toBe(400);
      expect((await api('/costs?colour=red')).status).toBe(400);
    });

    it('runs the self-check and audits it', async () => {
      const answer = await api('/selfcheck', { body: { expiring_within_days: 30 } });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ checked: expect.any(Number), queued: expect.any(Number) });
      const [event] = (await events(['reminders.queued'])).slice(-1);
      expect(JSON.parse(event!.leaf).payload).toEqual({ checked: answer.body.checked, queued: answer.body.queued });
      expect((await api('/selfcheck', { body: { expiring_within_days: 0 } })).status).toBe(400);
    });

    it('verifies the whole audit trail and records the verification', async () => {
      const answer = await api('/audit/verify', { body: {} });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ ok: true, leaves: expect.any(Number) });
      expect(answer.body.kept_heads).toBeGreaterThan(0);
      const [event] = (await events(['audit.verified'])).slice(-1);
      expect(JSON.parse(event!.leaf).payload).toMatchObject({ ok: true, leaves: answer.body.leaves });
      const bad = await api('/audit/verify', { body: { heads: [{ source: 'x' }] } });
      expect(bad.status).toBe(400);
    });

    it('adds, lists and removes operators, audited once per change', async () => {
      const login = newLogin();
      const account = await a.platform.accounts.register({ login, password: PASSWORD });
      const added = await api('/operators', { body: { login } });
      expect(added.body).toEqual({ account_id: account.id, login, changed: true });
      expect((await api('/operators', { body: { login } })).body.changed).toBe(false);
      const listed = await api('/operators');
      expect(listed.body.operators.map((o: { login: string }) => o.login)).toContain(login);
      await api('/operators/remove', { body: { login } });
      await a.platform.audit.integrateAll();
      const about = await a.platform.audit.search(
        { account: account.id, types: ['operator.added', 'operator.removed'] },
        10,
      );
      expect(about.map((e) => e.type)).toEqual(['operator.added', 'operator.removed']);
      const unknown = await api('/operators', { body: { login: 'nobody@example.test' } });
      expect(unknown.status).toBe(404);
    });

    it('serves its OpenAPI description', async () => {
      const response = await fetch(`${a.issuer}/api/admin/openapi.yaml`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('admin API');
    });
  });
});
