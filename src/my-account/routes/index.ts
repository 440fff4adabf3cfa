import { randomBytes, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { PLATFORM_CLIENT_ID, type ClientService } from '../../clients/service.js';
import type { GrantService } from '../../grants/service.js';
import { PlatformError } from '../../errors.js';
import { parseBody } from '../../http/input.js';
import { text } from '../../validation.js';
import { renderPage } from '../../http/locale.js';
import type { Views } from '../../http/views.js';
import type { VerificationService } from '../../identity/service.js';
import type { RateLimits } from '../../rate-limits/service.js';
import { showVerifyForm, submitVerifyForm } from '../../identity/routes/verify-form.js';
import type { AccountService } from '../../accounts/service.js';
import { ACR } from '../../oidc/policy.js';
import { sessionLifetime } from '../../oidc/sessions.js';
import type { PasskeyService } from '../../passkeys/service.js';
import type { AccountSessions, SecurityLog } from '../../security/service.js';
import type { AccountClosure } from '../../data-rights/closure.js';
import type { PersonalData } from '../../data-rights/service.js';
import { dataRoutes } from './data.js';
import { passkeyRoutes } from './passkeys.js';
import { securityRoutes } from './security.js';

const STATE_COOKIE = 'rn_account_state';
/** `acr=` on /account/login: the class the sign-in must reach (src/oidc/policy.ts). */
const ACR_SHORTHANDS: Record<string, string> = {
  passkey: ACR.phishingResistant,
  person_match: ACR.personMatch,
};
const levelChoice = z.object({ level: text(20) });

export interface AccountDeps {
  issuer: string;
  provider: Provider;
  views: Views;
  verifications: VerificationService;
  grants: GrantService;
  clients: ClientService;
  limits: RateLimits;
  accounts: AccountService;
  securityLog: SecurityLog;
  sessions: AccountSessions;
  /** The session lifetimes (`ttl.session` idle, `ttl.sessionAbsolute`), in seconds. */
  sessionTtl: { session: number; sessionAbsolute: number };
  maxImageBytes: number;
  passkeys: PasskeyService;
  /** Seconds after a sign-in during which passkeys may be changed and data exported (`passkeys.recentSignIn`). */
  recentSignIn: number;
  personalData: PersonalData;
  closure: AccountClosure;
}

/**
 * A person's own pages: verification status and the guided verification form. The person signs
 * in through the platform's OpenID Provider like at any merchant (OAuth 2.0 Multiple Response
 * Types `response_type=none`: the first-party client needs the session, not a token), so there is
 * one session, one sign-in page and one place that authenticates.
 */
export function accountRoutes(deps: AccountDeps): Router {
  const { provider, views, verifications } = deps;
  const router = new Router({ prefix: '/account' });
  /** A merchant holding a grant, as the grant list and the lowering need it. */
  const merchantOf = async (clientId: string) => {
    const client = await deps.clients.find(clientId);
    return client && { clientId, name: client.name, category: client.category, levels: client.grant_levels };
  };

  const signInAgain = (ctx: Context) => {
    ctx.status = 303;
    ctx.redirect(`/account/login?return=${encodeURIComponent(ctx.path)}`);
  };

  /**
   * The signed-in account (and its session's uid), or a redirect to sign in and come back. These
   * pages read the session without saving it, so its idle expiry does not move: a page opened when
   * half of it is used goes once through the authorization endpoint, which saves the session with
   * a new expiry (never past its absolute lifetime) and comes straight back.
   */
  const signedIn = async (ctx: Context, next: Next) => {
    const session = await provider.Session.get(ctx as never);
    if (!session.accountId) return signInAgain(ctx);
    // A session of an account disabled since (disabling ends them, but one may have been made
    // meanwhile) is ended here: the sign-in page then says the account is disabled.
    if ((await deps.accounts.find(session.accountId))?.disabledAt) {
      await session.destroy();
      return signInAgain(ctx);
    }
    const now = Math.floor(Date.now() / 1000);
    const left = (session.exp ?? now) - now;
    const renewed = sessionLifetime(deps.sessionTtl, session.loginTs, now);
    if (ctx.method === 'GET' && left < deps.sessionTtl.session / 2 && renewed > left + 60) return signInAgain(ctx);
    ctx.state.accountId = session.accountId;
    ctx.state.sessionUid = session.uid;
    ctx.state.authTime = session.authTime();
    return next();
  };

  router.get('/login', (ctx) => {
    // Back to an account page, or to the operator console (src/admin/routes/console.ts), which
    // signs in here too.
    const returnTo =
      typeof ctx.query.return === 'string' && /^\/(account|admin)(\/[a-z-]*)?$/.test(ctx.query.return)
        ? ctx.query.return
        : '/account';
    // The console asks for a strong sign-in: a passkey, or a fresh person-document match.
    const asked = ctx.query.acr;
    const acr = typeof asked === 'string' && Object.hasOwn(ACR_SHORTHANDS, asked) ? ACR_SHORTHANDS[asked] : undefined;
    const state = randomBytes(16).toString('base64url');
    ctx.cookies.set(STATE_COOKIE, `${state}.${returnTo}`, {
      httpOnly: true,
      sameSite: 'lax',
      signed: true,
      maxAge: 15 * 60 * 1000,
      overwrite: true,
    });
    const url = new URL(`${deps.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: PLATFORM_CLIENT_ID,
      response_type: 'none',
      scope: 'openid',
      redirect_uri: `${deps.issuer}/account/callback`,
      state,
      // A change that needs a recent sign-in asks for one (OIDC Core §3.1.2.1 `prompt=login`).
      ...(ctx.query.reauth === '1' ? { prompt: 'login' } : {}),
      ...(acr ? { acr_values: acr } : {}),
    }).toString();
    ctx.status = 303;
    ctx.redirect(url.toString());
  });

  router.get('/callback', (ctx) => {
    const stored = ctx.cookies.get(STATE_COOKIE, { signed: true }) ?? '';
    ctx.cookies.set(STATE_COOKIE, null, { signed: true });
    const [state = '', returnTo = '/account'] = stored.split(/\.(.*)/s);
    const given = typeof ctx.query.state === 'string' ? ctx.query.state : '';
    if (!state || given.length !== state.length || !timingSafeEqual(Buffer.from(given), Buffer.from(state))) {
      throw new PlatformError('session-expired', 400, 'This sign-in has expired or was opened in another browser.');
    }
    if (typeof ctx.query.error === 'string')
      throw new PlatformError('sign-in-cancelled', 400, 'The sign-in was cancelled.');
    ctx.status = 303;
    ctx.redirect(returnTo);
  });

  router.get('/', signedIn, async (ctx) => {
    const status = await verifications.statusOf(ctx.state.accountId);
    const account = await deps.accounts.find(ctx.state.accountId);
    const grants = (await deps.grants.grantsOf(ctx.state.accountId, merchantOf)).filter(
      (g) => g.clientId !== PLATFORM_CLIENT_ID,
    );
    ctx.type = 'html';
    ctx.body = renderPage(views, ctx, 'account', {
      status,
      grants,
      justVerified: ctx.query.verified === '1',
      revoked: ctx.query.revoked === '1',
      lowered: ctx.query.lowered === '1',
      closingAt: account?.closingAt,
      kept: ctx.query.kept === '1',
    });
  });

  // Lowering a level takes effect at once, as at a consent: the tokens of the level before stop
  // working. Lowered to level 2, the new password is shown this once.
  router.post('/grants/:grantId/level', signedIn, async (ctx) => {
    const { level } = parseBody(ctx, levelChoice);
    const { credentials, merchant } = await deps.grants.lower(
      provider,
      ctx.state.accountId,
      ctx.params.grantId!,
      level,
      merchantOf,
    );
    if (!credentials) {
      ctx.status = 303;
      return ctx.redirect('/account?lowered=1');
    }
    ctx.set('Cache-Control', 'no-store');
    ctx.type = 'html';
    ctx.body = renderPage(views, ctx, 'credentials', {
      merchant: { name: merchant },
      credentials,
      returnTo: '/account?lowered=1',
    });
  });

  // Revoking a grant takes back the merchant's access at once: the grant and all its tokens.
  router.post('/grants/:grantId/revoke', signedIn, async (ctx) => {
    await deps.grants.revoke(ctx.state.accountId, ctx.params.grantId!);
    ctx.status = 303;
    ctx.redirect('/account?revoked=1');
  });

  const form = { views, verifications, limits: deps.limits, maxImageBytes: deps.maxImageBytes };
  const place = { path: '/account/verify', next: '/account?verified=1' };
  router.get('/verify', signedIn, (ctx) => showVerifyForm(ctx, form, ctx.state.accountId, place));
  router.post('/verify', signedIn, (ctx) => submitVerifyForm(ctx, form, ctx.state.accountId, place));

  securityRoutes(router, signedIn, deps);
  dataRoutes(router, signedIn, {
    views,
    personalData: deps.personalData,
    closure: deps.closure,
    accounts: deps.accounts,
    recentSignIn: deps.recentSignIn,
    merchantOf,
  });
  const passkeys = passkeyRoutes({
    views,
    accounts: deps.accounts,
    passkeys: deps.passkeys,
    recentSignIn: deps.recentSignIn,
    signedIn,
  });
  router.use(passkeys.routes(), passkeys.allowedMethods());

  return router;
}
