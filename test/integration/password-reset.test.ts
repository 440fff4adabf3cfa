import { ENGINE } from '../helpers/db.js';
import { JPEG, PNG, TRUNCATED_PNG } from '../helpers/images.js';
import { newLogin, personBrowser } from '../helpers/merchant.js';
import { startTestPlatform } from '../helpers/platform.js';
import { startSmsStub, type SmsStub } from '../helpers/sms-stub.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { formAction, type Page, type UserAgent } from '../helpers/user-agent.js';
import { until } from '../helpers/wait.js';
import { SoftAuthenticator } from '../helpers/authenticator.js';

// Password reset over real HTTP (docs/product.md#password-reset): a one-time code by mail (a
// local SMTP server) or by text message (a local SMS gateway), and a reset by verifying the
// identity again. Codes expire, work once, survive few wrong tries, and the pages say the same
// whether or not an account has the login.

type Running = Awaited<ReturnType<typeof startTestPlatform>>;

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a new and better secret';
const MAX_CODE_FAILURES = 3;
const RESETS_PER_LOGIN = 4;
const CODE = /\b(\d{8})\b/;
const DOCUMENT = '11010519491231002X';

describe(`password reset (${ENGINE})`, () => {
  let running: Running;
  let sink: SmtpSink;
  let sms: SmsStub;
  let url: (path: string) => string;

  beforeAll(async () => {
    [sink, sms] = await Promise.all([startSmtpSink(), startSmsStub()]);
    running = await startTestPlatform({
      notifications: {
        smtp: { host: sink.host, port: sink.port, from: 'no-reply@realname.test' },
        sms: { url: sms.url, apiKey: 'sms-gateway-key' },
      },
      passwordReset: { codeTtl: 600, maxCodeFailures: MAX_CODE_FAILURES },
      rateLimits: {
        passwordReset: { perIp: { max: 1000, window: 3600 }, perLogin: { max: RESETS_PER_LOGIN, window: 3600 } },
        signIn: { perLogin: { maxFailures: 20, window: 600, lockDuration: 600 } },
      },
    });
    url = (path) => `${running.issuer}${path}`;
  });
  afterAll(async () => {
    await running?.stop();
    await Promise.all([sink?.close(), sms?.close()]);
  });

  const db = () => running.platform.db;

  /** Asks for a code from a fresh browser; returns the browser and the page it was shown. */
  async function askForCode(login: string, agent = personBrowser()): Promise<{ agent: UserAgent; page: Page }> {
    const form = await agent.navigate(url('/password-reset'));
    const page = await agent.submit(formAction(form, '/password-reset'), { login });
    return { agent, page };
  }

  const mailsTo = (login: string) => sink.received.filter((mail) => mail.to.includes(login));
  /** The code in the n-th reset mail to `login` (waiting for it to arrive). */
  async function mailedCode(login: string, nth = 1): Promise<string> {
    const mail = await until(() => mailsTo(login).filter((m) => CODE.test(m.text))[nth - 1], { what: `mail ${nth}` });
    return CODE.exec(mail.text)![1]!;
  }

  const enterCode = (agent: UserAgent, page: Page, login: string, code: string, password = NEW_PASSWORD) =>
    agent.submit(formAction(page, '/password-reset/code'), { login, code, new_password: password });

  /** Whether `password` signs `login` in on the account pages, in a fresh browser. */
  async function signsIn(login: string, password: string): Promise<boolean> {
    const agent = personBrowser();
    const signIn = await agent.navigate(url('/account'));
    const page = await agent.submit(formAction(signIn, '/login'), { login, password });
    return page.url === url('/account');
  }

  async function signedInBrowser(login: string, password = PASSWORD): Promise<UserAgent> {
    const agent = personBrowser();
    const signIn = await agent.navigate(url('/account'));
    expect((await agent.submit(formAction(signIn, '/login'), { login, password })).url).toBe(url('/account'));
    return agent;
  }

  const securityKinds = async (accountId: string) =>
    (await running.platform.securityLog.recent(accountId)).map((event) => event.kind);

  /** The page without what differs per request (CSRF tokens, the login typed back). */
  const shape = (html: string, login: string) =>
    html.replace(/value="[A-Za-z0-9_-]{43}"/g, 'value="csrf"').replaceAll(login, 'LOGIN');

  describe('by a code to the login', () => {
    it('sends no code to a disabled account, and refuses one sent before it was disabled', async () => {
      const login = newLogin();
      const account = await running.platform.accounts.register({ login, password: PASSWORD });
      const before = await askForCode(login);
      const code = await mailedCode(login);
      await running.platform.disabling.disable(account.id);
      expect((await enterCode(before.agent, before.page, login, code)).status).toBe(401);
      const again = await askForCode(login);
      expect(again.page.status).toBe(200);
      expect(await db()('notification_outbox').where({ account_id: account.id })).toHaveLength(1);
      await running.platform.disabling.enable(account.id);
      expect(await signsIn(login, PASSWORD)).toBe(true);
    });

    it('mails a code that sets a new password once, ends every session, and tells the owner', async () => {
      const login = newLogin();
      const account = await running.platform.accounts.register({ login, password: PASSWORD });
      const elsewhere = await signedInBrowser(login);

      const { agent, page } = await askForCode(login);
      expect(page.status).toBe(200);
      const code = await mailedCode(login);
      const mail = mailsTo(login)[0]!;
      expect(mail.subject).toBe('重置密码的验证码');
      expect(mail.text).toContain('10 分钟内有效');

      // Stored only as an HMAC; the outbox row no longer holds the sealed code once sent.
      const row = await db()('password_resets').where({ account_id: account.id }).first();
      expect(row.code_hash).not.toContain(code);
      const sent = await until(
        async () => db()('notification_outbox').where({ account_id: account.id, status: 'sent' }).first(),
        { what: 'the code message marked sent' },
      );
      expect(sent.params).not.toHaveProperty('sealed_code');
      expect(JSON.stringify(sent.params)).not.toContain(code);

      const done = await enterCode(agent, page, login, code);
      expect(done.status).toBe(200);
      expect(done.html).toContain('您的密码已修改');
      expect(await signsIn(login, PASSWORD)).toBe(false);
      expect(await signsIn(login, NEW_PASSWORD)).toBe(true);
      // The browser signed in before the reset is signed out.
      expect((await elsewhere.navigate(url('/account'))).url).not.toBe(url('/account'));

      // Used once: the same code again is refused.
      const again = await enterCode(agent, page, login, code, 'yet another fine secret');
      expect(again.status).toBe(401);
      expect(again.html).toContain('验证码错误、已使用或已过期');
      expect(await signsIn(login, NEW_PASSWORD)).toBe(true);

      const notice = await until(() => mailsTo(login).find((m) => m.subject === '您的密码已重置'), {
        what: 'the reset notice',
      });
      expect(notice.text).toContain(url('/account/security'));
      const events = await running.platform.securityLog.recent(account.id);
      expect(events.find((e) => e.kind === 'password_reset')?.detail).toMatchObject({ method: 'code' });
      expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(['password_reset_code_sent']));
    });

    it('texts a code to a mobile-number login through the SMS gateway', async () => {
      const phone = `+86139${String(Date.now()).slice(-8)}`;
      await running.platform.accounts.register({ login: phone, password: PASSWORD });
      const { agent, page } = await askForCode(phone.slice(3));
      const message = await until(() => sms.received.find((m) => m.to === phone && CODE.test(m.text)), {
        what: 'the text message',
      });
      expect(message.authorization).toBe('Bearer sms-gateway-key');
      expect(message.text).not.toContain('--'); // no mail footer in a text message
      const done = await enterCode(agent, page, phone, CODE.exec(message.text)![1]!);
      expect(done.status).toBe(200);
      expect(await signsIn(phone, NEW_PASSWORD)).toBe(true);
    });

    it('answers a login nobody has exactly as one that exists, and sends nothing', async () => {
      const known = newLogin();
      await running.platform.accounts.register({ login: known, password: PASSWORD });
      const unknown = newLogin();
      const forKnown = await askForCode(known);
      const forUnknown = await askForCode(unknown);
      expect(forUnknown.page.status).toBe(forKnown.page.status);
      expect(shape(forUnknown.page.html, unknown)).toBe(shape(forKnown.page.html, known));
      await mailedCode(known);
      const wrong = await enterCode(forUnknown.agent, forUnknown.page, unknown, '12345678');
      const wrongKnown = await enterCode(forKnown.agent, forKnown.page, known, '12345678');
      expect(wrong.status).toBe(401);
      expect(shape(wrong.html, unknown)).toBe(shape(wrongKnown.html, known));
      expect(mailsTo(unknown)).toEqual([]);
    });

    it('refuses an expired code, a code past its wrong tries, and an earlier code once a new one is sent', async () => {
      const login = newLogin();
      const account = await running.platform.accounts.register({ login, password: PASSWORD });

      const first = await askForCode(login);
      const expired = await mailedCode(login, 1);
      await db()('password_resets')
        .where({ account_id: account.id })
        .update({ expires_at: new Date(Date.now() - 1000) });
      expect((await enterCode(first.agent, first.page, login, expired)).status).toBe(401);

      const second = await askForCode(login);
      const code = await mailedCode(login, 2);
      for (let i = 0; i < MAX_CODE_FAILURES; i += 1) {
        const wrong = String((Number(code) + 1 + i) % 100_000_000).padStart(8, '0');
        expect((await enterCode(second.agent, second.page, login, wrong)).status).toBe(401);
      }
      expect((await enterCode(second.agent, second.page, login, code)).status).toBe(401);

      const third = await askForCode(login);
      const superseded = await mailedCode(login, 3);
      await askForCode(login);
      const newest = await mailedCode(login, 4);
      expect((await enterCode(third.agent, third.page, login, superseded)).status).toBe(401);
      expect((await enterCode(third.agent, third.page, login, newest)).status).toBe(200);
      expect(await securityKinds(account.id)).toEqual(expect.arrayContaining(['password_reset_code_failed']));
    });

    it('ends a code asked for once the person changes the password another way', async () => {
      const login = newLogin();
      const account = await running.platform.accounts.register({ login, password: PASSWORD });
      const asked = await askForCode(login);
      const code = await mailedCode(login);
      // The person remembers the password, signs in and changes it on the account page.
      const agent = await signedInBrowser(login);
      const security = await agent.navigate(url('/account/security'));
      const changed = await agent.submit(formAction(security, '/account/password'), {
        current_password: PASSWORD,
        new_password: 'remembered, then changed',
      });
      expect(changed.status).toBe(200);
      expect(await signsIn(login, 'remembered, then changed')).toBe(true);
      // The code mailed before opens nothing now.
      expect((await enterCode(asked.agent, asked.page, login, code)).status).toBe(401);
      expect(await signsIn(login, NEW_PASSWORD)).toBe(false);
      expect(await securityKinds(account.id)).not.toContain('password_reset');
    });

    it('keeps the code when the new password is refused, and says why', async () => {
      const login = newLogin();
      await running.platform.accounts.register({ login, password: PASSWORD });
      const { agent, page } = await askForCode(login);
      const code = await mailedCode(login);
      const weak = await enterCode(agent, page, login, code, 'password123');
      expect(weak.status).toBe(400);
      expect(weak.html).toContain('常见');
      expect((await enterCode(agent, weak, login, code)).status).toBe(200);
    });

    it('limits the codes asked for one login, whether or not an account has it', async () => {
      const known = newLogin();
      await running.platform.accounts.register({ login: known, password: PASSWORD });
      const unknown = newLogin();
      for (const login of [known, unknown]) {
        for (let i = 0; i < RESETS_PER_LOGIN; i += 1) expect((await askForCode(login)).page.status).toBe(200);
        const refused = await askForCode(login);
        expect(refused.page.status).toBe(429);
        expect(refused.page.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(refused.page.html).toContain('重置请求过于频繁');
      }
      await until(() => mailsTo(known).length === RESETS_PER_LOGIN, { what: 'the codes sent' });
    });

    it('does not sign anyone in: a passkey asked for after the password is still asked for', async () => {
      const login = newLogin();
      const account = await running.platform.accounts.register({ login, password: PASSWORD });
      const authenticator = new SoftAuthenticator({ origin: running.issuer, rpId: new URL(running.issuer).hostname });
      const options = await running.platform.passkeys.registrationOptions({ id: account.id, login });
      await running.platform.passkeys.register(account.id, 'Phone', authenticator.create(options).response as never);
      await running.platform.passkeys.setSecondFactor(account.id, true);

      const { agent, page } = await askForCode(login);
      expect((await enterCode(agent, page, login, await mailedCode(login))).status).toBe(200);
      const signIn = await personBrowser().navigate(url('/account'));
      const after = await personBrowser().submit(formAction(signIn, '/login'), { login, password: NEW_PASSWORD });
      expect(after.url).not.toBe(url('/account'));
      expect(await running.platform.passkeys.secondFactorRequired(account.id)).toBe(true);
    });
  });

  describe('by verifying the identity again', () => {
    /** A registered account verified (document check) as the person of DOCUMENT and 张三. */
    async function verifiedAccount(documentNumber = DOCUMENT) {
      const login = newLogin();
      const account = await running.platform.accounts.register({ login, password: PASSWORD });
      const outcome = await running.platform.verifications.verify(account.id, {
        method: 'document',
        documentType: 'cn_resident_id',
        documentNumber,
        name: '张三',
      });
      expect(outcome.status).toBe('passed');
      return { login, accountId: account.id };
    }

    const personMatches = async () =>
      Number((await db()('provider_calls').where({ method: 'person_match' }).count({ n: '*' }).first())!.n);

    async function reverify(fields: Record<string, string>, portrait: Buffer = PNG) {
      const agent = personBrowser();
      const page = await agent.navigate(url('/password-reset/verify'));
      expect(page.status).toBe(200);
      const form = new FormData();
      for (const [name, value] of Object.entries({
        document_type: 'cn_resident_id',
        name: '张三',
        document_number: DOCUMENT,
        new_password: NEW_PASSWORD,
        ...fields,
      }))
        form.set(name, value);
      form.set('portrait', new Blob([portrait], { type: 'image/png' }), 'me.png');
      form.set('document_front', new Blob([JPEG], { type: 'image/jpeg' }), 'card.jpg');
      return agent.upload(formAction(page, '/password-reset/verify'), form);
    }

    it('resets the password after a new person-document match, recorded and paid for', async () => {
      const { login, accountId } = await verifiedAccount();
      const elsewhere = await signedInBrowser(login);
      const calls = await personMatches();
      const done = await reverify({ login });
      expect(done.status).toBe(200);
      expect(done.html).toContain('您的密码已修改');
      expect(await personMatches()).toBe(calls + 1);
      expect(await signsIn(login, NEW_PASSWORD)).toBe(true);
      expect((await elsewhere.navigate(url('/account'))).url).not.toBe(url('/account'));
      const reset = (await running.platform.securityLog.recent(accountId)).find((e) => e.kind === 'password_reset');
      expect(reset?.detail).toMatchObject({ method: 'person_match' });
    });

    it('asks no provider for another document, another name, an unknown login or a never-verified account', async () => {
      const { login } = await verifiedAccount();
      const unverified = newLogin();
      await running.platform.accounts.register({ login: unverified, password: PASSWORD });
      const calls = await personMatches();
      for (const fields of [
        { login, document_number: '110105194912310038' } as Record<string, string>,
        { login, name: '李四' },
        { login: newLogin() },
        { login: unverified },
      ]) {
        const page = await reverify(fields);
        expect(page.status).toBe(422);
        expect(page.html).toContain('无法确认您是该账户的实名认证本人');
      }
      expect(await personMatches()).toBe(calls);
      expect(await signsIn(login, PASSWORD)).toBe(true);
    });

    it('keeps the password when the photos do not match', async () => {
      const { login } = await verifiedAccount();
      const page = await reverify({ login }, TRUNCATED_PNG);
      expect(page.status).toBe(422);
      expect(page.html).toContain('照片与登记的证件不符');
      expect(await signsIn(login, PASSWORD)).toBe(true);
    });

    it('removes lost passkeys, and the passkey after the password with them, when asked', async () => {
      const { login, accountId } = await verifiedAccount();
      const authenticator = new SoftAuthenticator({ origin: running.issuer, rpId: new URL(running.issuer).hostname });
      const options = await running.platform.passkeys.registrationOptions({ id: accountId, login });
      await running.platform.passkeys.register(
        accountId,
        'Lost phone',
        authenticator.create(options).response as never,
      );
      await running.platform.passkeys.setSecondFactor(accountId, true);

      const done = await reverify({ login, lost_passkeys: '1' });
      expect(done.status).toBe(200);
      expect(done.html).toContain('已删除 1 个通行密钥');
      expect(await running.platform.passkeys.hasPasskeys(accountId)).toBe(false);
      expect(await running.platform.passkeys.secondFactorRequired(accountId)).toBe(false);
      expect(await signsIn(login, NEW_PASSWORD)).toBe(true);
    });
  });
});
