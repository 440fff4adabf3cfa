import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { Context } from 'koa';
import { localeOf } from '../../src/http/locale.js';
import { DEFAULT_LOCALE, LOCALES, negotiateLocale, Views } from '../../src/http/views.js';

const VIEWS = resolve(process.cwd(), 'views');
const messages = (locale: string) =>
  JSON.parse(readFileSync(resolve(VIEWS, 'locales', `${locale}.json`), 'utf8')) as Record<string, string>;

describe('negotiateLocale', () => {
  it('defaults to zh-CN', () => {
    expect(DEFAULT_LOCALE).toBe('zh-CN');
    expect(negotiateLocale({})).toBe('zh-CN');
    expect(negotiateLocale({ acceptLanguage: '' })).toBe('zh-CN');
    expect(negotiateLocale({ acceptLanguage: 'fr-FR, de;q=0.8, *;q=0.1' })).toBe('zh-CN');
  });

  it.each([
    ['en', 'en'],
    ['en-US', 'en'],
    ['en-GB,en;q=0.9', 'en'],
    ['zh', 'zh-CN'],
    ['zh-CN', 'zh-CN'],
    ['zh-TW', 'zh-CN'],
    ['zh-Hant-HK', 'zh-CN'],
    ['zh-Hans', 'zh-CN'],
    ['ZH-cn', 'zh-CN'],
    ['EN-us', 'en'],
  ])('maps Accept-Language %j to %s', (acceptLanguage, locale) => {
    expect(negotiateLocale({ acceptLanguage })).toBe(locale);
  });

  it.each([
    ['zh;q=0.5, en;q=0.9', 'en'],
    ['en;q=0.5, zh;q=0.9', 'zh-CN'],
    ['en;q=0.8, zh-CN', 'zh-CN'], // no q means q=1
    ['zh-CN;q=0.8, en', 'en'],
    ['fr, de;q=0.9, en;q=0.1', 'en'], // skip unsupported ranges
    ['en;q=0, zh;q=0.1', 'zh-CN'], // q=0 means "not acceptable"
    ['zh;q=0, en;q=0', 'zh-CN'],
    ['en ; q=0.7 , zh ; q=0.6', 'en'], // optional whitespace
    ['en;level=1;q=0.2, zh;q=0.5', 'zh-CN'], // other parameters before q
    ['en;q=0.9, zh;q=0.9', 'en'], // ties keep header order
    ['zh;q=0.9, en;q=0.9', 'zh-CN'],
    ['en;q=0.900, zh;q=0.85', 'en'],
    ['zh-TW,zh;q=0.9,en-US;q=0.8,en;q=0.7', 'zh-CN'], // typical Chinese browser
    ['en-US,en;q=0.9,zh-CN;q=0.8,zh;q=0.7', 'en'], // typical English browser
  ])('honours q-values: %j → %s', (acceptLanguage, locale) => {
    expect(negotiateLocale({ acceptLanguage })).toBe(locale);
  });

  it('prefers ?lang= over the cookie over Accept-Language', () => {
    expect(negotiateLocale({ query: 'en', cookie: 'zh-CN', acceptLanguage: 'zh' })).toBe('en');
    expect(negotiateLocale({ query: 'zh-CN', cookie: 'en', acceptLanguage: 'en' })).toBe('zh-CN');
    expect(negotiateLocale({ cookie: 'en', acceptLanguage: 'zh' })).toBe('en');
    expect(negotiateLocale({ cookie: 'zh-CN', acceptLanguage: 'en' })).toBe('zh-CN');
  });

  it('matches ?lang= and the cookie case-insensitively', () => {
    expect(negotiateLocale({ query: 'EN', acceptLanguage: 'zh' })).toBe('en');
    expect(negotiateLocale({ cookie: 'zh-cn', acceptLanguage: 'en' })).toBe('zh-CN');
  });

  it('ignores unsupported or partial ?lang= and cookie values', () => {
    expect(negotiateLocale({ query: 'fr', cookie: 'de', acceptLanguage: 'en' })).toBe('en');
    expect(negotiateLocale({ query: 'zh', acceptLanguage: 'en' })).toBe('en');
    expect(negotiateLocale({ query: 'en-US' })).toBe('zh-CN');
    expect(negotiateLocale({ query: '', cookie: '' })).toBe('zh-CN');
  });
});

/** Just enough of a Koa context for localeOf. */
function fakeContext(request: { query?: Record<string, string | string[]>; cookie?: string; acceptLanguage?: string }) {
  const set: Array<{ name: string; value: string; options: Record<string, unknown> }> = [];
  const ctx = {
    query: request.query ?? {},
    cookies: {
      get: (name: string) => (name === 'lang' ? request.cookie : undefined),
      set: (name: string, value: string, options: Record<string, unknown>) => set.push({ name, value, options }),
    },
    get: (header: string) => (header.toLowerCase() === 'accept-language' ? (request.acceptLanguage ?? '') : ''),
  };
  return { ctx: ctx as unknown as Context, set };
}

describe('localeOf', () => {
  it('negotiates from Accept-Language without setting a cookie', () => {
    const { ctx, set } = fakeContext({ acceptLanguage: 'en-US,en;q=0.9' });
    expect(localeOf(ctx)).toBe('en');
    expect(set).toEqual([]);
  });

  it('reads the lang cookie without re-setting it', () => {
    const { ctx, set } = fakeContext({ cookie: 'en', acceptLanguage: 'zh-CN' });
    expect(localeOf(ctx)).toBe('en');
    expect(set).toEqual([]);
  });

  it('remembers a ?lang= switch in a year-long, httpOnly, lax cookie', () => {
    const { ctx, set } = fakeContext({ query: { lang: 'en' }, cookie: 'zh-CN', acceptLanguage: 'zh-CN' });
    expect(localeOf(ctx)).toBe('en');
    expect(set).toEqual([
      {
        name: 'lang',
        value: 'en',
        options: expect.objectContaining({ httpOnly: true, sameSite: 'lax', maxAge: 365 * 24 * 3600 * 1000 }),
      },
    ]);
  });

  it('does not remember an unsupported ?lang=', () => {
    const { ctx, set } = fakeContext({ query: { lang: 'fr' }, acceptLanguage: 'en' });
    expect(localeOf(ctx)).toBe('en');
    expect(set).toEqual([]);
  });

  it('ignores a repeated ?lang= parameter', () => {
    const { ctx, set } = fakeContext({ query: { lang: ['en', 'en'] }, acceptLanguage: 'zh' });
    expect(localeOf(ctx)).toBe('zh-CN');
    expect(set).toEqual([]);
  });
});

describe('locale files', () => {
  const files = readdirSync(resolve(VIEWS, 'locales')).filter((f) => f.endsWith('.json'));

  it('exist for exactly the supported locales', () => {
    expect(files.map((f) => f.replace(/\.json$/, '')).sort()).toEqual([...LOCALES].sort());
  });

  it('zh-CN.json and en.json have identical key sets', () => {
    expect(Object.keys(messages('en')).sort()).toEqual(Object.keys(messages('zh-CN')).sort());
  });

  it('have a non-empty string for every key', () => {
    for (const locale of LOCALES) {
      for (const [key, value] of Object.entries(messages(locale))) {
        expect([locale, key, typeof value === 'string' && value.trim().length > 0]).toEqual([locale, key, true]);
      }
    }
  });

  it('use the same {placeholders} in both languages', () => {
    const placeholders = (text: string) => (text.match(/\{\w+\}/g) ?? []).sort();
    const en = messages('en');
    for (const [key, zh] of Object.entries(messages('zh-CN'))) {
      expect([key, placeholders(en[key] ?? '')]).toEqual([key, placeholders(zh)]);
    }
  });

  it('define every literal key the templates translate', () => {
    const used = new Set<string>();
    // Literal keys only: t('scope.' + scope) is built at run time.
    for (const file of readdirSync(VIEWS).filter((f) => f.endsWith('.njk'))) {
      for (const match of readFileSync(resolve(VIEWS, file), 'utf8').matchAll(/\bt\(\s*['"]([\w.]+)['"]\s*[,)]/g))
        used.add(match[1]!);
    }
    expect(used.size).toBeGreaterThan(0);
    for (const locale of LOCALES) {
      const defined = messages(locale);
      expect([locale, [...used].filter((key) => !(key in defined))]).toEqual([locale, []]);
    }
  });
});

describe('Views.translate', () => {
  const views = new Views(VIEWS);

  it('picks the message for the locale and fills {placeholders}', () => {
    expect(views.translate('en', 'login.for_merchant', { merchant: 'Acme' })).toBe(
      messages('en')['login.for_merchant']!.replace('{merchant}', 'Acme'),
    );
    expect(views.translate('zh-CN', 'login.for_merchant', { merchant: 'Acme' })).toBe(
      messages('zh-CN')['login.for_merchant']!.replace('{merchant}', 'Acme'),
    );
  });

  it('falls back to the key itself when no locale has it', () => {
    expect(views.lookup('en', 'no.such.key')).toBeUndefined();
    expect(views.translate('en', 'no.such.key')).toBe('no.such.key');
  });
});
