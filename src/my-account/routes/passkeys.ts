// The person's passkeys on their account page: add (through public/passkeys.js), rename, remove,
// and the choice of a passkey after the password at every sign-in. Adding, removing and that
// choice need a recent sign-in: a session left open on a shared computer must not be enough to
// plant a passkey of someone else's or to take away the second factor.
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import type { AccountService } from '../../accounts/service.js';
import { PlatformError } from '../../errors.js';
import { wantsJson } from '../../http/errors.js';
import { parseBody } from '../../http/input.js';
import { renderPage } from '../../http/locale.js';
import type { Views } from '../../http/views.js';
import { newPasskey, passkeyName } from '../../passkeys/responses.js';
import type { PasskeyService } from '../../passkeys/service.js';
import { parseInput, text } from '../../validation.js';
import { requestOrigin } from '../../http/sessions.js';
import { reauthAddress, requireRecentSignIn, signedInRecently } from './recent-sign-in.js';

export interface PasskeyPageDeps {
  views: Views;
  accounts: AccountService;
  passkeys: PasskeyService;
  /** Seconds after a sign-in during which the passkeys may be changed. */
  recentSignIn: number;
  /** The account pages' guard: sets `ctx.state.accountId` and `ctx.state.authTime` (epoch seconds). */
  signedIn: Middleware;
}

const PAGE = '/account/passkeys';
const REAUTH = reauthAddress(PAGE);

const renaming = z.object({ name: passkeyName });
const secondFactorChoice = z.object({ second_factor: z.enum(['on', 'off']) });
const passkeyId = text(1400).regex(/^[A-Za-z0-9_-]+$/);

/** Notices the page shows after a change (`?done=`). */
const NOTICES = new Set(['added', 'renamed', 'removed', 'removed_last', 'second_factor_on', 'second_factor_off']);

/** The routes, relative to the account router's `/account` prefix. */
export function passkeyRoutes(deps: PasskeyPageDeps): Router {
  const { views, passkeys, signedIn } = deps;
  const router = new Router();

  const isRecent = (ctx: Context) => signedInRecently(ctx, deps.recentSignIn);
  /** A change that needs a recent sign-in: otherwise sign in again (a script is told where). */
  const recentSignIn = requireRecentSignIn(deps.recentSignIn, PAGE, 'Sign in again to change your passkeys.');

  const done = (ctx: Context, notice: string) => {
    ctx.status = 303;
    ctx.redirect(`${PAGE}?done=${notice}`);
  };

  const showPage = async (ctx: Context, status = 200, error?: string) => {
    const accountId = ctx.state.accountId as string;
    const [list, secondFactor] = await Promise.all([
      passkeys.list(accountId),
      passkeys.secondFactorRequired(accountId),
    ]);
    const notice = typeof ctx.query.done === 'string' && NOTICES.has(ctx.query.done) ? ctx.query.done : undefined;
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = renderPage(
      views,
      ctx,
      'passkeys',
      { passkeys: list, secondFactor, recent: isRecent(ctx), reauth: REAUTH, notice, error },
      PAGE,
    );
  };

  router.get('/passkeys', signedIn, (ctx) => showPage(ctx));

  router.post('/passkeys/options', signedIn, recentSignIn, async (ctx) => {
    const account = await deps.accounts.find(ctx.state.accountId);
    if (!account) throw new PlatformError('session-expired', 400, 'This account no longer exists.');
    ctx.body = await passkeys.registrationOptions({ id: account.id, login: account.login });
  });

  router.post('/passkeys', signedIn, recentSignIn, async (ctx) => {
    // Without the script the form has no passkey to send: the page again, saying what it needs.
    if (!wantsJson(ctx)) return showPage(ctx, 400, 'passkey.error.needs_script');
    const { name, response } = parseBody(ctx, newPasskey);
    await passkeys.register(ctx.state.accountId, name, response, requestOrigin(ctx));
    ctx.body = { redirect: `${PAGE}?done=added` };
  });

  router.post('/passkeys/second-factor', signedIn, recentSignIn, async (ctx) => {
    const choice = parseBody(ctx, secondFactorChoice).second_factor;
    await passkeys.setSecondFactor(ctx.state.accountId, choice === 'on', requestOrigin(ctx));
    done(ctx, `second_factor_${choice}`);
  });

  router.post('/passkeys/:id/name', signedIn, async (ctx) => {
    const id = parseInput(ctx.params.id, passkeyId);
    const parsed = renaming.safeParse((ctx.request as { body?: unknown }).body);
    if (!parsed.success) return showPage(ctx, 400, 'passkey.error.name');
    await passkeys.rename(ctx.state.accountId, id, parsed.data.name, requestOrigin(ctx));
    done(ctx, 'renamed');
  });

  router.post('/passkeys/:id/remove', signedIn, recentSignIn, async (ctx) => {
    const id = parseInput(ctx.params.id, passkeyId);
    const { secondFactorTurnedOff } = await passkeys.remove(ctx.state.accountId, id, requestOrigin(ctx));
    done(ctx, secondFactorTurnedOff ? 'removed_last' : 'removed');
  });

  return router;
}
