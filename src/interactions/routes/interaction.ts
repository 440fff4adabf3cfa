// What every step of an interaction shares: the services the pages use, the interaction behind a
// page's uid, the page itself, and handing a result back to oidc-provider.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type InteractionResults } from 'oidc-provider';
import { z } from 'zod';
import type { AccountService } from '../../accounts/service.js';
import type { DossierService } from '../../grants/dossier.js';
import type { ConsentMerchant, GrantService } from '../../grants/service.js';
import type { VerificationService } from '../../identity/service.js';
import type { PasskeyService } from '../../passkeys/service.js';
import { PlatformError } from '../../errors.js';
import { text } from '../../validation.js';
import type { RateLimits } from '../../rate-limits/service.js';
import { renderPage } from '../../http/locale.js';
import type { Views } from '../../http/views.js';

export interface InteractionDeps {
  provider: Provider;
  accounts: AccountService;
  grants: GrantService;
  dossier: DossierService;
  verifications: VerificationService;
  passkeys: PasskeyService;
  views: Views;
  limits: RateLimits;
  maxImageBytes: number;
}

/** The sign-in and registration forms' fields. */
export const credentials = z.object({ login: text(254), password: text(1024) });

/** What the person typed as login, to refill the form (never the password). */
export function submittedLogin(ctx: Context): string {
  const login = (ctx.request as { body?: { login?: unknown } }).body?.login;
  return typeof login === 'string' ? login.slice(0, 254) : '';
}

/** A page of this interaction; `getPath` is its GET address when it answers a form post. */
export function page(
  views: Views,
  ctx: Context,
  name: string,
  context: Record<string, unknown>,
  status = 200,
  getPath?: string,
): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = renderPage(views, ctx, name, { uid: ctx.params.uid, ...context }, getPath);
}

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>;

/** The interaction each request read (interactionDetails), to save its result without reading it again. */
const readBy = new WeakMap<Context, Interaction>();

/**
 * Saves the interaction's result, merged with its last submission, and returns where the browser
 * goes on to: what oidc-provider's `interactionResult` does, on the interaction this request
 * already read and checked (its session included) rather than reading both again.
 */
export async function interactionResult(provider: Provider, ctx: Context, result: InteractionResults): Promise<string> {
  const interaction = readBy.get(ctx);
  if (!interaction) return provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  interaction.result = 'error' in result ? result : { ...interaction.lastSubmission, ...result };
  await interaction.persist();
  return interaction.returnTo;
}

/** Hands the interaction's result to oidc-provider and sends the browser back to the authorization. */
export async function finish(provider: Provider, ctx: Context, result: InteractionResults): Promise<void> {
  const returnTo = await interactionResult(provider, ctx, result);
  ctx.status = 303;
  ctx.redirect(returnTo);
}

/** The interaction behind this uid, checked to be at the prompt the page handles. */
export async function interactionDetails(provider: Provider, ctx: Context, prompt?: 'login' | 'consent') {
  const found = await provider.interactionDetails(ctx.req, ctx.res);
  readBy.set(ctx, found);
  if (found.uid !== ctx.params.uid) throw new errors.SessionNotFound('interaction mismatch');
  if (prompt && found.prompt.name !== prompt) {
    throw new PlatformError('wrong-step', 400, 'This step of the sign-in is already done or not yet due.');
  }
  const client = await provider.Client.find(found.params.client_id as string);
  return { ...found, client };
}

export type InteractionDetails = Awaited<ReturnType<typeof interactionDetails>>;

/** The signed-in account of an interaction (verification and step-up come after sign-in). */
export async function signedIn(provider: Provider, ctx: Context) {
  const found = await interactionDetails(provider, ctx);
  if (!found.session?.accountId) throw new PlatformError('wrong-step', 400, 'Sign in first.');
  return { found, accountId: found.session.accountId };
}

/** The merchant as the pages show it. */
export function merchantOf(client: InteractionDetails['client']) {
  return {
    name: client?.clientName ?? client?.clientId,
    category: (client as unknown as { category?: string } | undefined)?.category,
  };
}

/** The merchant as the grant levels see it: id, category, the levels it is registered for. */
export function consentMerchantOf(client: NonNullable<InteractionDetails['client']>): ConsentMerchant {
  const extra = client as unknown as { category?: string; grant_levels?: string[] };
  return { clientId: client.clientId, category: extra.category ?? 'general', levels: extra.grant_levels ?? [] };
}
