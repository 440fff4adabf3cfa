// The password reset pages (docs/product.md#password-reset): ask for a code, set a new password
// with it, or reset by verifying the identity again. Open to anyone: nothing here says whether a
// login has an account.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { PlatformError } from '../../errors.js';
import { CSRF_FIELD, verifyCsrfToken } from '../../http/csrf.js';
import { parseBody } from '../../http/input.js';
import { localeOf, renderPage } from '../../http/locale.js';
import { parseMultipart } from '../../http/multipart.js';
import { requestOrigin } from '../../http/sessions.js';
import type { Views } from '../../http/views.js';
import { DOCUMENT_TYPES } from '../../identity/document-number.js';
import { uploadedImage } from '../../identity/routes/uploads.js';
import { RateLimited, type RateLimits } from '../../rate-limits/service.js';
import { text } from '../../validation.js';
import type { PasswordRecovery } from '../service.js';

export interface RecoveryPageDeps {
  views: Views;
  recovery: PasswordRecovery;
  limits: RateLimits;
  maxImageBytes: number;
}

/** The multipart upload of the re-verification form (app.ts gives it the larger body limit). */
const RESET_UPLOAD = '/password-reset/verify';

/**
 * Where the person goes to sign in afterwards: back to the authorization they came from (its
 * interaction's sign-in page), else their account page. Anything else is ignored, so the link
 * cannot send anyone off-site.
 */
const RETURN = /^\/interaction\/[A-Za-z0-9_-]{1,64}$/;
const returnOf = (value: unknown) => (typeof value === 'string' && RETURN.test(value) ? value : '/account');

const codeRequest = z.object({ login: text(254), return: text(100).optional() });
const codeReset = z.object({
  login: text(254),
  code: text(32),
  new_password: text(1024),
  return: text(100).optional(),
});

export function recoveryRoutes(deps: RecoveryPageDeps): Router {
  const { views, recovery, limits } = deps;
  const router = new Router({ prefix: '/password-reset' });

  const show = (ctx: Context, page: string, context: Record<string, unknown>, status = 200, getPath?: string) => {
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = renderPage(views, ctx, page, { ...context }, getPath ?? '/password-reset');
  };
  const returnQuery = (to: string) => (to === '/account' ? '' : `?return=${encodeURIComponent(to)}`);

  router.get('/', (ctx) => {
    const back = returnOf(ctx.query.return);
    show(ctx, 'password-reset', { back, returnQuery: returnQuery(back) });
  });

  // A code is sent when an account has the login; the answer is the same page either way.
  router.post('/', async (ctx) => {
    const back = returnOf((ctx.request as { body?: { return?: unknown } }).body?.return);
    try {
      const input = parseBody(ctx, codeRequest);
      await recovery.sendCode(input.login, localeOf(ctx), { ...requestOrigin(ctx), ip: ctx.ip });
      show(ctx, 'password-reset-code', { back, login: input.login, sent: true });
    } catch (err) {
      if (!(err instanceof PlatformError) || ![400, 429].includes(err.status)) throw err;
      refused(ctx, err);
      show(ctx, 'password-reset', { back, returnQuery: returnQuery(back), error: errorKey(err) }, err.status);
    }
  });

  // A wrong code counts as a failed sign-in of the login: the same limits guard both secrets.
  router.post('/code', async (ctx) => {
    const body = (ctx.request as { body?: { return?: unknown; login?: unknown } }).body;
    const back = returnOf(body?.return);
    const login = typeof body?.login === 'string' ? body.login.slice(0, 254) : '';
    try {
      const input = parseBody(ctx, codeReset);
      await limits.signIn({ ip: ctx.ip, login: input.login }, () =>
        recovery.resetWithCode(
          { login: input.login, code: input.code, password: input.new_password, locale: localeOf(ctx) },
          requestOrigin(ctx),
        ),
      );
      show(ctx, 'password-reset-done', { back, passkeysRemoved: 0 });
    } catch (err) {
      if (!(err instanceof PlatformError) || ![400, 401, 429].includes(err.status)) throw err;
      refused(ctx, err);
      show(ctx, 'password-reset-code', { back, login, error: errorKey(err) }, err.status);
    }
  });

  router.get('/verify', (ctx) => {
    const back = returnOf(ctx.query.return);
    showVerify(ctx, { back, form: {} });
  });

  router.post('/verify', async (ctx) => {
    const { fields, files } = await parseMultipart(ctx, {
      fileBytes: deps.maxImageBytes,
      files: ['portrait', 'document_front'],
      fields: [
        CSRF_FIELD,
        'login',
        'name',
        'document_type',
        'document_number',
        'new_password',
        'lost_passkeys',
        'return',
      ],
      fieldBytes: 1024,
    });
    verifyCsrfToken(ctx, fields[CSRF_FIELD]);
    const back = returnOf(fields.return);
    const form = {
      login: fields.login ?? '',
      name: fields.name ?? '',
      document_type: fields.document_type ?? '',
      document_number: fields.document_number ?? '',
      lost_passkeys: fields.lost_passkeys === '1',
    };
    const portrait = uploadedImage(files, 'portrait');
    const documentFront = uploadedImage(files, 'document_front');
    try {
      const outcome = await recovery.resetByVerification(
        {
          login: form.login,
          documentType: form.document_type,
          documentNumber: form.document_number,
          name: form.name,
          ...(portrait ? { portrait } : {}),
          ...(documentFront ? { documentFront } : {}),
          password: fields.new_password ?? '',
          lostPasskeys: form.lost_passkeys,
          locale: localeOf(ctx),
        },
        { ...requestOrigin(ctx), ip: ctx.ip },
      );
      if (outcome.status === 'reset')
        return show(ctx, 'password-reset-done', { back, passkeysRemoved: outcome.passkeysRemoved });
      showVerify(ctx, { back, form, errors: [`reset.error.${outcome.status}`] }, 422);
    } catch (err) {
      if (!(err instanceof PlatformError) || ![400, 409, 429, 503].includes(err.status)) throw err;
      refused(ctx, err);
      const codes =
        err.code === 'invalid-input'
          ? [...new Set((err.extra.errors ?? []).map((e) => fieldError(e.field, e.code)))]
          : [err instanceof RateLimited ? 'reset.error.rate_limited' : `verify.error.${err.code}`];
      showVerify(ctx, { back, form, errors: codes }, err.status);
    }
  });

  function showVerify(
    ctx: Context,
    page: { back: string; form: Record<string, unknown>; errors?: string[] },
    status = 200,
  ) {
    show(
      ctx,
      'password-reset-verify',
      {
        ...page,
        documentTypes: DOCUMENT_TYPES,
        maxImageMb: deps.maxImageBytes / 1_000_000,
        action: RESET_UPLOAD,
      },
      status,
      RESET_UPLOAD,
    );
  }

  return router;
}

/** A refusal's Retry-After, when it has one. */
function refused(ctx: Context, err: PlatformError): void {
  if (err instanceof RateLimited) ctx.set('Retry-After', String(err.retryAfter));
}

/** The i18n key of a refused code request or code reset. */
function errorKey(err: PlatformError): string {
  if (err instanceof RateLimited) return 'reset.error.rate_limited';
  if (err.status === 401) return 'reset.error.code_wrong';
  const errors = (err.extra as { errors?: Array<{ field: string; code: string }> }).errors ?? [];
  const password = errors.find((e) => e.field === 'password');
  return password ? `error.${password.code}` : 'error.invalid_input';
}

/** The i18n key of one invalid field of the re-verification form. */
function fieldError(field: string, code: string): string {
  if (field === 'password') return `error.${code}`;
  return field === 'portrait' || field === 'document_front' ? 'reset.error.photos' : `verify.error.${field}`;
}
