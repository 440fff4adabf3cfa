import type { Context } from 'koa';
import { negotiateLocale, type Locale } from './views.js';

const LANG_COOKIE = 'lang';

/** The request's page language; a `?lang=` switch is remembered for a year. */
export function localeOf(ctx: Context): Locale {
  const query = typeof ctx.query.lang === 'string' ? ctx.query.lang : undefined;
  const locale = negotiateLocale({ query, cookie: ctx.cookies.get(LANG_COOKIE), acceptLanguage: ctx.get('accept-language') });
  if (query && query.toLowerCase() === locale.toLowerCase()) {
    ctx.cookies.set(LANG_COOKIE, locale, { httpOnly: true, sameSite: 'lax', maxAge: 365 * 24 * 3600 * 1000, overwrite: true });
  }
  return locale;
}
