import type Provider from 'oidc-provider';
import type { EndedSession } from './sessions.js';

/**
 * OpenID Connect Back-Channel Logout 1.0 for sessions ended outside `/session/end` (the security
 * page, a password change or reset, the operator's `sessions end`): a logout token to each merchant
 * the session signed in to that registered a `backchannel_logout_uri`, made and posted by
 * oidc-provider's own `Client#backchannelLogout(sub, sid)`, as its `/session/end` does
 * (node_modules/oidc-provider/lib/actions/end_session.js, `endSession`); it signs with the
 * merchant's ID token algorithm and turns the account id into the merchant's pairwise `sub`.
 * Best effort, as there: a merchant that does not answer 200 is reported to `onError`, not retried.
 */
export async function logoutAtMerchants(
  provider: Provider,
  ended: EndedSession[],
  onError: (err: unknown, clientId: string) => void,
): Promise<void> {
  const sends: Array<Promise<void>> = [];
  for (const { accountId, authorizations } of ended) {
    for (const [clientId, { sid }] of Object.entries(authorizations)) {
      sends.push(
        (async () => {
          const client = await provider.Client.find(clientId);
          if (!client?.backchannelLogoutUri) return;
          await (client as unknown as BackchannelClient).backchannelLogout(accountId, sid);
        })().catch((err: unknown) => onError(err, clientId)),
      );
    }
  }
  await Promise.all(sends);
}

/** The Client method oidc-provider 9 has and its type declarations leave out. */
interface BackchannelClient {
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
}
