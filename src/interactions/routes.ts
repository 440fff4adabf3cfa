import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type InteractionResults } from 'oidc-provider';
import { z } from 'zod';
import type { AccountService } from '../accounts/service.js';
import { showVerifyForm, submitVerifyForm } from '../identity/routes/verify-form.js';
import { DossierLocked, type DossierService } from '../grants/dossier.js';
import { grantAllMissing } from '../grants/oidc-grant.js';
import type { ConsentMerchant, GrantService, Level } from '../grants/service.js';
import { requiredMethod, type VerificationService } from '../identity/service.js';
import { PLATFORM_CLIENT_ID, securityLevelOf } from '../clients/service.js';
import { PlatformError } from '../errors.js';
import { parseBody } from '../http/input.js';
import { text } from '../validation.js';
import { CSRF_FIELD, verifyCsrfToken } from '../http/csrf.js';
import { parseMultipart } from '../http/multipart.js';
import { RateLimited, type RateLimits } from '../rate-limits/service.js';
import { sniffImageType } from '../identity/images.js';
import type { Image } from '../identity/providers/types.js';
import { ACR, AMR, DOSSIER_RECONFIRMATION, STEP_UP } from '../oidc/policy.js';
import { wantsJson } from '../http/errors.js';
import { localeOf, renderPage } from '../http/locale.js';
import type { Views } from '../http/views.js';

const credentials = z.object({ login: text(254), password: text(1024) });
const consentChoice = z.object({ level: text(20).optional(), partial: text(20).optional() });

/** Error codes that have their own message on the pages; others show the generic one. */
const KNOWN_ERRORS = new Set([
  'login_invalid',
  'password_too_short',
  'password_too_long',
  'password_common',
  'rate-limited',
]);

/** What the person typed as login, to refill the form (never the password). */
function submittedLogin(ctx: Context): string {
  const login = (ctx.request as { body?: { login?: unknown } }).body?.login;
  return typeof login === 'string' ? login.slice(0, 254) : '';
}

export interface InteractionDeps {
  provider: Provider;
  accounts: AccountService;
  grants: GrantService;
  dossier: DossierService;
  verifications: VerificationService;
  views: Views;
  limits: RateLimits;
  maxImageBytes: number;
}

/** The login result of a password sign-in (OIDC Core `acr`, RFC 8176 `amr`). */
const passwordLogin = (accountId: string): InteractionResults => ({
  login: { accountId, acr: ACR.password, amr: [...AMR.password] },
});

/** ACRs a request can demand that this platform can produce. */
const SUPPORTED_ACRS: string[] = Object.values(ACR);

/**
 * Sign-in, registration and consent pages for oidc-provider's interactions (its login and consent
 * prompts). Each flow ends by handing a result back to the provider, which resumes the
 * authorization request (oidc-provider README: "interactions").
 */
export function interactionRoutes({
  provider,
  accounts,
  grants,
  dossier,
  verifications,
  views,
  limits,
  maxImageBytes,
}: InteractionDeps): Router {
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

  /**
   * The consent page: the merchant, what it asks, the levels to choose from (pre-selected), the
   * level the merchant holds now if any, and for the dossier the partial-knowledge question. The
   * person may choose any offered level at every consent, higher or lower than before.
   */
  const showConsent = async (
    ctx: Context,
    found: Awaited<ReturnType<typeof details>>,
    extra: { status?: number; error?: string; level?: string; lockedUntil?: Date } = {},
  ) => {
    const scopes = [
      ...new Set(
        String(found.params.scope ?? '')
          .split(' ')
          .filter(Boolean),
      ),
    ];
    const consentMerchant = consentMerchantOf(found.client!);
    const accountId = found.session!.accountId;
    const current = await grants.currentLevel(provider, found);
    const reconfirm = current === 'dossier' && found.prompt.reasons.includes(DOSSIER_RECONFIRMATION);
    const levels: Level[] = grants.offeredLevels(scopes, consentMerchant);
    const lockedUntil = levels.includes('dossier')
      ? (extra.lockedUntil ?? (await dossier.lockedUntil(accountId)))
      : undefined;
    const open = lockedUntil ? levels.filter((level) => level !== 'dossier') : levels;
    const remembered = extra.level ?? current ?? (await grants.preselect(accountId, consentMerchant, levels));
    const selected = remembered && open.includes(remembered as Level) ? remembered : open[0];
    page(
      ctx,
      'consent',
      {
        merchant: merchantOf(found.client),
        scopes: scopes.filter((s) => !s.startsWith('realname')),
        levels,
        selected,
        current,
        reconfirm,
        lockedUntil,
        error: extra.error,
      },
      extra.status,
      `/interaction/${ctx.params.uid}`,
    );
  };

  router.get('/', async (ctx) => {
    const found = await details(ctx);
    const merchant = merchantOf(found.client);
    if (found.prompt.name === 'login') {
      // An `acr` the request insists on (an essential claim) that the platform cannot produce
      // fails the request with the OIDC error instead of pretending (OpenID Connect Core §5.5.1.1).
      const acr = (found.prompt.details as { acr?: { value?: string; values?: string[] } }).acr;
      const demanded = acr ? [...(acr.values ?? []), ...(acr.value ? [acr.value] : [])] : [];
      if (demanded.length && !demanded.some((value) => SUPPORTED_ACRS.includes(value))) {
        return finish(ctx, {
          error: 'unmet_authentication_requirements',
          error_description: `none of the requested acr values is supported (${SUPPORTED_ACRS.join(' ')})`,
        });
      }
      // Signed in already, but this merchant or request needs a fresh person-document match.
      if (found.session?.accountId && found.prompt.reasons.includes(STEP_UP)) {
        ctx.status = 303;
        return ctx.redirect(`/interaction/${ctx.params.uid}/step-up`);
      }
      return page(ctx, 'login', { merchant, login: found.lastSubmission?.login });
    }
    // The platform's own account pages are first-party: signing in to them asks no consent.
    if (found.prompt.name === 'consent' && found.params.client_id === PLATFORM_CLIENT_ID) {
      return finish(ctx, await grantAllMissing(provider, found));
    }
    if (found.prompt.name === 'consent') {
      const scopes = [
        ...new Set(
          String(found.params.scope ?? '')
            .split(' ')
            .filter(Boolean),
        ),
      ];
      const levels = grants.offeredLevels(scopes, consentMerchantOf(found.client!));
      // A level needs a verified person, as strongly as this merchant's security level asks:
      // verify first, then come back to this same authorization request.
      if (
        levels.length &&
        !(await verifications.resultOfAccount(found.session!.accountId, requiredMethod(securityLevelOf(found.client!))))
      ) {
        ctx.status = 303;
        return ctx.redirect(`/interaction/${ctx.params.uid}/verify`);
      }
      return showConsent(ctx, found);
    }
    throw new PlatformError('unknown-prompt', 400, `Unsupported prompt ${found.prompt.name}.`);
  });

  router.post('/login', async (ctx) => {
    const found = await details(ctx, 'login');
    try {
      const input = parseBody(ctx, credentials);
      const account = await limits.signIn({ ip: ctx.ip, login: input.login }, () => accounts.authenticate(input));
      await finish(ctx, passwordLogin(account.id));
    } catch (err) {
      if (!(err instanceof PlatformError) || ![400, 401, 429].includes(err.status) || wantsJson(ctx)) throw err;
      if (err instanceof RateLimited) ctx.set('Retry-After', String(err.retryAfter));
      const error =
        err instanceof RateLimited
          ? 'error.sign_in_locked'
          : err.status === 401
            ? 'error.invalid_credentials'
            : 'error.invalid_input';
      const errorParams = err instanceof RateLimited ? { minutes: Math.ceil(err.retryAfter / 60) } : undefined;
      page(
        ctx,
        'login',
        { merchant: merchantOf(found.client), login: submittedLogin(ctx), error, errorParams },
        err.status,
        `/interaction/${ctx.params.uid}`,
      );
    }
  });

  router.get('/register', async (ctx) => {
    const found = await details(ctx, 'login');
    page(ctx, 'register', { merchant: merchantOf(found.client) });
  });

  router.post('/register', async (ctx) => {
    const found = await details(ctx, 'login');
    try {
      const input = parseBody(ctx, credentials);
      await limits.countRegistration(ctx.ip);
      await accounts.registerQuietly(input, localeOf(ctx));
      // The same answer whether or not the login was taken (registerQuietly): sign in to go on.
      page(
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
        ctx,
        'register',
        { merchant: merchantOf(found.client), login: submittedLogin(ctx), errors: messages },
        err.status,
        `/interaction/${ctx.params.uid}/register`,
      );
    }
  });

  const verifyForm = { views, verifications, limits, maxImageBytes };
  const verifyPlace = (uid: string, found: Awaited<ReturnType<typeof details>>) => ({
    path: `/interaction/${uid}/verify`,
    next: `/interaction/${uid}`,
    merchant: merchantOf(found.client).name,
  });
  /** The signed-in account of an interaction (verification and step-up come after sign-in). */
  const signedIn = async (ctx: Context) => {
    const found = await details(ctx);
    if (!found.session?.accountId) throw new PlatformError('wrong-step', 400, 'Sign in first.');
    return { found, accountId: found.session.accountId };
  };
  router.get('/verify', async (ctx) => {
    const { found, accountId } = await signedIn(ctx);
    await showVerifyForm(ctx, verifyForm, accountId, verifyPlace(ctx.params.uid!, found));
  });
  router.post('/verify', async (ctx) => {
    const { found, accountId } = await signedIn(ctx);
    await submitVerifyForm(ctx, verifyForm, accountId, verifyPlace(ctx.params.uid!, found));
  });

  // Step-up (docs/product.md#step-up): a fresh person-document match, then the sign-in goes on at the higher acr.
  const showStepUp = async (
    ctx: Context,
    found: Awaited<ReturnType<typeof details>>,
    extra: { status?: number; error?: string } = {},
  ) =>
    page(
      ctx,
      'step-up',
      { merchant: merchantOf(found.client), error: extra.error, maxImageMb: maxImageBytes / 1_000_000 },
      extra.status,
      `/interaction/${ctx.params.uid}/step-up`,
    );
  router.get('/step-up', async (ctx) => {
    const { found, accountId } = await signedIn(ctx);
    // Nobody to match yet: verify the identity first, then come back here.
    if (!(await verifications.personIndexOf(accountId))) {
      ctx.status = 303;
      return ctx.redirect(`/interaction/${ctx.params.uid}/verify`);
    }
    await showStepUp(ctx, found);
  });
  router.post('/step-up', async (ctx) => {
    const { found, accountId } = await signedIn(ctx);
    const { fields, files } = await parseMultipart(ctx, {
      fileBytes: maxImageBytes,
      files: ['portrait', 'document_front'],
      fields: [CSRF_FIELD],
      fieldBytes: 200,
    });
    verifyCsrfToken(ctx, fields[CSRF_FIELD]);
    const image = (name: string): Image | undefined => {
      const data = files[name]?.data;
      const type = data && sniffImageType(data);
      return data && type ? { contentType: type, data } : undefined;
    };
    const portrait = image('portrait');
    const documentFront = image('document_front');
    if (!portrait || !documentFront) return showStepUp(ctx, found, { status: 400, error: 'step_up.error.photos' });
    try {
      await limits.countVerification(accountId);
      const outcome = await verifications.stepUp(accountId, { portrait, documentFront });
      if (outcome.status !== 'passed') return showStepUp(ctx, found, { status: 422, error: 'verify.failed.mismatch' });
      await finish(ctx, { login: { accountId, acr: ACR.personMatch, amr: [...AMR.personMatch] } });
    } catch (err) {
      if (!(err instanceof PlatformError) || ![429, 503].includes(err.status) || wantsJson(ctx)) throw err;
      if (err instanceof RateLimited) ctx.set('Retry-After', String(err.retryAfter));
      await showStepUp(ctx, found, { status: err.status, error: `verify.error.${err.code}` });
    }
  });

  router.post('/confirm', async (ctx) => {
    const found = await details(ctx, 'consent');
    const chosen = parseBody(ctx, consentChoice);
    let outcome: Awaited<ReturnType<GrantService['consent']>>;
    try {
      outcome = await grants.consent(
        provider,
        found,
        found.session!.accountId,
        consentMerchantOf(found.client!),
        chosen,
      );
    } catch (err) {
      // A wrong or locked partial-knowledge answer shows the consent page again, saying why.
      const locked = err instanceof DossierLocked;
      const partial =
        locked ||
        (err instanceof PlatformError &&
          err.code === 'invalid-input' &&
          err.extra.errors?.some((e) => e.field === 'partial'));
      if (!partial || wantsJson(ctx)) throw err;
      if (locked) ctx.set('Retry-After', err.extra.headers!['Retry-After']!);
      return showConsent(ctx, found, {
        status: (err as PlatformError).status,
        error: locked ? 'consent.partial_locked' : 'consent.partial_mismatch',
        level: chosen.level,
        ...(locked ? { lockedUntil: err.lockedUntil } : {}),
      });
    }
    const { result, credentials } = outcome;
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
