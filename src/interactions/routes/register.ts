// Registration inside an authorization: the form, and a new account created quietly, so the answer
// is the same whether or not the login was taken; the person then signs in to go on.
import type { Context } from 'koa';
import { PlatformError } from '../../errors.js';
import { parseBody } from '../../http/input.js';
import { wantsJson } from '../../http/errors.js';
import { localeOf } from '../../http/locale.js';
import { RateLimited } from '../../rate-limits/service.js';
import {
  credentials,
  interactionDetails,
  merchantOf,
  page,
  submittedLogin,
  type InteractionDeps,
} from './interaction.js';

/** Error codes that have their own message on the pages; others show the generic one. */
const KNOWN_ERRORS = new Set([
  'login_invalid',
  'password_too_short',
  'password_too_long',
  'password_common',
  'password_login',
  'password_context',
  'rate-limited',
]);

export function showRegistration({ provider, views }: Pick<InteractionDeps, 'provider' | 'views'>) {
  return async (ctx: Context) => {
    const found = await interactionDetails(provider, ctx, 'login');
    page(views, ctx, 'register', { merchant: merchantOf(found.client) });
  };
}

export function register({
  provider,
  accounts,
  limits,
  views,
}: Pick<InteractionDeps, 'provider' | 'accounts' | 'limits' | 'views'>) {
  return async (ctx: Context) => {
    const found = await interactionDetails(provider, ctx, 'login');
    try {
      const input = parseBody(ctx, credentials);
      await limits.countRegistration(ctx.ip);
      await accounts.registerQuietly(input, localeOf(ctx));
      // The same answer whether or not the login was taken (registerQuietly): sign in to go on.
      page(
        views,
        ctx,
        'login',
        { merchant: merchantOf(found.client), login: submittedLogin(ctx), notice: 'register.done' },
        200,
        `/interaction/${ctx.params.uid}`,
      );
    } catch (err) {
      if (!(err instanceof PlatformError) || ![400, 429].includes(err.status) || wantsJson(ctx)) throw err;
      if (err instanceof RateLimited) ctx.set('Retry-After', String(err.retryAfter));
      const codes = err.code === 'invalid-input' ? (err.extra.errors ?? []).map((e) => e.code) : [err.code];
      const messages = [...new Set(codes.map((code) => `error.${KNOWN_ERRORS.has(code) ? code : 'invalid_input'}`))];
      page(
        views,
        ctx,
        'register',
        { merchant: merchantOf(found.client), login: submittedLogin(ctx), errors: messages },
        err.status,
        `/interaction/${ctx.params.uid}/register`,
      );
    }
  };
}
