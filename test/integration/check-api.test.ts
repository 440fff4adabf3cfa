import * as oidc from 'openid-client';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { addMerchant, discover, newLogin } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const PERSON = { document_type: 'cn_resident_id', document_number: '11010519491231002X', name: '张三' };

// POST /api/verifications/check (docs/integrating.md#check-api): merchants reuse a verification result instead of
// paying for a new one; each answer spends one query of the result.
describe('the check API', () => {
  let running: Running;

  beforeAll(async () => {
    running = await startTestPlatform({ verification: { resultMaxQueries: 3, checkRatePerMinute: 40 } });
    const account = (await running.platform.accounts.register({ login: newLogin(), password: 'correct horse battery' }))
      .id;
    await running.platform.verifications.verify(account, {
      method: 'document',
      documentType: 'cn_resident_id',
      documentNumber: PERSON.document_number,
      name: PERSON.name,
    });
  });

  afterAll(async () => {
    await running.stop();
  });

  async function merchantToken(overrides: Record<string, unknown> = {}) {
    const merchant = await addMerchant(running.platform, overrides);
    const config = await discover(running.issuer, merchant.client_id, merchant.client_secret);
    return { merchant, token: (await oidc.clientCredentialsGrant(config, { scope: 'realname:check' })).access_token };
  }

  const check = async (token: string, body: unknown) => {
    const response = await fetch(`${running.issuer}/api/verifications/check`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any, headers: response.headers };
  };

  it('answers for a verified person and spends one query each time, until none is left', async () => {
    const { token, merchant } = await merchantToken();
    const first = await check(token, PERSON);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      verified: true,
      method: 'document',
      verified_at: expect.any(Number),
      expires_at: expect.any(Number),
      queries_left: 2,
    });
    expect(first.body.expires_at - first.body.verified_at).toBe(365 * 86400);
    expect((await check(token, { ...PERSON, document_number: '110105 19491231 002x' })).body.queries_left).toBe(1);
    expect((await check(token, PERSON)).body.queries_left).toBe(0);
    // The result is used up: the person must verify again before anyone can rely on it.
    expect((await check(token, PERSON)).body).toEqual({
      verified: false,
      method: null,
      verified_at: null,
      expires_at: null,
      queries_left: null,
    });
    await running.platform.audit.integrateAll();
    const events = await running.platform
      .db('audit_events')
      .where({ type: 'verification.checked', client_id: merchant.client_id })
      .orderBy('leaf_index');
    expect(events).toHaveLength(4);
    expect(JSON.parse(events[0].leaf)).toMatchObject({
      actor: { type: 'client', id: merchant.client_id },
      payload: { verified: true, queries_left: 2 },
    });
    expect(events[0].person_index).toMatch(/^[0-9a-f]{64}$/);
    expect(events[0].leaf).not.toMatch(/张三|11010519491231002X/);
  });

  it('says nothing about a person the merchant did not name exactly', async () => {
    const { token } = await merchantToken();
    const notVerified = { verified: false, method: null, verified_at: null, expires_at: null, queries_left: null };
    expect((await check(token, { ...PERSON, name: '李四' })).body).toEqual(notVerified);
    expect((await check(token, { ...PERSON, document_number: '110101199003074477' })).body).toEqual(notVerified);
  });

  it('honours a merchant that accepts only recent results or few queries', async () => {
    const person = { document_type: 'cn_resident_id', document_number: '110101199003074477', name: '李四' };
    const account = (await running.platform.accounts.register({ login: newLogin(), password: 'correct horse battery' }))
      .id;
    const outcome = await running.platform.verifications.verify(account, {
      method: 'document',
      documentType: person.document_type,
      documentNumber: person.document_number,
      name: person.name,
    });
    const strict = await merchantToken({ resultMaxAgeDays: 30, resultMaxQueries: 1 });
    expect((await check(strict.token, person)).body).toMatchObject({ verified: true, queries_left: 0 });
    expect((await check(strict.token, person)).body.verified).toBe(false);
    // Another merchant still has queries of the same result.
    const relaxed = await merchantToken();
    expect((await check(relaxed.token, person)).body).toMatchObject({ verified: true, queries_left: 1 });
    // Results older than the merchant accepts do not count.
    await running.platform
      .db('verifications')
      .where({ id: outcome.result!.id })
      .update({ verified_at: new Date(Date.now() - 40 * 86_400_000) });
    const recentOnly = await merchantToken({ resultMaxAgeDays: 30 });
    expect((await check(recentOnly.token, person)).body.verified).toBe(false);
  });

  it('refuses notaries, missing scopes and malformed requests with problem+json', async () => {
    const notary = await running.platform.clients.add({ name: 'Notary', kind: 'notary' });
    const notaryConfig = await discover(running.issuer, notary.client_id, notary.client_secret);
    const notaryToken = (await oidc.clientCredentialsGrant(notaryConfig, { scope: 'audit:read' })).access_token;
    expect((await check(notaryToken, PERSON)).status).toBe(403);
    expect((await check('nonsense', PERSON)).status).toBe(401);
    const { token } = await merchantToken();
    for (const body of [
      {},
      { ...PERSON, extra: 1 },
      { ...PERSON, document_number: '123' },
      { ...PERSON, document_type: 'library_card' },
      [PERSON],
    ]) {
      const answer = await check(token, body);
      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/problem\+json/);
    }
  });

  // client_credentials tokens are JWT access tokens (RFC 9068) checked by their signature alone.
  it('takes only unexpired tokens the platform signed for its API, read from nothing stored', async () => {
    const { token } = await merchantToken();
    const header = decodeProtectedHeader(token);
    const claims = decodeJwt(token);
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    expect(claims).toMatchObject({ iss: running.issuer, aud: `${running.issuer}/api`, scope: 'realname:check' });
    expect(claims.exp! - claims.iat!).toBe(running.platform.config.ttl.clientCredentials);
    expect(await running.platform.db('oidc_payloads').where({ model: 'ClientCredentials' }).count({ n: '*' })).toEqual([
      { n: 0 },
    ]);
    // The same claims signed by another key, or changed after signing, or for another audience.
    const otherKey = (await generateKeyPair('ES256')).privateKey;
    const forged = await new SignJWT(claims).setProtectedHeader({ ...header, alg: 'ES256' }).sign(otherKey);
    const [head, , signature] = token.split('.');
    const altered = `${head}.${Buffer.from(JSON.stringify({ ...claims, scope: 'realname:check audit:read' })).toString('base64url')}.${signature}`;
    for (const refused of [forged, altered, `${token}x`]) {
      const answer = await check(refused, PERSON);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    }
  });

  it('refuses an API token once it has expired', async () => {
    const shortLived = await startTestPlatform({ ttl: { clientCredentials: 1 } });
    try {
      const merchant = await addMerchant(shortLived.platform);
      const config = await discover(shortLived.issuer, merchant.client_id, merchant.client_secret);
      const { access_token } = await oidc.clientCredentialsGrant(config, { scope: 'realname:check' });
      const call = () =>
        fetch(`${shortLived.issuer}/api/verifications/check`, {
          method: 'POST',
          headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ...PERSON, name: '赵六' }),
        });
      expect((await call()).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 2100));
      expect((await call()).status).toBe(401);
    } finally {
      await shortLived.stop();
    }
  });

  it('limits each merchant to its rate per minute, with Retry-After', async () => {
    const { token } = await merchantToken();
    // 81 calls cannot spread over two one-minute windows without putting 41 in one of them.
    const answers = [];
    for (let i = 0; i < 81; i += 1) answers.push(await check(token, { ...PERSON, name: '王五' }));
    expect(answers.filter((a) => a.status === 200).length).toBeLessThanOrEqual(80);
    const limited = answers.find((a) => a.status === 429);
    expect(limited).toBeDefined();
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited!.body.type).toBe('urn:realname:problem:rate-limited');
    // Another merchant is not affected.
    expect((await check((await merchantToken()).token, { ...PERSON, name: '王五' })).status).toBe(200);
  });
});
