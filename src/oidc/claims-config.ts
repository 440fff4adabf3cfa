// What the provider says about a person and how: the claims of each scope, pairwise subjects, and
// the claims vocabulary discovery announces.
import type { Configuration } from 'oidc-provider';
import { idaDiscovery } from '../grants/ida-vocabulary.js';
import { SCOPE_CLAIMS } from '../grants/scopes.js';
import { DOCUMENT_TYPES } from '../identity/document-number.js';
import { SCOPES } from './claims.js';
import { pairwiseSubject } from './pairwise.js';

export function claimOptions(
  issuer: string,
  pairwiseSalt: string,
): Pick<
  Configuration,
  'claims' | 'discovery' | 'conformIdTokenClaims' | 'scopes' | 'subjectTypes' | 'pairwiseIdentifier'
> {
  return {
    claims: { ...SCOPE_CLAIMS, sid: null, iss: null },
    // OIDC4IDA 1.0 §8 and Attachments 1.0 §8: what the dossier's verified_claims can hold.
    discovery: { claim_types_supported: ['normal'], ...idaDiscovery(issuer, DOCUMENT_TYPES) },
    // The claims of granted scopes go in the ID token as well as at userinfo (OIDC Core §5.4
    // allows both): a merchant at level 1 learns the result at sign-in without another call.
    conformIdTokenClaims: false,
    scopes: SCOPES,
    subjectTypes: ['pairwise'],
    pairwiseIdentifier: async (_ctx, accountId, client) =>
      pairwiseSubject(pairwiseSalt, String(client.sectorIdentifier ?? client.clientId), accountId),
  };
}
