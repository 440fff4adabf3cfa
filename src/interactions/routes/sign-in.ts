// Password sign-in inside an authorization: checks the login and password, counted against the
// sign-in limits, and answers a wrong or locked attempt on the sign-in page.
import type { Context } from 'koa';
import type { InteractionResults } from 'oidc-provider';
import { AccountDisabled } from '../../accounts/disabling.js';
import { PlatformError } from '../../errors.js';
import { parseBody } from '../../http/input.js';
import { wantsJson } from '../../http/errors.js';
import { requestOrigin } from '../../http/sessions.js';
import { RateLimited } from '../../rate-limits/service.js';
import { ACR, AMR, PASSKEY_REQUIRED } from '../../oidc/policy.js';
import { showSecondFactor } from './passkey.js';
import {
  credentials,
  finish,
  interactionDetails,
  merchantOf,
  page,
  submittedLogin,
  type InteractionDeps,
} from './interaction.js';

/** The login result of a password sign-in (OIDC Core `acr`, RFC 8176 `amr`). */
const passwordLogin = (accountId: string): InteractionResults => ({
  login: { accountId, acr: ACR.password, amr: [...AMR.password] },
});

export function signIn(deps: Pick<InteractionDeps, 'provider' | 'accounts' | 'passkeys' | 'limits' | 'views'>) {
  const { provider, accounts, passkeys, limits, views } = deps;
  return async (ctx: Context) => {
    const found = await interactionDetails(provider, ctx, 'login');
    try {
      const input = parseBody(ctx, credentials);
      const origin = requestOrigin(ctx);
      const account = await limits
        .signIn({ ip: ctx.ip, login: input.login }, () => accounts.authenticate(input, origin))
        .catch(async (err: unknown) => {
          if (err instanceof RateLimited) await accounts.signInRefused(input.login, origin);
          throw err;
        });
      // A passkey must follow when the person asked for it, or this merchant or request demands one.
      const demanded = found.prompt.reasons.includes(PASSKEY_REQUIRED);
      if (demanded || (await passkeys.secondFactorRequired(account.id))) {
        if (await passkeys.hasPasskeys(account.id)) return await showSecondFactor(deps, ctx, found, account.id);
        return page(
          views,
          ctx,
          'passkey-missing',
          { merchant: merchantOf(found.client) },
          403,
          `/interaction/${ctx.params.uid}`,
        );
      }
      await finish(provider, ctx, passwordLogin(account.id));
      await accounts.signedIn(account.id, origin, AMR.password);
    } catch (err) {
      const shown =
        err instanceof PlatformError && ([400, 401, 429].includes(err.status) || err instanceof AccountDisabled);
      if (!shown || wantsJson(ctx)) throw err;
      if (err instanceof RateLimited) ctx.set('Retry-After', String(err.retryAfter));
      const error =
        err instanceof RateLimited
          ? 'error.sign_in_locked'
          : err instanceof AccountDisabled
            ? 'error.account_disabled'
            : err.status === 401
              ? 'error.invalid_credentials'
              : 'error.invalid_input';
      const errorParams = err instanceof RateLimited ? { minutes: Math.ceil(err.retryAfter / 60) } : undefined;
      page(
        views,
        ctx,
        'login',
        {
          merchant: merchantOf(found.client),
          login: submittedLogin(ctx),
          error,
          errorParams,
          passkeyRequired: found.prompt.reasons.includes(PASSKEY_REQUIRED),
        },
        err.status,
        `/interaction/${ctx.params.uid}`,
      );
    }
  };
}
