import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';
import { claimsOfScopes, LEVEL_SCOPES, levelOfScopes } from './scopes.js';
import type { Level } from './store.js';

/**
 * How a grant level lives on oidc-provider's Grant model. The Grant is what oidc-provider reads
 * at every authorization, refresh and userinfo call (it filters each token's scope and claims
 * through it), so the person's current level is the one level scope the Grant holds.
 *
 * oidc-provider remembers rejected scopes and claims and does not ask for them again. A level the
 * person did not choose is therefore rejected (so the same request does not ask again), and the
 * level they choose is taken out of the rejected ones (so a later choice can raise it back).
 */

export type ConsentDetails = Pick<
  Awaited<ReturnType<Provider['interactionDetails']>>,
  'prompt' | 'params' | 'session' | 'grantId'
>;
export type OidcGrant = InstanceType<Provider['Grant']>;

const LEVEL_SCOPE_SET = new Set(Object.values(LEVEL_SCOPES));

/** Levels from the least to the most a merchant receives. */
export const LEVELS: Level[] = ['result', 'credentials', 'dossier'];

const split = (value: unknown): string[] =>
  String(value ?? '')
    .split(' ')
    .filter(Boolean);

/** What a Grant holds, as its payload stores it (an oidc-provider Grant has these members too). */
export interface GrantScopes {
  openid?: { scope?: string; claims?: string[] };
  rejected?: { openid?: { scope?: string; claims?: string[] } };
}

/** The scopes a grant grants: granted and not rejected (oidc-provider's Grant#getOIDCScope). */
export function grantedScopes(grant: GrantScopes): string[] {
  const rejected = new Set(split(grant.rejected?.openid?.scope));
  return split(grant.openid?.scope).filter((scope) => scope === 'openid' || !rejected.has(scope));
}

/** The level a grant holds now, if any. */
export function levelOfGrant(grant: GrantScopes | undefined): Level | undefined {
  return grant ? levelOfScopes(grantedScopes(grant)) : undefined;
}

/** The levels a merchant asked for on this grant so far (granted or rejected). */
export function encounteredLevels(grant: GrantScopes): Level[] {
  const encountered = new Set([...split(grant.openid?.scope), ...split(grant.rejected?.openid?.scope)]);
  return LEVELS.filter((level) => encountered.has(LEVEL_SCOPES[level]));
}

/** Levels a grant may be lowered to: lower than the one it holds, asked for by the merchant, allowed by its registration. */
export function lowerLevels(grant: GrantScopes, registered: string[]): Level[] {
  const held = levelOfGrant(grant);
  if (!held) return [];
  const asked = encounteredLevels(grant);
  return LEVELS.slice(0, LEVELS.indexOf(held)).filter((level) => asked.includes(level) && registered.includes(level));
}

/** The claim names a `claims` request parameter (OIDC Core §5.5) asks for, in either member. */
export function requestedClaimNames(claims: unknown): string[] {
  let parsed: unknown = claims;
  if (typeof claims === 'string') {
    try {
      parsed = JSON.parse(claims);
    } catch {
      return [];
    }
  }
  if (!parsed || typeof parsed !== 'object') return [];
  const { id_token: idToken, userinfo } = parsed as { id_token?: unknown; userinfo?: unknown };
  const names = (member: unknown) => (member && typeof member === 'object' ? Object.keys(member) : []);
  return [...new Set([...names(idToken), ...names(userinfo)])];
}

/**
 * Sets the grant's scopes and claims: `grant` are granted (and no longer rejected), `reject` are
 * rejected (and no longer granted), `remove` are no longer granted (and a later request for them
 * asks the person). Claims ever asked for on the grant are then granted exactly where the granted
 * scopes release them, and rejected otherwise.
 */
function setScopes(
  grant: OidcGrant,
  change: { grant: string[]; reject: string[]; remove: string[]; claims: string[] },
): void {
  const granted = new Set(split(grant.openid?.scope));
  const rejected = new Set(split(grant.rejected?.openid?.scope));
  for (const scope of change.remove) granted.delete(scope);
  for (const scope of change.grant) {
    granted.add(scope);
    rejected.delete(scope);
  }
  for (const scope of change.reject) {
    if (scope === 'openid') continue;
    granted.delete(scope);
    rejected.add(scope);
  }
  const claims = new Set([
    ...(grant.openid?.claims ?? []),
    ...(grant.rejected?.openid?.claims ?? []),
    ...change.claims,
  ]);
  const allowed = claimsOfScopes(granted);
  const grantedClaims = [...claims].filter((claim) => allowed.has(claim));
  const rejectedClaims = [...claims].filter((claim) => !allowed.has(claim));
  grant.openid = {
    ...(granted.size ? { scope: [...granted].join(' ') } : {}),
    ...(grantedClaims.length ? { claims: grantedClaims } : {}),
  };
  grant.rejected = {
    openid: {
      ...(rejected.size ? { scope: [...rejected].join(' ') } : {}),
      ...(rejectedClaims.length ? { claims: rejectedClaims } : {}),
    },
  };
}

/**
 * Records a consent on the grant: every scope asked for is granted, but of the level scopes only
 * the chosen one (whatever the grant held before); level 1 gets no offline access, so no refresh
 * token (the merchant asks again). Claims asked for with the claims parameter are granted only
 * where the granted scopes release them. With no level asked for, the grant's level stays.
 */
export function applyConsent(
  grant: OidcGrant,
  requestedScopes: string[],
  requestedClaims: string[],
  level: Level | undefined,
): void {
  const chosen = level && LEVEL_SCOPES[level];
  const others = level ? [...LEVEL_SCOPE_SET].filter((scope) => scope !== chosen) : [];
  // Level scopes asked for and not chosen (or not offered: the merchant's registration lacks
  // them) are rejected, so the same request does not ask again; one the grant held but this
  // request did not ask for is only removed, so asking for it later asks the person.
  const reject = requestedScopes.filter(
    (scope) => (LEVEL_SCOPE_SET.has(scope) && scope !== chosen) || (level === 'result' && scope === 'offline_access'),
  );
  const keep = requestedScopes.filter(
    (scope) => !reject.includes(scope) && (!LEVEL_SCOPE_SET.has(scope) || scope === chosen),
  );
  setScopes(grant, {
    grant: keep,
    reject,
    remove: level === 'result' ? [...others, 'offline_access'] : others,
    claims: requestedClaims,
  });
}

/**
 * Lowers the grant to `level` outside an authorization (the person's account page): the level
 * scope it held is rejected, the lower one granted, offline access dropped for level 1.
 */
export function applyLowerLevel(grant: OidcGrant, level: Level): void {
  const held = levelOfGrant(grant);
  const others = [...LEVEL_SCOPE_SET].filter((scope) => scope !== LEVEL_SCOPES[level]);
  const reject = [
    ...(held && held !== level ? [LEVEL_SCOPES[held]] : []),
    ...(level === 'result' ? ['offline_access'] : []),
  ];
  setScopes(grant, { grant: [LEVEL_SCOPES[level]], reject, remove: others, claims: [] });
}

/** The scopes a token of this grant carries for a request asking for `requested` (oidc-provider's getOIDCScopeFiltered). */
export function tokenScopes(grant: OidcGrant, requested: string[]): string[] {
  return split(grant.getOIDCScopeFiltered(new Set(requested)));
}

/**
 * The Grant of an interaction at its consent prompt: the existing one, or a new one for the
 * session's account and the client.
 */
export async function grantOfInteraction(provider: Provider, details: ConsentDetails): Promise<OidcGrant> {
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session!.accountId, clientId: details.params.client_id as string });
  if (!grant) throw new Error('grant referenced by the interaction no longer exists');
  return grant;
}

/** Saves the grant and returns the interaction result that finishes the consent prompt. */
export async function finishConsent(grant: OidcGrant, details: ConsentDetails): Promise<InteractionResults> {
  const grantId = await grant.save();
  return { consent: details.grantId ? {} : { grantId } };
}

/**
 * A first-party consent (the platform's own account pages): everything the prompt found missing
 * is granted.
 */
export async function grantAllMissing(provider: Provider, details: ConsentDetails): Promise<InteractionResults> {
  const grant = await grantOfInteraction(provider, details);
  const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  if (missing.missingOIDCScope?.length) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
  return finishConsent(grant, details);
}
