import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import nunjucks from 'nunjucks';

export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];
export const DEFAULT_LOCALE: Locale = 'zh-CN';

type Messages = Record<string, string>;

/**
 * Server-rendered pages: nunjucks with autoescaping on, one template per page under views/, and
 * every visible string from views/locales/<locale>.json through `t(key, params)`.
 */
export class Views {
  private readonly env: nunjucks.Environment;
  private readonly messages: Record<Locale, Messages>;

  constructor(dir = resolve(process.cwd(), 'views'), options: { cache?: boolean } = {}) {
    this.env = new nunjucks.Environment(new nunjucks.FileSystemLoader(dir, { noCache: options.cache === false }), {
      autoescape: true,
      throwOnUndefined: false,
    });
    this.messages = Object.fromEntries(
      LOCALES.map((locale) => [
        locale,
        JSON.parse(readFileSync(resolve(dir, 'locales', `${locale}.json`), 'utf8')) as Messages,
      ]),
    ) as Record<Locale, Messages>;
  }

  /** The message for `key`, or undefined when no locale has it. */
  lookup(locale: Locale, key: string): string | undefined {
    return this.messages[locale][key] ?? this.messages[DEFAULT_LOCALE][key];
  }

  translate(locale: Locale, key: string, params: Record<string, unknown> = {}): string {
    const template = this.lookup(locale, key) ?? key;
    return template.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? ''));
  }

  render(page: string, locale: Locale, context: Record<string, unknown> = {}): string {
    const t = (key: string, params?: Record<string, unknown>) => this.translate(locale, key, params);
    return this.env.render(`${page}.njk`, { ...context, t, locale, otherLocale: locale === 'en' ? 'zh-CN' : 'en' });
  }
}

/**
 * The page language: an explicit `?lang=` switch (remembered in a cookie), else the `lang`
 * cookie, else the best match of Accept-Language (RFC 9110 §12.5.4), else zh-CN.
 */
export function negotiateLocale(input: { query?: string; cookie?: string; acceptLanguage?: string }): Locale {
  for (const explicit of [input.query, input.cookie]) {
    const match = LOCALES.find((l) => l.toLowerCase() === explicit?.toLowerCase());
    if (match) return match;
  }
  const ranges = (input.acceptLanguage ?? '')
    .split(',')
    .map((part) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\s*$/i.exec(p)?.[1]).find(Boolean);
      return { tag: tag.trim().toLowerCase(), q: q === undefined ? 1 : Number(q) };
    })
    .filter((r) => r.tag && r.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { tag } of ranges) {
    if (tag.startsWith('zh')) return 'zh-CN';
    if (tag.startsWith('en')) return 'en';
  }
  return DEFAULT_LOCALE;
}
