import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { requiresPasskey, securityLevelOf } from '../clients/service.js';
import { LEVEL_SCOPES } from '../grants/scopes.js';
import { usedPasskey } from '../passkeys/amr.js';

/**
 * Authentication context classes (OIDC Core §2 `acr`) and methods (RFC 8176 `amr`). A session
 * starts at `password`; a fresh person-document match (face against the document photo, with
 * liveness) during the sign-in raises it to `person_match` (step-up, docs/product.md#step-up). A
 * sign-in with a passkey, alone or after the password, is `phishing_resistant`: the
 * authenticator signs the origin it was asked from, so a look-alike site gets nothing it can
 * replay here (NIST SP 800-63B §5.2.5); its `amr` comes from src/passkeys/amr.ts.
 */
export const ACR = {
  password: 'urn:realname:acr:password',
  personMatch: 'urn:realname:acr:person_match',
  phishingResistant: 'urn:realname:acr:phishing_resistant',
} as const;

export const AMR = {
  password: ['pwd'],
  personMatch: ['pwd', 'face'],
} as const;

/** The reason the login prompt gives when a step-up is due (see `platformPolicy`). */
export const STEP_UP = 'step_up';
/** The reason the login prompt gives when this sign-in must use a passkey. */
export const PASSKEY_REQUIRED = 'passkey_required';
/** The reason the login prompt gives when the session's account is not found (disabled since it signed in). */
export const ACCOUNT_NOT_FOUND = 'account_not_found';
/** The reason the consent prompt gives when the dossier needs the person's re-confirmation. */
export const DOSSIER_RECONFIRMATION = 'dossier_reconfirmation';

/**
 * Whether this authorization needs a person-document match, and how recent: asked by the merchant's
 * security level 3, by `acr_values`, or by an `acr` claim request naming the person-match class.
 * `maxAge` (seconds) bounds its age. For a security-level-3 merchant the platform's `levelThreeMaxAge`
 * is a floor the request can only tighten: a larger `max_age` does not loosen it.
 */
export function stepUpDemand(
  oidc: KoaContextWithOIDC['oidc'],
  levelThreeMaxAge: number,
): { maxAge?: number } | undefined {
  const params = oidc.params as { max_age?: number };
  const asked = askedAcrs(oidc);
  const levelThree = oidc.client ? securityLevelOf(oidc.client) >= 3 : false;
  if (!levelThree && !asked.has(ACR.personMatch)) return undefined;
  const bounds = [
    ...(params.max_age !== undefined ? [Number(params.max_age)] : []),
    ...(levelThree ? [levelThreeMaxAge] : []),
  ];
  return bounds.length ? { maxAge: Math.min(...bounds) } : {};
}

/** The acr values a request names, with `acr_values` or an `acr` claim request. */
function askedAcrs(oidc: KoaContextWithOIDC['oidc']): Set<unknown> {
  const params = oidc.params as { acr_values?: string };
  const claimed = (oidc.claims as { id_token?: { acr?: { value?: unknown; values?: unknown } } }).id_token?.acr;
  return new Set([
    ...String(params.acr_values ?? '').split(' '),
    ...(Array.isArray(claimed?.values) ? claimed.values : []),
    ...(claimed?.value !== undefined ? [claimed.value] : []),
  ]);
}

/**
 * Whether this authorization must be signed in with a passkey: the merchant is registered with
 * `--require-passkey`, or the request names the phishing-resistant acr (`acr_values` or an `acr`
 * claim request). Naming it with other acrs beside it still demands it: `acr_values` lists the
 * classes a merchant would accept, and this platform never downgrades a class it can produce.
 */
export function passkeyDemanded(oidc: KoaContextWithOIDC['oidc']): boolean {
  return (oidc.client ? requiresPasskey(oidc.client) : false) || askedAcrs(oidc).has(ACR.phishingResistant);
}

/**
 * oidc-provider's default prompts with three more checks: on the login prompt, a step-up is due
 * when the session's authentication is not a person-document match recent enough for this
 * request, and a sign-in is due when a passkey is demanded and the session used none; on the consent prompt, a request for the dossier asks the person to re-confirm with
 * partial knowledge (docs/background.md#partial-knowledge) even when a grant already holds it, at every authorization.
 */
export function platformPolicy(levelThreeMaxAge: number) {
  const { Check, base } = interactionPolicy;
  const policy = base();
  const login = policy.get('login')!;
  // oidc-provider's no_session check looks at the session's accountId alone; a session whose
  // account findAccount no longer finds (an operator disabled it, src/accounts/disabling.ts) is no
  // sign-in, and going on without an account fails further down with a server error.
  login.checks.add(
    new Check(ACCOUNT_NOT_FOUND, "the session's account cannot sign in", (ctx) =>
      ctx.oidc.session?.accountId && !ctx.oidc.account ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
  login.checks.add(
    new Check(STEP_UP, 'a fresh person-document match is required', (ctx) => {
      const { oidc } = ctx;
      const session = oidc.session;
      if (!session?.accountId) return Check.NO_NEED_TO_PROMPT;
      const demand = stepUpDemand(oidc, levelThreeMaxAge);
      if (!demand) return Check.NO_NEED_TO_PROMPT;
      const done = session.acr === ACR.personMatch && (demand.maxAge === undefined || !session.past(demand.maxAge));
      return done ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  // Asked even before anyone signed in, so the sign-in page can say a passkey is needed.
  login.checks.add(
    new Check(PASSKEY_REQUIRED, 'a sign-in with a passkey is required', (ctx) => {
      const { oidc } = ctx;
      if (!passkeyDemanded(oidc)) return Check.NO_NEED_TO_PROMPT;
      return usedPasskey(oidc.session?.amr as string[] | undefined) ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  const consent = policy.get('consent')!;
  consent.checks.add(
    new Check(
      DOSSIER_RECONFIRMATION,
      'the dossier is released only after the person re-confirms',
      'consent_required',
      (ctx) => {
        const { oidc } = ctx;
        const asked = (oidc.requestParamOIDCScopes as Set<string>).has(LEVEL_SCOPES.dossier);
        const granted = oidc.grant
          ? new Set(String(oidc.grant.getOIDCScope()).split(' ')).has(LEVEL_SCOPES.dossier)
          : false;
        const confirmed = (oidc.result?.consent as { reconfirmed?: boolean } | undefined)?.reconfirmed === true;
        return asked && granted && !confirmed ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT;
      },
    ),
  );
  return policy;
}
