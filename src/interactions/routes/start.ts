// The interaction's first page: sends the browser to the step its prompt needs (sign-in, step-up,
// verification or consent), or ends the authorization when it cannot be met.
import type { Context } from 'koa';
import { grantAllMissing } from '../../grants/oidc-grant.js';
import { requiredMethod } from '../../identity/service.js';
import { PLATFORM_CLIENT_ID, securityLevelOf } from '../../clients/service.js';
import { PlatformError } from '../../errors.js';
import { ACCOUNT_NOT_FOUND, ACR, PASSKEY_REQUIRED, STEP_UP } from '../../oidc/policy.js';
import {
  consentMerchantOf,
  finish,
  interactionDetails,
  merchantOf,
  page,
  type InteractionDeps,
} from './interaction.js';
import { requestedScopes, showConsent } from './consent.js';

/** ACRs a request can demand that this platform can produce. */
const SUPPORTED_ACRS: string[] = Object.values(ACR);

export function startInteraction(
  deps: Pick<InteractionDeps, 'provider' | 'grants' | 'dossier' | 'verifications' | 'views'>,
) {
  const { provider, grants, verifications, views } = deps;
  return async (ctx: Context) => {
    const found = await interactionDetails(provider, ctx);
    const merchant = merchantOf(found.client);
    if (found.prompt.name === 'login') {
      // An `acr` the request insists on (an essential claim) that the platform cannot produce
      // fails the request with the OIDC error instead of pretending (OpenID Connect Core §5.5.1.1).
      const acr = (found.prompt.details as { acr?: { value?: string; values?: string[] } }).acr;
      const demanded = acr ? [...(acr.values ?? []), ...(acr.value ? [acr.value] : [])] : [];
      if (demanded.length && !demanded.some((value) => SUPPORTED_ACRS.includes(value))) {
        return finish(provider, ctx, {
          error: 'unmet_authentication_requirements',
          error_description: `none of the requested acr values is supported (${SUPPORTED_ACRS.join(' ')})`,
        });
      }
      // Signed in already, but this merchant or request needs a fresh person-document match (not
      // for an account that can no longer sign in: the sign-in page says why).
      const reasons = found.prompt.reasons;
      if (found.session?.accountId && reasons.includes(STEP_UP) && !reasons.includes(ACCOUNT_NOT_FOUND)) {
        ctx.status = 303;
        return ctx.redirect(`/interaction/${ctx.params.uid}/step-up`);
      }
      return page(views, ctx, 'login', {
        merchant,
        login: found.lastSubmission?.login,
        passkeyRequired: found.prompt.reasons.includes(PASSKEY_REQUIRED),
      });
    }
    // The platform's own account pages are first-party: signing in to them asks no consent.
    if (found.prompt.name === 'consent' && found.params.client_id === PLATFORM_CLIENT_ID) {
      return finish(provider, ctx, await grantAllMissing(provider, found));
    }
    if (found.prompt.name === 'consent') {
      const levels = grants.offeredLevels(requestedScopes(found), consentMerchantOf(found.client!));
      // A level needs a verified person, as strongly as this merchant's security level asks:
      // verify first, then come back to this same authorization request.
      if (
        levels.length &&
        !(await verifications.resultOfAccount(found.session!.accountId, requiredMethod(securityLevelOf(found.client!))))
      ) {
        ctx.status = 303;
        return ctx.redirect(`/interaction/${ctx.params.uid}/verify`);
      }
      return showConsent(deps, ctx, found);
    }
    throw new PlatformError('unknown-prompt', 400, `Unsupported prompt ${found.prompt.name}.`);
  };
}
