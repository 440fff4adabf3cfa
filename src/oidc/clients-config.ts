// What a merchant's registration may hold and how it signs in to the provider: authentication
// methods, response types, defaults, our extra metadata, PKCE and the signing algorithms.
import type { Configuration } from 'oidc-provider';

export function clientOptions(): Pick<
  Configuration,
  'clientAuthMethods' | 'responseTypes' | 'clientDefaults' | 'extraClientMetadata' | 'pkce' | 'enabledJWA'
> {
  return {
    // The methods a merchant can be registered with (`client add` sets client_secret_basic; the
    // secret works with _post too). private_key_jwt and the rest come with per-client key
    // registration (a FAPI 2.0 profile is planned); listing them before would advertise what no merchant can use.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
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
      properties: ['kind', 'category', 'security_level', 'grant_levels', 'require_passkey'],
    },
    // RFC 9700 §2.1.1: PKCE for every client, and only S256 (oidc-provider 9 accepts no other).
    pkce: { required: () => true },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'PS256', 'ES256'],
      introspectionSigningAlgValues: ['RS256', 'PS256', 'ES256'],
    },
  };
}
