// Verification inside an authorization: the guided verification form, shared with the account
// pages, for a signed-in person whose merchant needs a verified result; afterwards the
// authorization goes on.
import type { Context } from 'koa';
import { showVerifyForm, submitVerifyForm, type VerifyFormPlace } from '../../identity/routes/verify-form.js';
import { merchantOf, signedIn, type InteractionDeps, type InteractionDetails } from './interaction.js';

type VerifyDeps = Pick<InteractionDeps, 'provider' | 'views' | 'verifications' | 'limits' | 'maxImageBytes'>;

/** The form's place in this interaction: it posts to itself and leads back to the interaction. */
const verifyPlace = (uid: string, found: InteractionDetails): VerifyFormPlace => ({
  path: `/interaction/${uid}/verify`,
  next: `/interaction/${uid}`,
  merchant: merchantOf(found.client).name,
});

export function showVerification({ provider, views, verifications, limits, maxImageBytes }: VerifyDeps) {
  const verifyForm = { views, verifications, limits, maxImageBytes };
  return async (ctx: Context) => {
    const { found, accountId } = await signedIn(provider, ctx);
    await showVerifyForm(ctx, verifyForm, accountId, verifyPlace(ctx.params.uid!, found));
  };
}

export function submitVerification({ provider, views, verifications, limits, maxImageBytes }: VerifyDeps) {
  const verifyForm = { views, verifications, limits, maxImageBytes };
  return async (ctx: Context) => {
    const { found, accountId } = await signedIn(provider, ctx);
    await submitVerifyForm(ctx, verifyForm, accountId, verifyPlace(ctx.params.uid!, found));
  };
}
