import type Provider from 'oidc-provider';
import type { InteractionResults } from 'oidc-provider';

export type ConsentDetails = Pick<Awaited<ReturnType<Provider['interactionDetails']>>, 'prompt' | 'params' | 'session' | 'grantId'>;

/**
 * Records the person's consent as an oidc-provider Grant covering what the prompt found missing
 * (oidc-provider's consent prompt details: missingOIDCScope, missingOIDCClaims,
 * missingResourceScopes), and returns the interaction result that finishes the consent prompt.
 */
export async function grantConsent(provider: Provider, details: ConsentDetails, options: { rejectScopes?: string[]; rejectClaims?: string[] } = {}): Promise<InteractionResults> {
  const { prompt, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session!.accountId, clientId: params.client_id as string });
  if (!grant) throw new Error('grant referenced by the interaction no longer exists');
  const missing = prompt.details as {
    missingOIDCScope?: string[];
    missingOIDCClaims?: string[];
    missingResourceScopes?: Record<string, string[]>;
  };
  const rejected = new Set(options.rejectScopes ?? []);
  const granted = (missing.missingOIDCScope ?? []).filter((scope) => !rejected.has(scope));
  if (granted.length) grant.addOIDCScope(granted.join(' '));
  // Rejected scopes are remembered on the grant: oidc-provider does not ask for them again.
  if (rejected.size) grant.rejectOIDCScope([...rejected].join(' '));
  const rejectedClaims = new Set(options.rejectClaims ?? []);
  const claims = (missing.missingOIDCClaims ?? []).filter((claim) => !rejectedClaims.has(claim));
  if (claims.length) grant.addOIDCClaims(claims);
  const refused = (missing.missingOIDCClaims ?? []).filter((claim) => rejectedClaims.has(claim));
  if (refused.length) grant.rejectOIDCClaims(refused);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return { consent: details.grantId ? {} : { grantId } };
}
