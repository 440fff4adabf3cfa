import { createHash } from 'node:crypto';
import * as oidc from 'openid-client';
import { idaVocabulary } from '../../src/grants/ida-vocabulary.js';
import { REALNAME_CLAIMS } from '../../src/grants/scopes.js';
import { ACR } from '../../src/oidc/policy.js';
import {
  addMerchant,
  discover,
  newLogin,
  personBrowser,
  redeemCode,
  signInAndConsent,
  startAuthorization,
} from '../helpers/merchant.js';
import { stopWallClock } from '../helpers/clock.js';
import { startTestPlatform } from '../helpers/platform.js';
import { JPEG, PNG } from '../helpers/images.js';
import { formAction } from '../helpers/user-agent.js';
import { claimsRequestSchemaErrors, verifiedClaimsSchemaErrors } from '../helpers/ida-schemas.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const ZHANG = { documentType: 'cn_resident_id', documentNumber: '11010519491231002X', name: '张三' };
const PASSWORD = 'correct horse battery';
const PROTOCOL = ['iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'sub', 'at_hash', 'sid', 'azp', 'acr', 'amr'];

// Level 3 (`realname:dossier`) through a real merchant (openid-client): OIDC4IDA verified_claims at
// userinfo, document images behind the grant's access token, the partial-knowledge re-confirmation
// with its attempt limit, the claims parameter, and the audit events of each release.
describe('the full dossier', () => {
  let running: Running;

  beforeAll(async () => {
    running = await startTestPlatform({ dossier: { maxFailures: 3, failureWindow: 900, lockDuration: 1800 } });
  });

  afterAll(async () => {
    await running.stop();
  });

  /** A person verified by a person-document match (so the dossier has images). */
  async function matchedPerson(person = ZHANG) {
    const login = newLogin();
    const account = await running.platform.accounts.register({ login, password: PASSWORD });
    const outcome = await running.platform.verifications.verify(account.id, {
      method: 'person_match',
      ...person,
      portrait: { contentType: 'image/png', data: PNG },
      documentFront: { contentType: 'image/jpeg', data: JPEG },
    });
    expect(outcome.status).toBe('passed');
    // What the scheduler does within audit.integrateInterval: the verification's event becomes the
    // leaf the dossier cites (verification_process).
    await running.platform.audit.integrateAll();
    return { login, accountId: account.id };
  }

  async function dossierMerchant() {
    const merchant = await addMerchant(running.platform, { levels: ['result', 'credentials', 'dossier'] });
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    return { merchant, config };
  }

  /** What the conformance suite checks of every ID token and userinfo response: the eKYC schema. */
  function expectValidVerifiedClaims(payload: Record<string, unknown>) {
    expect(verifiedClaimsSchemaErrors(payload)).toEqual([]);
    return payload;
  }

  /** A matched person signed in at a dossier merchant's consent page (result and dossier offered). */
  async function atDossierConsent() {
    const { config } = await dossierMerchant();
    const { login, accountId } = await matchedPerson({
      documentType: 'cn_resident_id',
      documentNumber: '110101199003074477',
      name: '李四',
    });
    const start = await startAuthorization(config, { scope: 'openid realname realname:dossier' });
    const agent = personBrowser();
    const page = await agent.submit(formAction(await agent.navigate(start.url.toString()), '/login'), {
      login,
      password: PASSWORD,
    });
    return { config, accountId, start, agent, page };
  }

  async function signIn(
    config: oidc.Configuration,
    login: string,
    params: Record<string, string>,
    choice: { level: string; partial?: string },
  ) {
    if (params.claims) expect(claimsRequestSchemaErrors(JSON.parse(params.claims))).toEqual([]);
    const start = await startAuthorization(config, params);
    const callback = await signInAndConsent(personBrowser(), start.url, { login, password: PASSWORD, ...choice });
    const redeemed = await redeemCode(config, new URL(callback.url), start);
    expectValidVerifiedClaims(redeemed.claims);
    return redeemed;
  }

  async function userinfoOf(config: oidc.Configuration, accessToken: string, sub: string) {
    return expectValidVerifiedClaims(await oidc.fetchUserInfo(config, accessToken, sub));
  }

  it('releases verified_claims at userinfo only, with images behind the access token, all audited', async () => {
    const { merchant, config } = await dossierMerchant();
    const { login, accountId } = await matchedPerson();
    const { tokens, claims } = await signIn(
      config,
      login,
      { scope: 'openid realname:dossier offline_access' },
      { level: 'dossier', partial: '31002x' },
    );

    expect(tokens.scope?.split(' ').sort()).toEqual(['offline_access', 'openid', 'realname:dossier']);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    // The ID token carries the result; the dossier stays out of it unless the claims parameter asks.
    expect(
      Object.keys(claims)
        .filter((k) => !PROTOCOL.includes(k))
        .sort(),
    ).toEqual([...REALNAME_CLAIMS].sort());

    const userinfo = await userinfoOf(config, tokens.access_token, claims.sub);
    expect(Object.keys(userinfo).sort()).toEqual(['sub', ...REALNAME_CLAIMS, 'verified_claims'].sort());
    const verified = userinfo.verified_claims as {
      verification: Record<string, unknown> & { evidence: Array<Record<string, any>> };
      claims: Record<string, unknown>;
    };
    expect(verified.claims).toEqual({
      name: '张三',
      family_name: '张',
      given_name: '三',
      birthdate: '1949-12-31',
      gender: 'female',
      nationality: 'CHN',
      nationalities: ['CHN'],
    });
    expect(verified.verification).toMatchObject({
      trust_framework: idaVocabulary(running.issuer).trustFramework,
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      verification_process: expect.stringMatching(new RegExp(`^${running.issuer}/api/notary/leaves/\\d+$`)),
    });
    const [evidence] = verified.verification.evidence;
    expect(evidence).toMatchObject({
      type: 'document',
      document_details: { type: 'idcard', document_number: '11010519491231002X', issuer: { country_code: 'CHN' } },
    });
    expect(evidence!.check_details.map((c: { check_method: string }) => c.check_method)).toEqual(['data', 'bvr']);

    // verification_process names the leaf that recorded this verification.
    const leafIndex = Number(String(verified.verification.verification_process).split('/').pop());
    await running.platform.audit.integrateAll();
    const [leaf] = await running.platform.db('audit_events').where({ leaf_index: leafIndex });
    expect(JSON.parse(leaf.leaf)).toMatchObject({
      type: 'identity.verified',
      subjects: { account: accountId },
      payload: { method: 'person_match' },
    });

    // Each image, with the grant's access token, is what was uploaded (digest checked).
    const attachments = evidence!.attachments as Array<{
      desc: string;
      url: string;
      digest: { alg: string; value: string };
    }>;
    expect(attachments.map((a) => a.desc).sort()).toEqual(['document_front', 'portrait']);
    for (const attachment of attachments) {
      const response = await fetch(attachment.url, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(response.status).toBe(200);
      // Attachments 1.0 §4.3: the media type is the response's Content-Type, never multipart or message.
      expect(response.headers.get('content-type')).toBe(attachment.desc === 'portrait' ? 'image/png' : 'image/jpeg');
      expect(response.headers.get('cache-control')).toBe('no-store');
      const body = Buffer.from(await response.arrayBuffer());
      expect(body.equals(attachment.desc === 'portrait' ? PNG : JPEG)).toBe(true);
      expect(attachment.digest).toEqual({ alg: 'sha-256', value: createHash('sha256').update(body).digest('base64') });
    }
    const anonymous = await fetch(attachments[0]!.url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer realm="dossier"$/);
    const bogus = await fetch(`${running.issuer}/api/dossier/attachments/not-a-uuid`, {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    expect(bogus.status).toBe(404);
    expect(bogus.headers.get('content-type')).toMatch(/problem\+json/);

    // offline_access is allowed at this level: a refresh is a token issuance, audited like the first.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.scope?.split(' ').sort()).toEqual(['offline_access', 'openid', 'realname:dossier']);

    await running.platform.audit.integrateAll();
    const events = (
      await running.platform
        .db('audit_events')
        .where({ account_id: accountId, client_id: merchant.client_id })
        .orderBy('leaf_index')
    ).map((e: { leaf: string }) => JSON.parse(e.leaf));
    expect(
      events.map(
        (e: { type: string; payload: { via?: string } }) => `${e.type}${e.payload.via ? `:${e.payload.via}` : ''}`,
      ),
    ).toEqual([
      'consent.granted:consent_page',
      'token.issued',
      'claims.released:id_token',
      'claims.released:userinfo',
      'claims.released:dossier_document',
      'claims.released:dossier_document',
      'token.issued',
      'claims.released:id_token',
    ]);
    expect(events[6].payload).toMatchObject({ level: 'dossier', grant_type: 'refresh_token' });
    expect(events[0].payload).toMatchObject({ level: 'dossier' });
    expect(events[3].payload.claims).toContain('verified_claims');
    expect(
      events
        .slice(4, 6)
        .map((e: { payload: { claims: string[] } }) => e.payload.claims[0])
        .sort(),
    ).toEqual(['document_front', 'portrait']);
    // No identity data in the audit trail.
    expect(JSON.stringify(events)).not.toMatch(/张三|11010519491231002X/);
  });

  it('refuses a wrong partial answer, counts it, and locks the dossier (not the other levels) after the limit', async () => {
    const { config, accountId, start, agent, page: consent } = await atDossierConsent();
    let page = consent;
    expect(page.html).toMatch(/name="partial"/);

    page = await agent.submit(formAction(page, '/confirm'), { level: 'dossier' });
    expect(page.status).toBe(400);
    page = await agent.submit(formAction(page, '/confirm'), { level: 'dossier', partial: '000000' });
    expect(page.status).toBe(400);
    page = await agent.submit(formAction(page, '/confirm'), { level: 'dossier', partial: '074478' });
    expect(page.status).toBe(429);
    expect(page.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(page.html).toMatch(/name="level" value="dossier"[^>]*disabled/);
    // Locked: even the right answer is refused now.
    page = await agent.submit(formAction(page, '/confirm'), { level: 'dossier', partial: '074477' });
    expect(page.status).toBe(429);

    await running.platform.audit.integrateAll();
    const failures = await running.platform
      .db('audit_events')
      .where({ type: 'consent.reconfirmation_failed', account_id: accountId })
      .orderBy('leaf_index');
    expect(failures.map((e: { leaf: string }) => JSON.parse(e.leaf).payload)).toEqual([
      { level: 'dossier', failures: 1 },
      { level: 'dossier', failures: 2 },
      { level: 'dossier', failures: 3, locked_until: expect.any(String) },
    ]);

    const callback = await agent.submit(formAction(page, '/confirm'), { level: 'result' });
    const { tokens } = await redeemCode(config, new URL(callback.url), start);
    expect(tokens.scope?.split(' ').sort()).toEqual(['openid', 'realname']);
  });

  it('counts parallel guesses before checking them: a burst gets at most the limit checked, and no 500', async () => {
    const { accountId, agent, page: consent } = await atDossierConsent();
    let page = consent;
    const confirm = formAction(page, '/confirm');

    // 40 simultaneous wrong guesses with the same form token, then the right answer.
    const guesses = Array.from({ length: 40 }, (_, i) => String(100000 + i));
    const pages = await Promise.all(guesses.map((partial) => agent.submit(confirm, { level: 'dossier', partial })));
    const statuses = pages.map((p) => p.status);
    expect(statuses.filter((status) => status === 400)).toHaveLength(2);
    expect(statuses.filter((status) => status === 429)).toHaveLength(38);
    expect(
      pages.filter((p) => p.status === 429).every((p) => /name="level" value="dossier"[^>]*disabled/.test(p.html)),
    ).toBe(true);
    page = await agent.submit(confirm, { level: 'dossier', partial: '074477' });
    expect(page.status).toBe(429);

    await running.platform.audit.integrateAll();
    const checked = await running.platform
      .db('audit_events')
      .where({ type: 'consent.reconfirmation_failed', account_id: accountId });
    expect(checked).toHaveLength(3);
  });

  it('asks for the re-confirmation again at the next authorization, and never releases without it', async () => {
    const { config } = await dossierMerchant();
    const { login } = await matchedPerson({
      documentType: 'cn_resident_id',
      documentNumber: '440524198001010013',
      name: '王五',
    });
    const scope = 'openid realname realname:dossier';
    const agent = personBrowser();
    const first = await startAuthorization(config, { scope });
    const firstCallback = await signInAndConsent(agent, first.url, {
      login,
      password: PASSWORD,
      level: 'dossier',
      partial: '010013',
    });
    await redeemCode(config, new URL(firstCallback.url), first);

    // The grant holds the dossier, but a silent authorization cannot release it.
    const silent = await startAuthorization(config, { scope, prompt: 'none' });
    expect((await agent.navigate(silent.url.toString())).url).toMatch(/error=consent_required/);

    const again = await startAuthorization(config, { scope });
    again.url.searchParams.delete('prompt');
    let page = await agent.navigate(again.url.toString());
    // Signed in already: the consent page asks for the re-confirmation, the dossier pre-selected;
    // the person may still choose another level.
    expect(page.html).toMatch(/name="partial"/);
    expect(page.html).toMatch(/name="level" value="dossier" checked/);
    expect(page.html).toMatch(/name="level" value="result"/);
    page = await agent.submit(formAction(page, '/confirm'), { level: 'dossier' });
    expect(page.status).toBe(400);
    const callback = await agent.submit(formAction(page, '/confirm'), { level: 'dossier', partial: '010013' });
    const { tokens, claims } = await redeemCode(config, new URL(callback.url), again);
    const userinfo = await userinfoOf(config, tokens.access_token, claims.sub);
    expect(userinfo.verified_claims).toBeDefined();
  });

  it('narrows verified_claims to what the claims parameter asks, and omits them when a constraint cannot be met', async () => {
    const { config } = await dossierMerchant();
    const { login } = await matchedPerson({
      documentType: 'cn_resident_id',
      documentNumber: '110101199003074477',
      name: '欧阳娜娜',
    });
    const tf = idaVocabulary(running.issuer).trustFramework;
    const request = (claims: unknown) => ({ scope: 'openid realname:dossier', claims: JSON.stringify(claims) });
    const dossier = { level: 'dossier', partial: '074477' };

    const narrow = await signIn(
      config,
      login,
      request({
        userinfo: {
          verified_claims: { verification: { trust_framework: null }, claims: { birthdate: null, family_name: null } },
        },
      }),
      dossier,
    );
    const narrowInfo = await userinfoOf(config, narrow.tokens.access_token, narrow.claims.sub);
    expect(narrowInfo.verified_claims).toEqual({
      verification: { trust_framework: tf },
      claims: { birthdate: '1990-03-07', family_name: '欧阳' },
    });

    const other = await signIn(
      config,
      login,
      request({
        userinfo: {
          verified_claims: { verification: { trust_framework: { value: 'de_aml' } }, claims: { name: null } },
        },
      }),
      dossier,
    );
    const otherInfo = await userinfoOf(config, other.tokens.access_token, other.claims.sub);
    expect(otherInfo.verified_claims).toBeUndefined();
    expect(otherInfo.realname_verified).toBe(true);

    // A claim whose value does not match is omitted, the others stay (IDA §5.7.4).
    const valued = await signIn(
      config,
      login,
      request({
        userinfo: {
          verified_claims: {
            verification: { trust_framework: null },
            claims: { name: { value: '张三' }, given_name: { values: ['娜娜', '三'] } },
          },
        },
      }),
      dossier,
    );
    expect((await userinfoOf(config, valued.tokens.access_token, valued.claims.sub)).verified_claims).toEqual({
      verification: { trust_framework: tf },
      claims: { given_name: '娜娜' },
    });
    const unmatched = await signIn(
      config,
      login,
      request({
        userinfo: { verified_claims: { verification: { trust_framework: null }, claims: { name: { value: '张三' } } } },
      }),
      dossier,
    );
    expect(
      (await userinfoOf(config, unmatched.tokens.access_token, unmatched.claims.sub)).verified_claims,
    ).toBeUndefined();

    // max_age on the verification's time: a verification of moments ago meets an hour, not zero seconds.
    const fresh = await signIn(
      config,
      login,
      request({
        userinfo: {
          verified_claims: { verification: { trust_framework: null, time: { max_age: 3600 } }, claims: { name: null } },
        },
      }),
      dossier,
    );
    expect((await userinfoOf(config, fresh.tokens.access_token, fresh.claims.sub)).verified_claims).toMatchObject({
      verification: { time: expect.any(String) },
      claims: { name: '欧阳娜娜' },
    });
    // A second on (the verification's time is in whole seconds), and it is too old for zero seconds.
    const clock = stopWallClock();
    try {
      clock.advance(1_000);
      const stale = await signIn(
        config,
        login,
        request({
          userinfo: {
            verified_claims: { verification: { trust_framework: null, time: { max_age: 0 } }, claims: { name: null } },
          },
        }),
        dossier,
      );
      expect((await userinfoOf(config, stale.tokens.access_token, stale.claims.sub)).verified_claims).toBeUndefined();
    } finally {
      clock.restore();
    }
  });

  it('does not ignore check_details and document_details restrictions, and each evidence filter is its own template', async () => {
    const { config } = await dossierMerchant();
    const { login } = await matchedPerson({
      documentType: 'cn_resident_id',
      documentNumber: '110101199003074477',
      name: '欧阳娜娜',
    });
    const dossier = { level: 'dossier', partial: '074477' };
    const ask = async (evidence: unknown[]) => {
      const claims = {
        id_token: { verified_claims: { verification: { trust_framework: null, evidence }, claims: { name: null } } },
      };
      const { claims: idToken } = await signIn(
        config,
        login,
        { scope: 'openid realname:dossier', claims: JSON.stringify(claims) },
        dossier,
      );
      return (idToken.verified_claims as { verification: { evidence: unknown[] } } | undefined)?.verification.evidence;
    };
    // In-person validation was asked for; the person matched remotely: no evidence, no verified_claims.
    expect(
      await ask([{ type: { value: 'document' }, check_details: [{ check_method: { value: 'vpip' } }] }]),
    ).toBeUndefined();
    // Only the biometric check, and the evidence still says which document it is.
    expect(
      await ask([{ type: { value: 'document' }, check_details: [{ check_method: { value: 'bvr' }, time: null }] }]),
    ).toEqual([
      {
        type: 'document',
        check_details: [{ check_method: 'bvr', time: expect.any(String) }],
        document_details: { type: 'idcard' },
      },
    ]);
    expect(
      await ask([
        { type: { value: 'document' }, document_details: { type: { values: ['passport', 'residence_permit'] } } },
      ]),
    ).toBeUndefined();
    // Two filters (OR): the record filter selects nothing here, the document filter is the template.
    expect(
      await ask([
        { type: { value: 'electronic_record' }, record: { type: null } },
        {
          type: { value: 'document' },
          document_details: { type: { values: ['passport', 'idcard'] }, document_number: null },
        },
      ]),
    ).toEqual([{ type: 'document', document_details: { type: 'idcard', document_number: '110101199003074477' } }]);
  });

  it('answers an array of verified_claims requests (IDA §5.6) on a new grant and on an existing one', async () => {
    const { config } = await dossierMerchant();
    const { login } = await matchedPerson({
      documentType: 'cn_resident_id',
      documentNumber: '110101199003074477',
      name: '欧阳娜娜',
    });
    const tf = idaVocabulary(running.issuer).trustFramework;
    const claims = JSON.stringify({
      userinfo: {
        verified_claims: [
          { verification: { trust_framework: { value: 'gold' } }, claims: { name: null } },
          { verification: { trust_framework: { value: tf } }, claims: { family_name: null } },
          {
            verification: { trust_framework: null, evidence: [{ type: { value: 'document' } }] },
            claims: { given_name: null },
          },
        ],
      },
    });
    // The first authorization makes the grant; the second finds it.
    for (let i = 0; i < 2; i++) {
      const { tokens, claims: idToken } = await signIn(
        config,
        login,
        { scope: 'openid realname:dossier', claims },
        { level: 'dossier', partial: '074477' },
      );
      expect(idToken.verified_claims).toBeUndefined();
      expect((await userinfoOf(config, tokens.access_token, idToken.sub)).verified_claims).toEqual([
        { verification: { trust_framework: tf }, claims: { family_name: '欧阳' } },
        {
          verification: { trust_framework: tf, evidence: [{ type: 'document', document_details: { type: 'idcard' } }] },
          claims: { given_name: '娜娜' },
        },
      ]);
    }
  });

  it('releases verified_claims only in the ID token when the claims parameter asks only there, despite the scope', async () => {
    const { config } = await dossierMerchant();
    const { login } = await matchedPerson({
      documentType: 'cn_resident_id',
      documentNumber: '110101199003074477',
      name: '欧阳娜娜',
    });
    const tf = idaVocabulary(running.issuer).trustFramework;
    const claims = JSON.stringify({
      id_token: { verified_claims: { verification: { trust_framework: { value: tf } }, claims: { name: null } } },
    });
    const { tokens, claims: idToken } = await signIn(
      config,
      login,
      { scope: 'openid realname:dossier offline_access', claims },
      { level: 'dossier', partial: '074477' },
    );
    expect(idToken.verified_claims).toEqual({ verification: { trust_framework: tf }, claims: { name: '欧阳娜娜' } });
    const userinfo = await userinfoOf(config, tokens.access_token, idToken.sub);
    expect(userinfo.verified_claims).toBeUndefined();
    expect(userinfo.realname_verified).toBe(true);
    // A refresh keeps the request: the new ID token has them, userinfo still does not.
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.claims()?.verified_claims).toEqual({
      verification: { trust_framework: tf },
      claims: { name: '欧阳娜娜' },
    });
    expect((await userinfoOf(config, refreshed.access_token, idToken.sub)).verified_claims).toBeUndefined();
  });

  it('describes a document check as an electronic_record of the register, valid against the schema', async () => {
    const { config } = await dossierMerchant();
    const login = newLogin();
    const account = await running.platform.accounts.register({ login, password: PASSWORD });
    const outcome = await running.platform.verifications.verify(account.id, {
      method: 'document',
      documentType: 'hk_macao_permit',
      documentNumber: 'C12345678',
      name: '陈大文',
    });
    expect(outcome.status).toBe('passed');
    const vocabulary = idaVocabulary(running.issuer);
    const { tokens, claims } = await signIn(
      config,
      login,
      { scope: 'openid realname:dossier' },
      { level: 'dossier', partial: '345678' },
    );
    const verified = (await userinfoOf(config, tokens.access_token, claims.sub)).verified_claims as {
      verification: { evidence: unknown[] };
      claims: Record<string, unknown>;
    };
    expect(verified.verification.evidence).toEqual([
      {
        type: 'electronic_record',
        check_details: [{ check_method: 'data', check_id: expect.any(String), time: expect.any(String) }],
        record: { type: vocabulary.identityRegister, source: { country_code: 'CHN' } },
      },
    ]);
    expect(verified.claims).toMatchObject({ name: '陈大文', nationalities: ['CHN'] });
  });

  it('does not release verified_claims asked for by the claims parameter when the person chose a lower level', async () => {
    const { config } = await dossierMerchant();
    const { login } = await matchedPerson({
      documentType: 'cn_resident_id',
      documentNumber: '440524198001010013',
      name: '王五',
    });
    const claims = JSON.stringify({
      userinfo: { verified_claims: { verification: { trust_framework: null }, claims: { name: null } } },
    });
    const { tokens, claims: idToken } = await signIn(
      config,
      login,
      { scope: 'openid realname realname:dossier', claims },
      { level: 'result' },
    );
    const userinfo = await userinfoOf(config, tokens.access_token, idToken.sub);
    expect(Object.keys(userinfo).sort()).toEqual(['sub', ...REALNAME_CLAIMS].sort());
  });

  it('refuses a malformed verified_claims request with invalid_request, at the merchant', async () => {
    const { config } = await dossierMerchant();
    for (const bad of [
      { userinfo: { verified_claims: { verification: { trust_framework: null }, claims: {} } } },
      { userinfo: { verified_claims: { claims: { name: null } } } },
      { userinfo: { verified_claims: [] } },
      { userinfo: { verified_claims: 'all' } },
    ]) {
      const start = await startAuthorization(config, { scope: 'openid realname:dossier', claims: JSON.stringify(bad) });
      const page = await personBrowser().navigate(start.url.toString());
      const callback = new URL(page.url);
      expect(callback.searchParams.get('error')).toBe('invalid_request');
      expect(callback.searchParams.get('error_description')).toMatch(/verified_claims/);
    }
  });

  it('advertises the scopes, the claims parameter and the identity-assurance metadata', async () => {
    const metadata = (await (await fetch(`${running.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(metadata.scopes_supported).toEqual(
      expect.arrayContaining(['realname', 'realname:credentials', 'realname:dossier']),
    );
    expect(metadata.claims_supported).toEqual(
      expect.arrayContaining(['verified_claims', 'merchant_credentials', ...REALNAME_CLAIMS]),
    );
    expect(metadata.claims_parameter_supported).toBe(true);
    expect(metadata.acr_values_supported).toEqual([ACR.password, ACR.personMatch, ACR.phishingResistant]);
    // OIDC4IDA 1.0 §8 (final): no verified_claims_supported any more; the required members are there.
    const vocabulary = idaVocabulary(running.issuer);
    expect(metadata).not.toHaveProperty('verified_claims_supported');
    expect(metadata).toMatchObject({
      trust_frameworks_supported: [vocabulary.trustFramework],
      evidence_supported: ['document', 'electronic_record'],
      documents_supported: [
        'idcard',
        'passport',
        vocabulary.documentType('hk_macao_permit'),
        vocabulary.documentType('taiwan_permit'),
        'residence_permit',
        'military_id',
        vocabulary.documentType('other'),
      ],
      documents_check_methods_supported: ['data', 'bvr', 'pvp'],
      electronic_records_supported: [vocabulary.identityRegister, vocabulary.mobileSubscriber],
      claims_in_verified_claims_supported: expect.arrayContaining([
        'name',
        'family_name',
        'given_name',
        'birthdate',
        'gender',
        'nationality',
        'nationalities',
      ]),
      attachments_supported: ['external'],
      digest_algorithms_supported: ['sha-256'],
    });
    // Only the client authentication a merchant can be registered with: a secret, or its keys (FAPI 2.0).
    expect(metadata.token_endpoint_auth_methods_supported).toEqual([
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
    ]);
  });
});
