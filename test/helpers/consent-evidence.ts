import type { Platform } from '../../src/platform.js';

interface Leaf {
  type: string;
  payload: { grant_id?: string; scopes?: string[]; via?: string; grant_type?: string };
}

/**
 * The audit trail must say what took effect: for every consent given at an authorization, the
 * scopes its `consent.granted` event names are exactly those of the token the merchant then
 * receives for that grant (the first `token.issued` by code after it, if the code was redeemed
 * before another consent). Run over everything a test file's platform recorded, when it stops.
 * Returns the mismatches, described; an empty list when the trail and the tokens agree.
 */
export async function consentEventsNotMatchingTokens(platform: Platform): Promise<string[]> {
  await platform.audit.integrateAll();
  const rows = (await platform
    .db('audit_events')
    .whereIn('type', ['consent.granted', 'token.issued'])
    .orderBy('leaf_index')
    .select('leaf_index', 'leaf')) as Array<{ leaf_index: number; leaf: string }>;
  const pending = new Map<string, { index: number; scopes: string[] }>();
  const mismatches: string[] = [];
  for (const row of rows) {
    const leaf = JSON.parse(row.leaf) as Leaf;
    const grantId = leaf.payload.grant_id;
    if (!grantId) continue;
    if (leaf.type === 'consent.granted') {
      if (leaf.payload.via === 'consent_page')
        pending.set(grantId, { index: Number(row.leaf_index), scopes: leaf.payload.scopes ?? [] });
      else pending.delete(grantId);
      continue;
    }
    const consent = pending.get(grantId);
    if (!consent || leaf.payload.grant_type !== 'authorization_code' || !leaf.payload.scopes) continue;
    pending.delete(grantId);
    const said = [...consent.scopes].sort().join(' ');
    const issued = [...leaf.payload.scopes].sort().join(' ');
    if (said !== issued)
      mismatches.push(
        `consent.granted at leaf ${consent.index} names "${said}", the token issued at leaf ${row.leaf_index} carries "${issued}"`,
      );
  }
  return mismatches;
}
