import type { Context } from 'koa';
import { localeOf, renderPage } from '../http/locale.js';
import type { Views } from '../http/views.js';
import type { ProviderPages } from './pages.js';

/**
 * The pages oidc-provider answers on its own routes (the provider is mounted by src/app.ts): the
 * logout confirmation, the page after logout and its error page, as our templates in the
 * request's language.
 */
export function providerPages(views: Views): ProviderPages {
  return {
    logoutSource: async (ctx, form) => {
      ctx.type = 'html';
      ctx.body = renderPage(views, ctx as unknown as Context, 'logout', {
        form,
        clientName: ctx.oidc.client?.clientName,
      });
    },
    postLogoutSuccessSource: async (ctx) => {
      ctx.type = 'html';
      ctx.body = renderPage(views, ctx as unknown as Context, 'logged-out', {
        clientName: ctx.oidc.client?.clientName,
      });
    },
    renderError: async (ctx, out, error) => {
      ctx.type = 'html';
      // The OIDC error code has a message in the page's language; oidc-provider's English
      // description stays beside it as the technical detail.
      const locale = localeOf(ctx as unknown as Context);
      ctx.body = renderPage(views, ctx as unknown as Context, 'error', {
        title: out.error,
        message: views.lookup(locale, `oidc.${out.error}`) ?? views.translate(locale, 'problem.generic'),
        detail: out.error_description,
        status: ctx.status,
        expose: (error as { expose?: boolean }).expose !== false,
      });
    },
  };
}
