// The consent page: which merchant asks, for what, and at which grant level the person agrees.
import type { Context } from 'koa';
import type { Level } from '../../grants/service.js';
import { DOSSIER_RECONFIRMATION } from '../../oidc/policy.js';
import { consentMerchantOf, merchantOf, page, type InteractionDeps, type InteractionDetails } from './interaction.js';

/** The scopes the authorization request asks for, each once. */
export function requestedScopes(found: InteractionDetails): string[] {
  return [
    ...new Set(
      String(found.params.scope ?? '')
        .split(' ')
        .filter(Boolean),
    ),
  ];
}

/**
 * The consent page: the merchant, what it asks, the levels to choose from (pre-selected), the
 * level the merchant holds now if any, and for the dossier the partial-knowledge question. The
 * person may choose any offered level at every consent, higher or lower than before.
 */
export async function showConsent(
  { provider, grants, dossier, views }: Pick<InteractionDeps, 'provider' | 'grants' | 'dossier' | 'views'>,
  ctx: Context,
  found: InteractionDetails,
  extra: { status?: number; error?: string; level?: string; lockedUntil?: Date } = {},
): Promise<void> {
  const scopes = requestedScopes(found);
  const consentMerchant = consentMerchantOf(found.client!);
  const accountId = found.session!.accountId;
  const current = await grants.currentLevel(provider, found);
  const reconfirm = current === 'dossier' && found.prompt.reasons.includes(DOSSIER_RECONFIRMATION);
  const levels: Level[] = grants.offeredLevels(scopes, consentMerchant);
  const lockedUntil = levels.includes('dossier')
    ? (extra.lockedUntil ?? (await dossier.lockedUntil(accountId)))
    : undefined;
  const open = lockedUntil ? levels.filter((level) => level !== 'dossier') : levels;
  const remembered = extra.level ?? current ?? (await grants.preselect(accountId, consentMerchant, levels));
  const selected = remembered && open.includes(remembered as Level) ? remembered : open[0];
  page(
    views,
    ctx,
    'consent',
    {
      merchant: merchantOf(found.client),
      scopes: scopes.filter((s) => !s.startsWith('realname')),
      levels,
      selected,
      current,
      reconfirm,
      lockedUntil,
      error: extra.error,
    },
    extra.status,
    `/interaction/${ctx.params.uid}`,
  );
}
