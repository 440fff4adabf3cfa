import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { discover, newLogin } from '../helpers/merchant.js';
import { startPlatform } from '../helpers/platform.js';

// Everything sealed at rest names the master key that sealed it: after the operator rotates the
// master key (MASTER_KEY new, PREVIOUS_MASTER_KEYS old), old values still open and new values use
// the new key.
describe('rotating the master key', () => {
  let database: TestDatabase;
  const oldKey = randomBytes(32).toString('base64');
  const newKey = randomBytes(32).toString('base64');

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await database.drop();
  });

  it('opens what the old key sealed and seals new values with the new key', async () => {
    const before = await startPlatform(database, { masterKey: oldKey });
    const notary = await before.platform.clients.add({ name: 'Notary', kind: 'notary' });
    const account = (await before.platform.accounts.register({ login: newLogin(), password: 'correct horse battery' }))
      .id;
    await before.platform.verifications.verify(account, {
      method: 'document',
      documentType: 'cn_resident_id',
      documentNumber: '11010519491231002X',
      name: '张三',
    });
    await before.stop();

    // Without the old key, the platform cannot open its own keys: it refuses to start.
    await expect(startPlatform(database, { masterKey: newKey })).rejects.toThrow();

    const after = await startPlatform(database, { masterKey: newKey, previousMasterKeys: [oldKey] });
    try {
      // The client secret and the signing keys sealed under the old key still work...
      const config = await discover(after.issuer, notary.client_id, notary.client_secret);
      expect((await oidc.clientCredentialsGrant(config, { scope: 'audit:read' })).access_token).toEqual(
        expect.any(String),
      );
      // ...the person's sealed identity still opens...
      expect((await after.platform.verifications.statusOf(account)).person?.maskedNumber).toBe('**************002X');
      // ...and what is sealed now names the new key.
      const fresh = await after.platform.clients.add({ name: 'Another notary', kind: 'notary' });
      const rows = await after.platform.db('clients').whereIn('client_id', [notary.client_id, fresh.client_id]);
      const keyIdOf = (sealed: string) => sealed.split('.')[1];
      const byId = new Map(
        rows.map((r: { client_id: string; client_secret_encrypted: string }) => [
          r.client_id,
          keyIdOf(r.client_secret_encrypted),
        ]),
      );
      expect(byId.get(fresh.client_id)).not.toBe(byId.get(notary.client_id));
    } finally {
      await after.stop();
    }
  });
});
