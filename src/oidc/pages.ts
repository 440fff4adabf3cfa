// The pages oidc-provider renders on its own routes (logout and its error page). The HTTP layer
// builds them (src/oidc/routes.ts); the provider's configuration only passes them on.
import type { Configuration } from 'oidc-provider';

type LogoutFeature = NonNullable<NonNullable<Configuration['features']>['rpInitiatedLogout']>;

/** The pages oidc-provider renders itself: HTML, built by the HTTP layer (src/oidc/routes.ts). */
export interface ProviderPages {
  /** The page asking whether to log out (OpenID RP-Initiated Logout 1.0). */
  logoutSource: NonNullable<LogoutFeature['logoutSource']>;
  postLogoutSuccessSource: NonNullable<LogoutFeature['postLogoutSuccessSource']>;
  /** The error page of oidc-provider's browser endpoints. */
  renderError: NonNullable<Configuration['renderError']>;
}
