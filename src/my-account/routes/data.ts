// "Your data" on the account pages (docs/product.md#your-data): download everything the platform
// holds about you as JSON, or read the same in a page; close the account. Each needs a recent
// sign-in, and each is audited.
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import type { AccountService } from '../../accounts/service.js';
import type { AccountClosure } from '../../data-rights/closure.js';
import type { PersonalData } from '../../data-rights/service.js';
import { requestOrigin } from '../../http/sessions.js';
import { parseBody } from '../../http/input.js';
import { renderPage } from '../../http/locale.js';
import type { Views } from '../../http/views.js';
import { reauthAddress, requireRecentSignIn, signedInRecently } from './recent-sign-in.js';

const PAGE = '/account/data';
const CLOSE_PAGE = '/account/close';
const exportChoice = z.object({ format: z.enum(['json', 'html']) });
/** The box the person ticks to say they understood what closing means. */
const closeConfirmation = z.object({ understood: z.literal('yes') });

export interface DataPageDeps {
  views: Views;
  personalData: PersonalData;
  closure: AccountClosure;
  accounts: AccountService;
  /** Seconds after a sign-in during which the data may be exported (`passkeys.recentSignIn`). */
  recentSignIn: number;
  /** A merchant's name and levels, for the grants in the export. */
  merchantOf: (clientId: string) => Promise<{ name: string; levels: string[] } | undefined>;
}

/** Adds the data page's routes to the account router, each behind `signedIn`. */
export function dataRoutes(router: Router, signedIn: Middleware, deps: DataPageDeps): void {
  const { views, personalData } = deps;
  const recent = requireRecentSignIn(deps.recentSignIn, PAGE, 'Sign in again to export your data.');

  router.get('/data', signedIn, (ctx: Context) => {
    ctx.type = 'html';
    ctx.body = renderPage(
      views,
      ctx,
      'my-data',
      { recent: signedInRecently(ctx, deps.recentSignIn), reauth: reauthAddress(PAGE) },
      PAGE,
    );
  });

  router.post('/data/export', signedIn, recent, async (ctx: Context) => {
    const { format } = parseBody(ctx, exportChoice);
    const data = await personalData.export(ctx.state.accountId as string, format, deps.merchantOf);
    if (format === 'json') {
      ctx.type = 'application/json';
      ctx.set('Content-Disposition', `attachment; filename="realname-data-${data.exported_at.slice(0, 10)}.json"`);
      ctx.body = JSON.stringify(data, null, 2);
      return;
    }
    ctx.type = 'html';
    ctx.body = renderPage(views, ctx, 'my-data-view', { data }, PAGE);
  });

  const recentToClose = requireRecentSignIn(deps.recentSignIn, CLOSE_PAGE, 'Sign in again to close your account.');

  router.get('/close', signedIn, async (ctx: Context) => {
    const account = await deps.accounts.find(ctx.state.accountId as string);
    ctx.type = 'html';
    ctx.body = renderPage(
      views,
      ctx,
      'close-account',
      {
        recent: signedInRecently(ctx, deps.recentSignIn),
        reauth: reauthAddress(CLOSE_PAGE),
        closingAt: account?.closingAt,
      },
      CLOSE_PAGE,
    );
  });

  router.post('/close', signedIn, recentToClose, async (ctx: Context) => {
    parseBody(ctx, closeConfirmation);
    const accountId = ctx.state.accountId as string;
    const result = await deps.closure.request(
      accountId,
      ctx.state.sessionUid as string | undefined,
      requestOrigin(ctx),
    );
    ctx.type = 'html';
    ctx.body = renderPage(
      views,
      ctx,
      'account-closed',
      result.status === 'closed'
        ? { closed: true, merchants: result.merchants.length }
        : { closingAt: result.closingAt, merchants: result.merchants.length },
      '/',
    );
  });

  router.post('/close/cancel', signedIn, async (ctx: Context) => {
    await deps.closure.cancel(ctx.state.accountId as string);
    ctx.status = 303;
    ctx.redirect('/account?kept=1');
  });
}
