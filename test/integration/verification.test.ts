import { personIndex, BLIND_INDEX_KEY } from '../../src/identity/blind-index.js';
import { SANDBOX_NAMES } from '../../src/identity/providers/sandbox.js';
import type { Submission } from '../../src/identity/service.js';
import { JPEG, PNG, TRUNCATED_PNG } from '../helpers/images.js';
import { newLogin } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

// Valid GB 11643 numbers (check digits computed), one per person in these tests.
const ZHANG = { name: '张三', number: '11010519491231002X' };
const LI = { name: '李四', number: '110101199003074477' };
const WANG = { name: '王五', number: '440524198001010013' };
const ZHAO = { name: '赵六', number: '110101200001010010' };
const SUN = { name: '孙七', number: '110101198506151230' };

const documentCheck = (person: { name: string; number: string }, overrides: Partial<Submission> = {}): Submission => ({
  method: 'document',
  documentType: 'cn_resident_id',
  documentNumber: person.number,
  name: person.name,
  ...overrides,
});

describe('verifying a person once', () => {
  let running: Running;
  const newAccount = async () =>
    (await running.platform.accounts.register({ login: newLogin(), password: 'correct horse battery' })).id;
  const calls = async () => Number((await running.platform.db('provider_calls').count({ n: '*' }).first())!.n);
  const events = async (type: string, account: string) => {
    await running.platform.audit.integrateAll();
    return running.platform.db('audit_events').where({ type, account_id: account });
  };

  beforeAll(async () => {
    running = await startTestPlatform();
  });

  afterAll(async () => {
    await running.stop();
  });

  it('verifies by document check, stores the person sealed, records the cost and the audit event', async () => {
    const account = await newAccount();
    const before = await calls();
    const outcome = await running.platform.verifications.verify(account, documentCheck(ZHANG));
    expect(outcome).toMatchObject({ status: 'passed', method: 'document', reused: false });
    expect(await calls()).toBe(before + 1);
    const call = await running.platform.db('provider_calls').orderBy('id', 'desc').first();
    expect(call).toMatchObject({ provider: 'sandbox', method: 'document', outcome: 'match', cost_fen: 50 });

    const person = await running.platform.db('persons').first();
    expect(JSON.stringify(person)).not.toMatch(/张三|11010519491231002X/);
    const [key] = await running.platform.keys.secrets(BLIND_INDEX_KEY.purpose);
    expect(person.person_index).toBe(personIndex(key!, 'cn_resident_id', ZHANG.number));
    const [event] = await events('identity.verified', account);
    expect(JSON.parse(event.leaf)).toMatchObject({
      subjects: { account, person: person.person_index },
      payload: { method: 'document', provider: 'sandbox' },
    });
    expect(event.leaf).not.toMatch(/张三|11010519491231002X/);
    expect((await running.platform.verifications.resultOfAccount(account))?.method).toBe('document');
  });

  it('refuses malformed input before calling any provider', async () => {
    const account = await newAccount();
    const before = await calls();
    const bad: Array<[Partial<Submission>, string]> = [
      [{ documentNumber: '110105194912310021' }, 'document_number'],
      [{ documentNumber: '11010519490231002X' }, 'document_number'],
      [{ documentType: 'library_card' }, 'document_type'],
      [{ name: '   ' }, 'name'],
      [{ method: 'person_match' }, 'portrait'],
      [
        {
          method: 'person_match',
          portrait: { contentType: 'image/png', data: JPEG },
          documentFront: { contentType: 'image/png', data: PNG },
        },
        'portrait',
      ],
    ];
    for (const [overrides, field] of bad) {
      await expect(running.platform.verifications.verify(account, documentCheck(LI, overrides))).rejects.toMatchObject({
        code: 'invalid-input',
        extra: { errors: expect.arrayContaining([expect.objectContaining({ field })]) },
      });
    }
    expect(await calls()).toBe(before);
    expect(await running.platform.verifications.resultOfAccount(account)).toBeUndefined();
  });

  it('accepts a number typed with full-width characters, spaces and a lowercase x', async () => {
    const account = await newAccount();
    const outcome = await running.platform.verifications.verify(
      account,
      documentCheck(ZHANG, { documentNumber: '１１０１０５ １９４９１２３１ ００２ｘ' }),
    );
    expect(outcome.status).toBe('passed');
  });

  it('reuses a result instead of paying again: the same account, and another account of the same person', async () => {
    const first = await newAccount();
    await running.platform.verifications.verify(first, documentCheck(WANG));
    const before = await calls();
    expect(await running.platform.verifications.verify(first, documentCheck(WANG))).toMatchObject({
      status: 'passed',
      reused: true,
    });
    const second = await newAccount();
    expect(await running.platform.verifications.verify(second, documentCheck(WANG))).toMatchObject({
      status: 'passed',
      reused: true,
    });
    expect(await calls()).toBe(before);
    const [a, b] = await Promise.all(
      [first, second].map((id) => running.platform.db('accounts').where({ id }).first()),
    );
    expect(a.person_id).toBe(b.person_id);
    // A face is never inherited: the second account's person-document match calls the provider.
    const match = await running.platform.verifications.verify(
      second,
      documentCheck(WANG, {
        method: 'person_match',
        portrait: { contentType: 'image/png', data: PNG },
        documentFront: { contentType: 'image/jpeg', data: JPEG },
      }),
    );
    expect(match).toMatchObject({ status: 'passed', method: 'person_match', reused: false });
    expect(await calls()).toBe(before + 1);
    // ...and then satisfies a document requirement too (stronger satisfies weaker).
    expect((await running.platform.verifications.resultOfAccount(second, 'document'))?.method).toBe('person_match');
    expect(await running.platform.verifications.resultOfAccount(first, 'person_match')).toBeUndefined();
  });

  it('records a mismatch as a failed attempt, links no person, and stays unverified', async () => {
    const account = await newAccount();
    const outcome = await running.platform.verifications.verify(
      account,
      documentCheck({ name: SANDBOX_NAMES.mismatch, number: ZHAO.number }),
    );
    expect(outcome).toMatchObject({ status: 'failed', reason: 'name_mismatch' });
    expect((await running.platform.db('accounts').where({ id: account }).first()).person_id).toBeNull();
    expect(await events('identity.verification_failed', account)).toHaveLength(1);
    expect(await running.platform.verifications.resultOfAccount(account)).toBeUndefined();
  });

  it('answers a provider outage with "try again later", never a pass, and records the call at no cost', async () => {
    const account = await newAccount();
    for (const name of [SANDBOX_NAMES.timeout, SANDBOX_NAMES.failure]) {
      const before = await calls();
      await expect(
        running.platform.verifications.verify(account, documentCheck({ name, number: ZHAO.number })),
      ).rejects.toMatchObject({ code: 'provider-unavailable', status: 503 });
      expect(await calls()).toBe(before + 1);
      expect(await running.platform.db('provider_calls').orderBy('id', 'desc').first()).toMatchObject({
        outcome: 'unavailable',
        cost_fen: 0,
      });
    }
    expect(await running.platform.db('verifications').where({ account_id: account })).toHaveLength(0);
    expect(await events('identity.verified', account)).toHaveLength(0);
  });

  it('matches an identity a notary verified at its counter, with no provider call', async () => {
    const notary = await running.platform.clients.add({ name: 'Notary', kind: 'notary' });
    await running.platform.registry.upload(notary.client_id, {
      records: [
        {
          external_id: 'N-1',
          document_type: 'cn_resident_id',
          document_number: ZHAO.number,
          name: ZHAO.name,
          verified_at: '2026-11-01T10:00:00+08:00',
        },
      ],
    });
    const account = await newAccount();
    const before = await calls();
    const outcome = await running.platform.verifications.verify(account, documentCheck(ZHAO));
    expect(outcome).toMatchObject({ status: 'passed', method: 'offline_notary', reused: true });
    expect(outcome.result?.verifiedAt.toISOString()).toBe('2026-11-01T02:00:00.000Z');
    expect(await calls()).toBe(before);
    // A different name under the same number does not match the registration.
    const other = await newAccount();
    const mismatch = await running.platform.verifications.verify(
      other,
      documentCheck({ name: SANDBOX_NAMES.mismatch, number: ZHAO.number }),
    );
    expect(mismatch.status).toBe('failed');
  });

  it('refuses to re-link a verified account to another person, before paying for a check', async () => {
    const account = await newAccount();
    await running.platform.verifications.verify(account, documentCheck(LI));
    const before = await calls();
    await expect(running.platform.verifications.verify(account, documentCheck(WANG))).rejects.toMatchObject({
      code: 'account-linked',
      status: 409,
    });
    expect(await calls()).toBe(before);
  });

  it('matches a person to their document photos only when both images are whole', async () => {
    const account = await newAccount();
    const broken = await running.platform.verifications.verify(
      account,
      documentCheck(LI, {
        method: 'person_match',
        portrait: { contentType: 'image/png', data: TRUNCATED_PNG },
        documentFront: { contentType: 'image/png', data: PNG },
      }),
    );
    expect(broken).toMatchObject({ status: 'failed', reason: 'image_unreadable' });
    const whole = await running.platform.verifications.verify(
      account,
      documentCheck(LI, {
        method: 'person_match',
        portrait: { contentType: 'image/png', data: PNG },
        documentFront: { contentType: 'image/png', data: PNG },
      }),
    );
    expect(whole.status).toBe('passed');
    const images = await running.platform.db('verification_images').where({ verification_id: whole.result!.id });
    expect(images).toHaveLength(2);
    for (const image of images) expect(image.data_encrypted).toMatch(/^v1\./);
  });

  it('asks for a new verification once the result has expired, and every merchant then sees the new one', async () => {
    const account = await newAccount();
    const first = await running.platform.verifications.verify(account, documentCheck(LI));
    // LI's person already holds results from the tests above: expire them all.
    const personId = (await running.platform.db('accounts').where({ id: account }).first()).person_id;
    await running.platform
      .db('verifications')
      .where({ person_id: personId })
      .update({ expires_at: new Date(Date.now() - 1000) });
    expect(await running.platform.verifications.resultOfAccount(account)).toBeUndefined();
    const before = await calls();
    const again = await running.platform.verifications.verify(account, documentCheck(LI));
    expect(again).toMatchObject({ status: 'passed', reused: false });
    expect(again.result!.id).not.toBe(first.result!.id);
    expect(await calls()).toBe(before + 1);
    expect((await running.platform.verifications.resultOfAccount(account))?.id).toBe(again.result!.id);
  });

  it('checks the three elements of a mobile login with its carrier, and only for a mobile login', async () => {
    const mobile = (
      await running.platform.accounts.register({ login: '138 0013 8000', password: 'correct horse battery' })
    ).id;
    const outcome = await running.platform.verifications.verify(
      mobile,
      documentCheck(SUN, { method: 'phone_three_element' }),
    );
    expect(outcome).toMatchObject({ status: 'passed', method: 'phone_three_element', reused: false });
    expect(await running.platform.db('provider_calls').orderBy('id', 'desc').first()).toMatchObject({
      provider: 'phone-router',
      method: 'phone_three_element',
      cost_fen: 30,
    });
    const email = await newAccount();
    await expect(
      running.platform.verifications.verify(email, documentCheck(SUN, { method: 'phone_three_element' })),
    ).rejects.toMatchObject({
      code: 'invalid-input',
      extra: { errors: [expect.objectContaining({ field: 'phone_check' })] },
    });
  });
});
