import type { Context } from 'koa';
import { csrfToken } from './csrf.js';
import { negotiateLocale, type Locale, type Views } from './views.js';

const LANG_COOKIE = 'lang';

/** The request's page language; a `?lang=` switch is remembered for a year. */
export function localeOf(ctx: Context): Locale {
  const query = typeof ctx.query.lang === 'string' ? ctx.query.lang : undefined;
  const locale = negotiateLocale({
    query,
    cookie: ctx.cookies.get(LANG_COOKIE),
    acceptLanguage: ctx.get('accept-language'),
  });
  if (query && query.toLowerCase() === locale.toLowerCase()) {
    ctx.cookies.set(LANG_COOKIE, locale, {
      httpOnly: true,
      sameSite: 'lax',
      maxAge: 365 * 24 * 3600 * 1000,
      overwrite: true,
    });
  }
  return locale;
}

/**
 * Where the language switch leads: this page again for a GET (its query kept), else `getPath`,
 * the page a form post came from (a POST's URL often has no GET route).
 */
export function switchHref(ctx: Context, to: Locale, getPath?: string): string {
  const again = ctx.method === 'GET' || ctx.method === 'HEAD';
  const params = new URLSearchParams(again ? ctx.querystring : '');
  params.set('lang', to);
  return `${getPath ?? (again ? ctx.path : '/')}?${params}`;
}

/**
 * Renders a page in the request's language, with the language switch pointing at `getPath`.
 * Every POST form writes `<input type="hidden" name="_csrf" value="{{ csrf(action) }}">`.
 */
export function renderPage(
  views: Views,
  ctx: Context,
  page: string,
  context: Record<string, unknown> = {},
  getPath?: string,
): string {
  const locale = localeOf(ctx);
  const csrf = (action: string) => csrfToken(ctx, action);
  return views.render(page, locale, {
    ...context,
    csrf,
    switchHref: switchHref(ctx, locale === 'en' ? 'zh-CN' : 'en', getPath),
  });
}
