import * as oidc from 'openid-client';
import { checkLog } from '../../src/audit/check.js';
import { verifyEvidenceBundle, type EvidenceBundle } from '../../src/audit/verify.js';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { stopWallClock } from '../helpers/clock.js';
import { ENGINE } from '../helpers/db.js';
import { JPEG, PNG } from '../helpers/images.js';
import {
  addMerchant,
  continuePastCredentials,
  discover,
  newLogin,
  personBrowser,
  redeemCode,
  signInAndConsent,
  startAuthorization,
} from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { formAction, type UserAgent } from '../helpers/user-agent.js';

// Closing an account (docs/product.md#your-data) over real HTTP: the grants and tokens end, the
// person's data is deleted and their data key destroyed, so nothing left in the database opens to
// it with the keys that remain, while the audit trail and a notary's earlier evidence still verify.

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const PASSWORD = 'correct horse battery';
const NAME = '欧阳销毁';
const DOCUMENT = '110105199003070017';

/** Every row of every table of the platform's schema, as JSON text: a logical dump. */
async function dump(running: Running): Promise<string> {
  const db = running.platform.db;
  const { rows } = await db.raw<{ rows: Array<{ table_name: string }> }>(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
  );
  const parts: string[] = [];
  for (const { table_name } of rows) parts.push(JSON.stringify(await db(table_name).select('*')));
  return parts.join('\n');
}

/** The id of the key that sealed a value (`v1.<key id>.…`). */
const keyIdOf = (sealed: string) => sealed.split('.')[1]!;

describe(`closing an account (${ENGINE})`, () => {
  let running: Running;
  let config: oidc.Configuration;
  let checkToken: string;
  let notaryToken: string;
  let url: (path: string) => string;

  beforeAll(async () => {
    running = await startTestPlatform();
    url = (path) => `${running.issuer}${path}`;
    const merchant = await addMerchant(running.platform, { levels: ['result', 'credentials', 'dossier'] });
    config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    checkToken = (await oidc.clientCredentialsGrant(config, { scope: 'realname:check' })).access_token;
    const notary = await running.platform.clients.add({ name: 'Notary', kind: 'notary' });
    const notaryConfig = await discover(running.issuer, notary.client_id, notary.client_secret);
    notaryToken = (await oidc.clientCredentialsGrant(notaryConfig, { scope: 'audit:read' })).access_token;
  });
  afterAll(async () => {
    await running?.stop();
  });

  const notary = async (path: string, body: unknown) => {
    const response = await fetch(url(`/api/notary${path}`), {
      method: path === '/keys' ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${notaryToken}`, 'content-type': 'application/json' },
      ...(path === '/keys' ? {} : { body: JSON.stringify(body) }),
    });
    return (await response.json()) as any;
  };
  const check = async (documentNumber = DOCUMENT, name = NAME) => {
    const response = await fetch(url('/api/verifications/check'), {
      method: 'POST',
      headers: { authorization: `Bearer ${checkToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ document_type: 'cn_resident_id', document_number: documentNumber, name }),
    });
    return (await response.json()) as { verified: boolean };
  };

  /** A person verified with photos, who granted the merchant credentials (level 2); signed in. */
  async function verifiedPerson(login = newLogin(), documentNumber = DOCUMENT) {
    const { id: accountId } = await running.platform.accounts.register({ login, password: PASSWORD });
    const outcome = await running.platform.verifications.verify(accountId, {
      method: 'person_match',
      documentType: 'cn_resident_id',
      documentNumber,
      name: NAME,
      portrait: { contentType: 'image/png', data: PNG },
      documentFront: { contentType: 'image/jpeg', data: JPEG },
    });
    expect(outcome.status).toBe('passed');
    const agent = personBrowser();
    // Level 2: the level that gets a refresh token; its credentials page is shown once, then the merchant.
    const start = await startAuthorization(config, { scope: 'openid offline_access realname:credentials' });
    const consented = await signInAndConsent(agent, start.url, { login, password: PASSWORD, level: 'credentials' });
    const callback = await continuePastCredentials(agent, consented);
    const { tokens } = await redeemCode(config, new URL(callback.url), start);
    return { agent, login, accountId, tokens };
  }

  async function closeOnPage(agent: UserAgent) {
    const page = await agent.navigate(url('/account/close'));
    expect(page.status).toBe(200);
    return agent.submit(formAction(page, '/account/close'), { understood: 'yes' });
  }

  it('ends every grant and token, erases the person, and leaves nothing that opens to them', async () => {
    const { agent, login, accountId, tokens } = await verifiedPerson();
    const personId = (await running.platform.accounts.personOf(accountId))!;
    const person = await running.platform.db('persons').where({ id: personId }).first();
    const personKeyId = keyIdOf(person.name_encrypted);
    expect(personKeyId).not.toBe(running.platform.box.currentKeyId);
    expect((await check()).verified).toBe(true);

    // A notary takes evidence of the person's events before the closure.
    await running.platform.audit.integrateAll();
    await running.platform.treeHeads.publish();
    const events = await notary('/events/search', { account: accountId });
    const bundle = (await notary('/evidence', {
      leaf_indices: events.events.map((e: { leaf_index: number }) => e.leaf_index),
    })) as EvidenceBundle;
    const keys = await notary('/keys', undefined);
    expect((await verifyEvidenceBundle(bundle, keys)).ok).toBe(true);

    const closed = await closeOnPage(agent);
    expect(closed.status).toBe(200);
    expect(closed.html).toContain('账户已注销');

    // The merchant's tokens are dead, the person's session is gone, the login signs nobody in.
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    const userinfo = await fetch(url('/me'), { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).toBe(401);
    expect(new URL((await agent.navigate(url('/account'))).url).pathname).toMatch(/^\/interaction\//);
    expect(await running.platform.accounts.findByLogin(login)).toBeUndefined();
    expect(await check()).toEqual({
      verified: false,
      method: null,
      verified_at: null,
      expires_at: null,
      queries_left: null,
    });

    // Nothing in the database holds the person's data in clear, nor anything sealed under their
    // key, which is gone; what remains sealed opens, with the keys that remain, to someone else's.
    const after = await dump(running);
    for (const secret of [NAME, DOCUMENT, login, PNG.toString('base64'), PNG.toString('hex')])
      expect(after).not.toContain(secret);
    expect(after).not.toContain(`v1.${personKeyId}.`);
    expect(await running.platform.db('person_keys').where({ person_id: personId }).first()).toBeUndefined();
    const master = running.platform.box;
    for (const row of await running.platform.db('person_keys')) {
      const key = master.open(row.wrapped, `person-key:${row.person_id}`);
      expect(new SecretBox(key).currentKeyId).not.toBe(personKeyId);
    }

    // The audit trail is untouched: it verifies, the closure is in it, and the notary's evidence
    // taken before still verifies offline.
    await running.platform.audit.integrateAll();
    expect((await checkLog(running.platform.db)).ok).toBe(true);
    const closure = await running.platform.audit.search({ account: accountId, types: ['account.closed'] }, 5);
    expect(JSON.parse(closure[0]!.leaf).payload).toEqual({ person_erased: true, grants_revoked: 1 });
    expect((await verifyEvidenceBundle(bundle, keys)).ok).toBe(true);

    // The same document later is a new person, with a new account.
    const again = await running.platform.accounts.register({ login, password: PASSWORD });
    expect(again.id).not.toBe(accountId);
    await running.platform.verifications.verify(again.id, {
      method: 'document',
      documentType: 'cn_resident_id',
      documentNumber: DOCUMENT,
      name: NAME,
    });
    expect(await running.platform.accounts.personOf(again.id)).not.toBe(personId);
  });

  it('moves a person sealed before data keys existed under a key of their own, so closing erases them too', async () => {
    // Another person than the other tests': their accounts stay verified as theirs.
    const documentNumber = '110105198505120032';
    const { agent, accountId } = await verifiedPerson(newLogin(), documentNumber);
    const db = running.platform.db;
    const master = running.platform.box;
    const personId = (await running.platform.accounts.personOf(accountId))!;
    // As the rows were before migration 019: sealed under the master key, no data key.
    const person = await db('persons').where({ id: personId }).first();
    const personBox = await (async () => {
      const row = await db('person_keys').where({ person_id: personId }).first();
      return master.withCurrentKey(master.open(row.wrapped, `person-key:${personId}`));
    })();
    const legacy = (value: string, context: string) => master.seal(personBox.open(value, context), context);
    await db('persons')
      .where({ id: personId })
      .update({
        name_encrypted: legacy(person.name_encrypted, `persons:name:${personId}`),
        number_encrypted: legacy(person.number_encrypted, `persons:number:${personId}`),
        birth_date_encrypted:
          person.birth_date_encrypted && legacy(person.birth_date_encrypted, `persons:birth_date:${personId}`),
      });
    const images = await db('verification_images').whereIn(
      'verification_id',
      db('verifications').where({ person_id: personId }).select('id'),
    );
    for (const image of images)
      await db('verification_images')
        .where({ id: image.id })
        .update({ data_encrypted: legacy(image.data_encrypted, `verification_images:data:${image.id}`) });
    await db('person_keys').where({ person_id: personId }).delete();
    expect(await running.platform.verifications.dossierOf(accountId)).toMatchObject({ name: NAME });

    expect(await running.platform.verifications.sealUnderPersonKeys()).toBeGreaterThanOrEqual(1);
    const moved = await db('persons').where({ id: personId }).first();
    expect(keyIdOf(moved.name_encrypted)).not.toBe(master.currentKeyId);
    expect(keyIdOf(moved.number_encrypted)).toBe(keyIdOf(moved.name_encrypted));
    for (const image of await db('verification_images').whereIn(
      'verification_id',
      db('verifications').where({ person_id: personId }).select('id'),
    ))
      expect(keyIdOf(image.data_encrypted)).toBe(keyIdOf(moved.name_encrypted));
    expect(await running.platform.verifications.dossierOf(accountId)).toMatchObject({ name: NAME, documentNumber });
    expect(await running.platform.verifications.sealUnderPersonKeys()).toBe(0);

    await closeOnPage(agent);
    expect(await dump(running)).not.toContain(`v1.${keyIdOf(moved.name_encrypted)}.`);
  });

  it('keeps the person for another account verified as them', async () => {
    const first = await verifiedPerson();
    const second = await verifiedPerson();
    const personId = await running.platform.accounts.personOf(second.accountId);
    expect(await running.platform.accounts.personOf(first.accountId)).toBe(personId);
    await closeOnPage(first.agent);
    expect(await running.platform.verifications.dossierOf(second.accountId)).toMatchObject({ name: NAME });
    await running.platform.audit.integrateAll();
    const closure = await running.platform.audit.search({ account: first.accountId, types: ['account.closed'] }, 5);
    expect(JSON.parse(closure[0]!.leaf).payload).toMatchObject({ person_erased: false });
    await closeOnPage(second.agent);
  });

  it('closes nothing without the box ticked or a recent sign-in', async () => {
    const { agent, accountId } = await verifiedPerson();
    const page = await agent.navigate(url('/account/close'));
    const unticked = await agent.submit(formAction(page, '/account/close'), {});
    expect(unticked.status).toBe(400);
    const clock = stopWallClock();
    try {
      clock.advance((running.platform.config.passkeys.recentSignIn + 1) * 1000);
      const stale = await agent.submit(formAction(page, '/account/close'), { understood: 'yes' });
      // Sent to sign in again (prompt=login), not closed.
      expect(new URL(stale.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
    } finally {
      clock.restore();
    }
    expect(await running.platform.accounts.find(accountId)).toBeDefined();
    await closeOnPage(agent);
  });
});

describe(`closing an account after a waiting period (${ENGINE})`, () => {
  let running: Running;
  let url: (path: string) => string;

  beforeAll(async () => {
    running = await startTestPlatform({ accountClosure: { delayDays: 14 } });
    url = (path) => `${running.issuer}${path}`;
  });
  afterAll(async () => {
    await running?.stop();
  });

  it('waits, lets the person keep the account, and erases it once the wait is over', async () => {
    const login = newLogin();
    const { id: accountId } = await running.platform.accounts.register({ login, password: PASSWORD });
    const agent = personBrowser();
    const signIn = await agent.navigate(url('/account/close'));
    let page = await agent.submit(formAction(signIn, '/login'), { login, password: PASSWORD });
    const scheduled = await agent.submit(formAction(page, '/account/close'), { understood: 'yes' });
    expect(scheduled.html).toContain('账户注销中');
    const closingAt = (await running.platform.accounts.find(accountId))!.closingAt!;
    expect(closingAt.getTime() - Date.now()).toBeGreaterThan(13 * 86_400_000);

    // Changed their mind: the banner on /account keeps it.
    page = await agent.navigate(url('/account'));
    const kept = await agent.submit(formAction(page, '/account/close/cancel'), {});
    expect(kept.html).toContain('您的账户已保留');
    expect((await running.platform.accounts.find(accountId))!.closingAt).toBeUndefined();
    expect(await running.platform.closure.closeDue(new Date(Date.now() + 15 * 86_400_000))).toBe(0);

    // Asked again, and this time the wait runs out.
    page = await agent.navigate(url('/account/close'));
    await agent.submit(formAction(page, '/account/close'), { understood: 'yes' });
    expect(await running.platform.closure.closeDue()).toBe(0);
    expect(await running.platform.closure.closeDue(new Date(Date.now() + 15 * 86_400_000))).toBe(1);
    expect(await running.platform.accounts.find(accountId)).toBeUndefined();
  });
});
