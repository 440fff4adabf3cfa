// Step-up (docs/product.md#step-up): a fresh person-document match, then the sign-in goes on at
// the higher acr.
import type { Context } from 'koa';
import { PlatformError } from '../../errors.js';
import { CSRF_FIELD, verifyCsrfToken } from '../../http/csrf.js';
import { wantsJson } from '../../http/errors.js';
import { parseMultipart } from '../../http/multipart.js';
import { sniffImageType } from '../../identity/images.js';
import type { Image } from '../../identity/providers/types.js';
import { RateLimited } from '../../rate-limits/service.js';
import { ACR, AMR } from '../../oidc/policy.js';
import { usedPasskey } from '../../passkeys/amr.js';
import { finish, merchantOf, page, signedIn, type InteractionDeps, type InteractionDetails } from './interaction.js';

type StepUpDeps = Pick<InteractionDeps, 'provider' | 'verifications' | 'limits' | 'views' | 'maxImageBytes'>;

/** The step-up page: the two photos to send, and why the last ones did not do. */
function stepUpPage(
  { views, maxImageBytes }: Pick<StepUpDeps, 'views' | 'maxImageBytes'>,
  ctx: Context,
  found: InteractionDetails,
  extra: { status?: number; error?: string } = {},
) {
  page(
    views,
    ctx,
    'step-up',
    { merchant: merchantOf(found.client), error: extra.error, maxImageMb: maxImageBytes / 1_000_000 },
    extra.status,
    `/interaction/${ctx.params.uid}/step-up`,
  );
}

/**
 * The methods after a step-up: a session that used a passkey keeps its methods beside `face`, so a
 * request that also demands a passkey (src/oidc/policy.ts `passkeyDemanded`) is still met.
 */
function stepUpAmr(found: InteractionDetails): string[] {
  const before = (found.session as { amr?: string[] } | undefined)?.amr;
  return usedPasskey(before) ? [...new Set([...before!, 'face'])] : [...AMR.personMatch];
}

export function showStepUp(deps: StepUpDeps) {
  return async (ctx: Context) => {
    const { found, accountId } = await signedIn(deps.provider, ctx);
    // Nobody to match yet: verify the identity first, then come back here.
    if (!(await deps.verifications.personIndexOf(accountId))) {
      ctx.status = 303;
      return ctx.redirect(`/interaction/${ctx.params.uid}/verify`);
    }
    stepUpPage(deps, ctx, found);
  };
}

export function submitStepUp(deps: StepUpDeps) {
  const { provider, verifications, limits, maxImageBytes } = deps;
  return async (ctx: Context) => {
    const { found, accountId } = await signedIn(provider, ctx);
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
    if (!portrait || !documentFront)
      return stepUpPage(deps, ctx, found, { status: 400, error: 'step_up.error.photos' });
    try {
      await limits.countVerification(accountId);
      const outcome = await verifications.stepUp(accountId, { portrait, documentFront });
      if (outcome.status !== 'passed')
        return stepUpPage(deps, ctx, found, { status: 422, error: 'verify.failed.mismatch' });
      await finish(provider, ctx, { login: { accountId, acr: ACR.personMatch, amr: stepUpAmr(found) } });
    } catch (err) {
      if (!(err instanceof PlatformError) || ![429, 503].includes(err.status) || wantsJson(ctx)) throw err;
      if (err instanceof RateLimited) ctx.set('Retry-After', String(err.retryAfter));
      stepUpPage(deps, ctx, found, { status: err.status, error: `verify.error.${err.code}` });
    }
  };
}
