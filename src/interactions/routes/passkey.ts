// Passkey sign-in inside an authorization: a passkey alone (a discoverable credential: nothing
// typed, the authenticator offers the person's passkeys), or a passkey after the password when
// the person asked for it or the merchant demands one. The browser side is public/passkeys.js;
// it posts JSON with the form's CSRF token in X-CSRF-Token and follows the address it gets back.
import type { Context } from 'koa';
import type { InteractionResults } from 'oidc-provider';
import { wantsJson } from '../../http/errors.js';
import { parseBody } from '../../http/input.js';
import { requestOrigin } from '../../http/sessions.js';
import { ACR } from '../../oidc/policy.js';
import { passkeyAmr } from '../../passkeys/amr.js';
import { passkeyAnswer } from '../../passkeys/responses.js';
import type { PasskeySignIn } from '../../passkeys/service.js';
import {
  finish,
  interactionDetails,
  interactionResult,
  merchantOf,
  page,
  type InteractionDeps,
  type InteractionDetails,
} from './interaction.js';

type PasskeyDeps = Pick<InteractionDeps, 'provider' | 'passkeys' | 'views' | 'accounts'>;

/** The login result of a passkey sign-in (OIDC Core `acr`, RFC 8176 `amr`, src/passkeys/amr.ts). */
const passkeyLogin = (use: PasskeySignIn, afterPassword: boolean): InteractionResults => ({
  login: { accountId: use.accountId, acr: ACR.phishingResistant, amr: passkeyAmr(use, afterPassword) },
});

/**
 * Hands the result to oidc-provider and answers the script with the address to go on to: the
 * script navigates there itself, since a fetch cannot follow the redirects to the merchant.
 */
async function finishForScript(deps: PasskeyDeps, ctx: Context, result: InteractionResults): Promise<void> {
  const redirect = await interactionResult(deps.provider, ctx, result);
  ctx.body = { redirect };
}

/**
 * A form post without the script (JavaScript off, or a browser without WebAuthn) cannot carry a
 * passkey: the page it came from again, saying so.
 */
function withoutScript(deps: PasskeyDeps, ctx: Context, found: InteractionDetails, view: string): boolean {
  if (wantsJson(ctx)) return false;
  page(
    deps.views,
    ctx,
    view,
    { merchant: merchantOf(found.client), error: 'passkey.error.needs_script' },
    400,
    `/interaction/${ctx.params.uid}`,
  );
  return true;
}

/** Options for a passkey sign-in on this interaction's sign-in page. */
export function passkeySignInOptions(deps: PasskeyDeps) {
  return async (ctx: Context) => {
    const found = await interactionDetails(deps.provider, ctx, 'login');
    ctx.body = await deps.passkeys.signInOptions(found.uid);
  };
}

/** A passkey alone: the account is the passkey's owner. */
export function passkeySignIn(deps: PasskeyDeps) {
  return async (ctx: Context) => {
    const found = await interactionDetails(deps.provider, ctx, 'login');
    if (withoutScript(deps, ctx, found, 'login')) return;
    const { response } = parseBody(ctx, passkeyAnswer);
    const use = await deps.passkeys.signIn(found.uid, response);
    await signedInWith(deps, ctx, passkeyLogin(use, false));
  };
}

/**
 * After a right password, when a passkey must follow: the page that asks for it, its challenge
 * already bound to this interaction and this account (the password's proof until it is used).
 */
export async function showSecondFactor(
  deps: PasskeyDeps,
  ctx: Context,
  found: InteractionDetails,
  accountId: string,
): Promise<void> {
  const options = await deps.passkeys.secondFactorOptions(found.uid, accountId);
  page(
    deps.views,
    ctx,
    'passkey-second-factor',
    { merchant: merchantOf(found.client), options: JSON.stringify(options) },
    200,
    `/interaction/${ctx.params.uid}`,
  );
}

/** The passkey after the password: the account is the one the password proved. */
export function passkeySecondFactor(deps: PasskeyDeps) {
  return async (ctx: Context) => {
    const found = await interactionDetails(deps.provider, ctx, 'login');
    if (withoutScript(deps, ctx, found, 'passkey-second-factor')) return;
    const { response } = parseBody(ctx, passkeyAnswer);
    const use = await deps.passkeys.secondFactor(found.uid, response);
    await signedInWith(deps, ctx, passkeyLogin(use, true));
  };
}

/**
 * Completes the sign-in, then records it in the person's security log with how it was made. A
 * disabled account is refused first: the passkey proved its owner, who may be told.
 */
async function signedInWith(deps: PasskeyDeps, ctx: Context, result: InteractionResults): Promise<void> {
  const { accountId, amr = [] } = result.login!;
  await deps.accounts.refuseIfDisabled(accountId, requestOrigin(ctx));
  await finishForScript(deps, ctx, result);
  await deps.accounts.signedIn(accountId, requestOrigin(ctx), amr);
}

/**
 * The merchant demands a passkey and the account has none: back to the merchant with the OIDC
 * error for an authentication it asked for and the platform could not perform (OpenID Connect
 * Core 1.0 §3.1.2.6, `unmet_authentication_requirements` from its errata set).
 */
export function passkeyMissing({ provider }: Pick<PasskeyDeps, 'provider'>) {
  return async (ctx: Context) => {
    await interactionDetails(provider, ctx, 'login');
    await finish(provider, ctx, {
      error: 'unmet_authentication_requirements',
      error_description: 'this sign-in needs a passkey and the account has none',
    });
  };
}
