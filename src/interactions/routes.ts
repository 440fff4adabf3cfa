import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type InteractionResults } from 'oidc-provider';
import { z } from 'zod';
import type { AccountService } from '../accounts/service.js';
import { showVerifyForm, submitVerifyForm } from '../account/verify-form.js';
import type { ConsentMerchant, GrantService } from '../grants/service.js';
import { requiredMethod, type VerificationService } from '../identity/service.js';
import { PLATFORM_CLIENT_ID, securityLevelOf } from '../clients/service.js';
import { PlatformError } from '../errors.js';
import { parseBody, text } from '../http/input.js';
import { wantsJson } from '../http/errors.js';
import { renderPage } from '../http/locale.js';
import type { Views } from '../http/views.js';
import { grantConsent } from './consent.js';

const credentials = z.object({ login: text(254), password: text(1024) });

/** Error codes that have their own message on the pages; others show the generic one. */
const KNOWN_ERRORS = new Set(['login_invalid', 'password_too_short', 'password_too_long', 'login-taken']);

/** What the person typed as login, to refill the form (never the password). */
function submittedLogin(ctx: Context): string {
  const login = (ctx.request as { body?: { login?: unknown } }).body?.login;
  return typeof login === 'string' ? login.slice(0, 254) : '';
}

export interface InteractionDeps {
  provider: Provider;
  accounts: AccountService;
  grants: GrantService;
  verifications: VerificationService;
  views: Views;
  maxImageBytes: number;
}

/**
 * Sign-in, registration and consent pages for oidc-provider's interactions (its login and consent
 * prompts). Each flow ends by handing a result back to the provider, which resumes the
 * authorization request (oidc-provider README: "interactions").
 */
export function interactionRoutes({ provider, accounts, grants, verifications, views, maxImageBytes }: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid' });

  /** A page of this interaction; `getPath` is its GET address when it answers a form post. */
  const page = (ctx: Context, name: string, context: Record<string, unknown>, status = 200, getPath?: string) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = renderPage(views, ctx, name, { uid: ctx.params.uid, ...context }, getPath);
  };

  const finish = async (ctx: Context, result: InteractionResults) => {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    ctx.status = 303;
    ctx.redirect(returnTo);
  };

  /** The interaction behind this uid, checked to be at the prompt the page handles. */
  const details = async (ctx: Context, prompt?: 'login' | 'consent') => {
    const found = await provider.interactionDetails(ctx.req, ctx.res);
    if (found.uid !== ctx.params.uid) throw new errors.SessionNotFound('interaction mismatch');
    if (prompt && found.prompt.name !== prompt) {
      throw new PlatformError('wrong-step', 400, 'This step of the sign-in is already done or not yet due.');
    }
    const client = await provider.Client.find(found.params.client_id as string);
    return { ...found, client };
  };

  const merchantOf = (client: Awaited<ReturnType<typeof details>>['client']) => ({
    name: client?.clientName ?? client?.clientId,
    category: (client as unknown as { category?: string } | undefined)?.category,
  });

  /** The merchant as the grant levels see it: id, category, the levels it is registered for. */
  const consentMerchantOf = (client: NonNullable<Awaited<ReturnType<typeof details>>['client']>): ConsentMerchant => {
    const extra = client as unknown as { category?: string; grant_levels?: string[] };
    return { clientId: client.clientId, category: extra.category ?? 'general', levels: extra.grant_levels ?? [] };
  };

  router.get('/', async (ctx) => {
    const found = await details(ctx);
    const merchant = merchantOf(found.client);
    if (found.prompt.name === 'login') return page(ctx, 'login', { merchant, login: found.lastSubmission?.login });
    // The platform's own account pages are first-party: signing in to them asks no consent.
    if (found.prompt.name === 'consent' && found.params.client_id === PLATFORM_CLIENT_ID) {
      return finish(ctx, await grantConsent(provider, found));
    }
    if (found.prompt.name === 'consent') {
      const scopes = [...new Set(String(found.params.scope ?? '').split(' ').filter(Boolean))];
      const consentMerchant = consentMerchantOf(found.client!);
      const levels = grants.offeredLevels(scopes, consentMerchant);
      // A level needs a verified person, as strongly as this merchant's security level asks:
      // verify first, then come back to this same authorization request.
      if (levels.length && !(await verifications.resultOfAccount(found.session!.accountId, requiredMethod(securityLevelOf(found.client!))))) {
        ctx.status = 303;
        return ctx.redirect(`/interaction/${ctx.params.uid}/verify`);
      }
      const selected = await grants.preselect(found.session!.accountId, consentMerchant, levels);
      return page(ctx, 'consent', { merchant, scopes: scopes.filter((s) => !s.startsWith('realname')), levels, selected });
    }
    throw new PlatformError('unknown-prompt', 400, `Unsupported prompt ${found.prompt.name}.`);
  });

  router.post('/login', async (ctx) => {
    const found = await details(ctx, 'login');
    try {
      const account = await accounts.authenticate(parseBody(ctx, credentials));
      await finish(ctx, { login: { accountId: account.id } });
    } catch (err) {
      if (!(err instanceof PlatformError) || (err.status !== 400 && err.status !== 401) || wantsJson(ctx)) throw err;
      const error = err.status === 401 ? 'error.invalid_credentials' : 'error.invalid_input';
      page(ctx, 'login', { merchant: merchantOf(found.client), login: submittedLogin(ctx), error }, err.status, `/interaction/${ctx.params.uid}`);
    }
  });

  router.get('/register', async (ctx) => {
    const found = await details(ctx, 'login');
    page(ctx, 'register', { merchant: merchantOf(found.client) });
  });

  router.post('/register', async (ctx) => {
    const found = await details(ctx, 'login');
    try {
      const account = await accounts.register(parseBody(ctx, credentials));
      await finish(ctx, { login: { accountId: account.id } });
    } catch (err) {
      if (!(err instanceof PlatformError) || (err.status !== 400 && err.status !== 409) || wantsJson(ctx)) throw err;
      const codes = err.code === 'invalid-input' ? (err.extra.errors ?? []).map((e) => e.code) : [err.code];
      const messages = [...new Set(codes.map((code) => `error.${KNOWN_ERRORS.has(code) ? code : 'invalid_input'}`))];
      page(ctx, 'register', { merchant: merchantOf(found.client), login: submittedLogin(ctx), errors: messages }, err.status, `/interaction/${ctx.params.uid}/register`);
    }
  });

  const verifyForm = { views, verifications, maxImageBytes };
  const verifyPlace = (uid: string, found: Awaited<ReturnType<typeof details>>) => ({
    path: `/interaction/${uid}/verify`,
    next: `/interaction/${uid}`,
    merchant: merchantOf(found.client).name,
  });
  router.get('/verify', async (ctx) => {
    const found = await details(ctx, 'consent');
    await showVerifyForm(ctx, verifyForm, found.session!.accountId, verifyPlace(ctx.params.uid!, found));
  });
  router.post('/verify', async (ctx) => {
    const found = await details(ctx, 'consent');
    await submitVerifyForm(ctx, verifyForm, found.session!.accountId, verifyPlace(ctx.params.uid!, found));
  });

  router.post('/confirm', async (ctx) => {
    const found = await details(ctx, 'consent');
    const { level } = parseBody(ctx, z.object({ level: text(20).optional() }));
    const { result, credentials } = await grants.consent(provider, found, found.session!.accountId, consentMerchantOf(found.client!), level);
    if (!credentials) return finish(ctx, result);
    // Level 2: the password is shown this once, before the person goes on to the merchant.
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    ctx.set('Cache-Control', 'no-store');
    page(ctx, 'credentials', { merchant: merchantOf(found.client), credentials, returnTo });
  });

  router.post('/abort', async (ctx) => {
    await details(ctx);
    await finish(ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' });
  });

  return router;
}
