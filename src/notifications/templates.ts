import { z } from 'zod';

// The reminders of the periodic verification self-check, the notice to an account's owner that
// someone tried to register its login again, and the password reset's code and notice, in each
// language the pages speak.

export const TEMPLATES = [
  'verification.missing',
  'verification.failed',
  'verification.expiring',
  'registration.attempted',
  'password.reset_code',
  'password.reset_done',
] as const;
export type TemplateName = (typeof TEMPLATES)[number];

export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];

/**
 * What a queued message may carry: how to render it, never identity data (names, document
 * numbers, results); `.strict()` refuses any other field. The one secret, a password reset's
 * code, is sealed (src/crypto/secret-box.ts, bound to its reset) and removed once the message
 * was sent or given up on.
 */
export const templateParams = z
  .object({
    locale: z.enum(LOCALES).default('zh-CN'),
    /** When the current verification stops being valid (verification.expiring). */
    expires_at: z.iso.datetime({ offset: true }).optional(),
    /** The password reset a code belongs to (password.reset_code). */
    reset_id: z.uuid().optional(),
    /** Its code, sealed under the context `resetCodeContext(reset_id)`. */
    sealed_code: z.string().min(1).max(400).optional(),
    /** Minutes the code stays valid. */
    valid_minutes: z.number().int().min(1).max(1440).optional(),
  })
  .strict();

/** The SecretBox context a reset's code is sealed under in the outbox. */
export const resetCodeContext = (resetId: string) => `outbox:password-reset:${resetId}`;
export type TemplateParams = z.output<typeof templateParams>;

export interface RenderedMessage {
  subject: string;
  text: string;
}

interface Slots {
  link: string;
  expires: string;
  /** A password reset's one-time code, and for how many minutes it works. */
  code: string;
  minutes: number;
}

type Strings = Record<TemplateName, (slots: Slots) => RenderedMessage>;

const zhCN: Strings = {
  'verification.missing': ({ link }) => ({
    subject: '请完成实名认证',
    text: `您好：\n\n您的账户还没有完成实名认证。完成后，您就可以使用需要实名的服务了，只需几分钟。\n\n前往认证：${link}\n\n如果您已经完成认证，请忽略本邮件。`,
  }),
  'verification.failed': ({ link }) => ({
    subject: '实名认证未通过，请重新认证',
    text: `您好：\n\n您最近一次的实名认证没有通过。请核对填写的信息后重新认证。\n\n重新认证：${link}\n\n如有疑问，可在认证页面查看常见原因。`,
  }),
  'registration.attempted': ({ link }) => ({
    subject: '有人尝试用您的账号注册',
    text: `您好：\n\n刚才有人尝试用本邮箱或手机号注册新账号。该登录名已属于您的账号，因此没有创建新账号，您的账号也没有任何变化。\n\n如果是您本人，请直接登录：${link}\n\n如果不是您本人，无需任何操作。`,
  }),
  'verification.expiring': ({ link, expires }) => ({
    subject: '您的实名认证即将到期',
    text: `您好：\n\n您的实名认证将于 ${expires} 到期。为了不影响使用，请在到期前更新认证。\n\n更新认证：${link}`,
  }),
  'password.reset_code': ({ code, minutes }) => ({
    subject: '重置密码的验证码',
    text: `您的重置密码验证码是 ${code}，${minutes} 分钟内有效，只能使用一次。请勿告诉任何人，平台工作人员不会向您索要。\n\n如果不是您本人申请，请忽略本消息，您的密码不会改变。`,
  }),
  'password.reset_done': ({ link }) => ({
    subject: '您的密码已重置',
    text: `您好：\n\n您账户的密码刚刚被重置，所有已登录的会话都已退出。\n\n如果是您本人操作，无需任何处理。如果不是，请立即通过重新实名认证重置密码，并查看账户安全记录：${link}`,
  }),
};

const en: Strings = {
  'verification.missing': ({ link }) => ({
    subject: 'Please complete your identity verification',
    text: `Hello,\n\nYour account has not been verified yet. It only takes a few minutes, and then you can use services that require a verified identity.\n\nVerify now: ${link}\n\nIf you have already done this, please ignore this message.`,
  }),
  'verification.failed': ({ link }) => ({
    subject: 'Your identity verification did not succeed',
    text: `Hello,\n\nYour latest identity verification did not succeed. Please check your details and try again.\n\nTry again: ${link}\n\nThe verification page lists the most common reasons.`,
  }),
  'registration.attempted': ({ link }) => ({
    subject: 'Someone tried to register with your login',
    text: `Hello,\n\nSomeone just tried to register a new account with this email address or mobile number. It already belongs to your account, so no account was created and nothing about yours changed.\n\nIf it was you, sign in: ${link}\n\nIf it was not you, there is nothing you need to do.`,
  }),
  'verification.expiring': ({ link, expires }) => ({
    subject: 'Your identity verification expires soon',
    text: `Hello,\n\nYour identity verification expires on ${expires}. Please renew it before then to keep using your services without interruption.\n\nRenew now: ${link}`,
  }),
  'password.reset_code': ({ code, minutes }) => ({
    subject: 'Your password reset code',
    text: `Your password reset code is ${code}. It works once, for ${minutes} minutes. Do not share it: our staff will never ask for it.\n\nIf you did not ask to reset your password, ignore this message; your password stays as it is.`,
  }),
  'password.reset_done': ({ link }) => ({
    subject: 'Your password was reset',
    text: `Hello,\n\nThe password of your account was just reset, and every signed-in session was ended.\n\nIf it was you, there is nothing more to do. If it was not, reset it again now by verifying your identity, and check your account's security activity: ${link}`,
  }),
};

const STRINGS: Record<Locale, { strings: Strings; footer: string }> = {
  'zh-CN': { strings: zhCN, footer: '本邮件由系统自动发送，请勿直接回复。' },
  en: { strings: en, footer: 'This message was sent automatically; please do not reply to it.' },
};

export function isTemplateName(name: string): name is TemplateName {
  return (TEMPLATES as readonly string[]).includes(name);
}

/** Where a message's link leads, below the issuer. */
const LINKS: Record<TemplateName, string> = {
  'verification.missing': '/account/verify',
  'verification.failed': '/account/verify',
  'verification.expiring': '/account/verify',
  'registration.attempted': '/account',
  'password.reset_code': '/password-reset',
  'password.reset_done': '/account/security',
};

/**
 * The subject and plain text of a message. `code` is a password reset's code in clear, opened
 * from the sealed parameter by the outbox just before sending. A text message (SMS) has no
 * footer: it is short, and every character is paid for.
 */
export function renderTemplate(
  template: TemplateName,
  params: TemplateParams,
  options: { issuer: string; timeZone: string; code?: string; footer?: boolean },
): RenderedMessage {
  const { strings, footer } = STRINGS[params.locale];
  const link = `${options.issuer.replace(/\/+$/, '')}${LINKS[template]}`;
  const expires = params.expires_at
    ? new Intl.DateTimeFormat(params.locale, { dateStyle: 'long', timeZone: options.timeZone }).format(
        new Date(params.expires_at),
      )
    : '';
  const message = strings[template]({ link, expires, code: options.code ?? '', minutes: params.valid_minutes ?? 0 });
  return {
    subject: message.subject,
    text: options.footer === false ? message.text : `${message.text}\n\n--\n${footer}\n`,
  };
}
