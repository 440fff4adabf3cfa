// What a merchant's registration may hold and how it signs in to the provider: authentication
// methods, response types, defaults, our extra metadata, PKCE and the algorithms.
import type { Configuration } from 'oidc-provider';
import {
  ENCRYPTION_ALGS,
  ENCRYPTION_ENCS,
  FAPI_ID_TOKEN_ALGS,
  FAPI_SIGNING_ALGS,
  USERINFO_SIGNING_ALGS,
} from '../clients/keys.js';

export function clientOptions(): Pick<
  Configuration,
  'clientAuthMethods' | 'responseTypes' | 'clientDefaults' | 'extraClientMetadata' | 'pkce' | 'enabledJWA'
> {
  return {
    // The methods a client can be registered with: a secret (`client add`; _basic, and _post works
    // too), or its own keys (`client add --profile fapi2 --jwks|--jwks-uri`, RFC 7523 §2.2).
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    // Authorization code only: RFC 9700 §2.1.2 retires the implicit and hybrid flows.
    // (`none` only for the platform's own account pages, which need the session, not a token.)
    responseTypes: ['code', 'none'],
    clientDefaults: {
      subject_type: 'pairwise',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    extraClientMetadata: {
      properties: ['kind', 'category', 'security_level', 'grant_levels', 'require_passkey', 'security_profile'],
    },
    // RFC 9700 §2.1.1: PKCE for every client, and only S256 (oidc-provider 9 accepts no other).
    pkce: { required: () => true },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', ...FAPI_ID_TOKEN_ALGS],
      userinfoSigningAlgValues: [...USERINFO_SIGNING_ALGS],
      introspectionSigningAlgValues: ['RS256', 'PS256', 'ES256'],
      // private_key_jwt assertions and DPoP proofs: FAPI 2.0 §5.4.1 (no RS256, no HMAC).
      clientAuthSigningAlgValues: [...FAPI_SIGNING_ALGS],
      dPoPSigningAlgValues: [...FAPI_SIGNING_ALGS],
      // ID tokens and userinfo encrypted to a client's own key (OIDC Core §10.2).
      idTokenEncryptionAlgValues: [...ENCRYPTION_ALGS],
      idTokenEncryptionEncValues: [...ENCRYPTION_ENCS],
      userinfoEncryptionAlgValues: [...ENCRYPTION_ALGS],
      userinfoEncryptionEncValues: [...ENCRYPTION_ENCS],
    },
  };
}
