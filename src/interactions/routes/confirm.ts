// The person's answer on the consent page: the chosen level is granted, and at level 2 the
// merchant credentials are shown once before the authorization goes on.
import type { Context } from 'koa';
import { z } from 'zod';
import { DossierLocked } from '../../grants/dossier.js';
import type { GrantService } from '../../grants/service.js';
import { PlatformError } from '../../errors.js';
import { parseBody } from '../../http/input.js';
import { wantsJson } from '../../http/errors.js';
import { text } from '../../validation.js';
import {
  consentMerchantOf,
  finish,
  interactionDetails,
  interactionResult,
  merchantOf,
  page,
  type InteractionDeps,
} from './interaction.js';
import { showConsent } from './consent.js';

const consentChoice = z.object({ level: text(20).optional(), partial: text(20).optional() });

export function confirmConsent(deps: Pick<InteractionDeps, 'provider' | 'grants' | 'dossier' | 'views'>) {
  const { provider, grants, views } = deps;
  return async (ctx: Context) => {
    const found = await interactionDetails(provider, ctx, 'consent');
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
      return showConsent(deps, ctx, found, {
        status: (err as PlatformError).status,
        error: locked ? 'consent.partial_locked' : 'consent.partial_mismatch',
        level: chosen.level,
        ...(locked ? { lockedUntil: err.lockedUntil } : {}),
      });
    }
    const { result, credentials } = outcome;
    if (!credentials) return finish(provider, ctx, result);
    // Level 2: the password is shown this once, before the person goes on to the merchant.
    const returnTo = await interactionResult(provider, ctx, result);
    ctx.set('Cache-Control', 'no-store');
    page(views, ctx, 'credentials', { merchant: merchantOf(found.client), credentials, returnTo });
  };
}
