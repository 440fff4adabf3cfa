import { z } from 'zod';

// The reminders of the periodic verification self-check, and the notice to an account's owner that
// someone tried to register its login again, in each language the pages speak.

export const TEMPLATES = [
  'verification.missing',
  'verification.failed',
  'verification.expiring',
  'registration.attempted',
] as const;
export type TemplateName = (typeof TEMPLATES)[number];

export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];

/**
 * What a queued message may carry: how to render it, never identity data (names, document
 * numbers, results); `.strict()` refuses any other field.
 */
export const templateParams = z
  .object({
    locale: z.enum(LOCALES).default('zh-CN'),
    /** When the current verification stops being valid (verification.expiring). */
    expires_at: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();
export type TemplateParams = z.output<typeof templateParams>;

export interface RenderedMessage {
  subject: string;
  text: string;
}

interface Slots {
  link: string;
  expires: string;
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
};

const STRINGS: Record<Locale, { strings: Strings; footer: string }> = {
  'zh-CN': { strings: zhCN, footer: '本邮件由系统自动发送，请勿直接回复。' },
  en: { strings: en, footer: 'This message was sent automatically; please do not reply to it.' },
};

export function isTemplateName(name: string): name is TemplateName {
  return (TEMPLATES as readonly string[]).includes(name);
}

/** The subject and plain text of a message; the link leads to `<issuer>/account/verify` (reminders) or `<issuer>/account`. */
export function renderTemplate(
  template: TemplateName,
  params: TemplateParams,
  options: { issuer: string; timeZone: string },
): RenderedMessage {
  const { strings, footer } = STRINGS[params.locale];
  const link = `${options.issuer.replace(/\/+$/, '')}${template === 'registration.attempted' ? '/account' : '/account/verify'}`;
  const expires = params.expires_at
    ? new Intl.DateTimeFormat(params.locale, { dateStyle: 'long', timeZone: options.timeZone }).format(
        new Date(params.expires_at),
      )
    : '';
  const message = strings[template]({ link, expires });
  return { subject: message.subject, text: `${message.text}\n\n--\n${footer}\n` };
}
