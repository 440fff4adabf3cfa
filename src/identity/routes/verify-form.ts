import type { Context } from 'koa';
import { PlatformError } from '../../errors.js';
import { renderPage } from '../../http/locale.js';
import { CSRF_FIELD, verifyCsrfToken } from '../../http/csrf.js';
import { parseMultipart } from '../../http/multipart.js';
import { RateLimited, type RateLimits } from '../../rate-limits/service.js';
import type { Views } from '../../http/views.js';
import { DOCUMENT_TYPES } from '../document-number.js';
import type { Submission, VerificationService } from '../service.js';
import { uploadedImage } from './uploads.js';

/** Where the guided verification form lives: the account pages, or inside a merchant's sign-in. */
export interface VerifyFormPlace {
  /** The form's own address (it posts to itself). */
  path: string;
  /** Where a person goes once verified. */
  next: string;
  /** Shown above the form, e.g. which merchant asked. */
  merchant?: string;
}

export interface VerifyFormDeps {
  views: Views;
  verifications: VerificationService;
  limits: Pick<RateLimits, 'countVerification'>;
  maxImageBytes: number;
}

/** Renders the guided verification page (steps, what to prepare, errors, FAQ: docs/background.md#phone-self-check). */
export async function showVerifyForm(
  ctx: Context,
  deps: VerifyFormDeps,
  accountId: string,
  place: VerifyFormPlace,
  extra: { status?: number; form?: Record<string, unknown>; errors?: string[] } = {},
) {
  const phoneLogin = await deps.verifications.hasPhoneLogin(accountId);
  ctx.status = extra.status ?? 200;
  ctx.type = 'html';
  ctx.body = renderPage(
    deps.views,
    ctx,
    'verify',
    {
      documentTypes: DOCUMENT_TYPES,
      form: extra.form ?? {},
      errors: extra.errors,
      phoneLogin,
      action: place.path,
      merchant: place.merchant,
      maxImageMb: deps.maxImageBytes / 1_000_000,
    },
    place.path,
  );
}

/**
 * Handles a posted verification form: a document check, a person-document match when photos come
 * with it, or the three-element phone check when asked. A pass redirects to `place.next`; anything
 * else shows the form again with what was typed and why.
 */
export async function submitVerifyForm(ctx: Context, deps: VerifyFormDeps, accountId: string, place: VerifyFormPlace) {
  const { fields, files } = await parseMultipart(ctx, {
    fileBytes: deps.maxImageBytes,
    files: ['portrait', 'document_front'],
    fields: [CSRF_FIELD, 'name', 'document_type', 'document_number', 'phone_check'],
    fieldBytes: 200,
  });
  verifyCsrfToken(ctx, fields[CSRF_FIELD]);
  const form = {
    name: fields.name ?? '',
    document_type: fields.document_type ?? '',
    document_number: fields.document_number ?? '',
    phone_check: fields.phone_check === '1',
  };
  const portrait = uploadedImage(files, 'portrait');
  const documentFront = uploadedImage(files, 'document_front');
  const submission: Submission = {
    method: portrait || documentFront ? 'person_match' : form.phone_check ? 'phone_three_element' : 'document',
    documentType: form.document_type,
    documentNumber: form.document_number,
    name: form.name,
    portrait,
    documentFront,
  };
  try {
    await deps.limits.countVerification(accountId);
    const outcome = await deps.verifications.verify(accountId, submission);
    if (outcome.status === 'passed') {
      ctx.status = 303;
      return ctx.redirect(place.next);
    }
    return await showVerifyForm(ctx, deps, accountId, place, {
      status: 422,
      form,
      errors: [`verify.failed.${outcome.reason === 'image_unreadable' ? 'image' : 'mismatch'}`],
    });
  } catch (err) {
    if (!(err instanceof PlatformError) || ![400, 409, 429, 503].includes(err.status)) throw err;
    if (err instanceof RateLimited) ctx.set('Retry-After', String(err.retryAfter));
    const codes =
      err.code === 'invalid-input'
        ? (err.extra.errors ?? []).map((e) => `verify.error.${e.field}`)
        : [`verify.error.${err.code}`];
    return await showVerifyForm(ctx, deps, accountId, place, { status: err.status, form, errors: [...new Set(codes)] });
  }
}
