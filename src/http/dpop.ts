// The platform's own resources (dossier images, the check and notary APIs) as RFC 9449 resource
// servers: an access token bound to a DPoP key is accepted only with a proof of that key made for
// this request, and never as a bearer token. Userinfo is oidc-provider's, which does the same.
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, errors as joseErrors, jwtVerify, type JWK } from 'jose';
import type { Context } from 'koa';
import { FAPI_SIGNING_ALGS } from '../clients/keys.js';
import { PlatformError } from '../errors.js';

/** How far a proof's `iat` may be from now, in seconds (oidc-provider's window, lib/helpers/challenge.js). */
export const PROOF_WINDOW = 300;

/** Where a resource records the proofs it accepted (src/oidc/dpop-proofs.ts). */
export interface ProofLedger {
  firstUse(jkt: string, jti: string, expiresAt: Date): Promise<boolean>;
}

/** An access token as the request presents it: the scheme says whether it claims a DPoP binding. */
export interface PresentedToken {
  scheme: 'Bearer' | 'DPoP';
  value: string;
}

// RFC 6750 §2.1 and RFC 9449 §7.1: the token68 syntax, under either scheme.
const AUTHORIZATION = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]{1,4096}=*)$/i;

/** The access token of the `Authorization` header, or undefined when there is none of either scheme. */
export function presentedToken(ctx: Context): PresentedToken | undefined {
  const match = AUTHORIZATION.exec(ctx.get('authorization'));
  if (!match) return undefined;
  return { scheme: match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', value: match[2]! };
}

/** RFC 9449 §7.1: the DPoP challenge, with the algorithms a proof may use. */
export function dpopChallenge(ctx: Context, realm: string, error: 'invalid_token' | 'invalid_dpop_proof'): void {
  ctx.set('WWW-Authenticate', `DPoP realm="${realm}", error="${error}", algs="${FAPI_SIGNING_ALGS.join(' ')}"`);
}

/**
 * Checks that `presented` may use a token bound to `jkt` (undefined: a bearer token): RFC 9449 §7.1
 * for a bound token (the DPoP scheme, one valid proof for this method and URL, of the bound key,
 * with `ath` of this token, within the window, never seen before), and §7.2 for the rest (a bearer
 * token presented with the DPoP scheme is refused: it proves nothing). Throws a 401 with the
 * challenge.
 */
export async function assertSenderConstraint(
  ctx: Context,
  proofs: ProofLedger,
  presented: PresentedToken,
  jkt: string | undefined,
  realm: string,
): Promise<void> {
  const refuse = (error: 'invalid_token' | 'invalid_dpop_proof', message: string): never => {
    dpopChallenge(ctx, realm, error);
    throw new PlatformError(error === 'invalid_token' ? 'invalid-token' : 'invalid-dpop-proof', 401, message);
  };
  if (!jkt) {
    if (presented.scheme === 'DPoP') refuse('invalid_token', 'The access token is not bound to a DPoP key.');
    return;
  }
  if (presented.scheme !== 'DPoP')
    refuse('invalid_token', 'The access token is bound to a DPoP key: present it with the DPoP scheme and a proof.');
  const header = ctx.req.headers.dpop;
  if (typeof header !== 'string' || !header) refuse('invalid_dpop_proof', 'Exactly one DPoP proof is required.');
  const proof = await verifyProof(header as string).catch(() => undefined);
  if (!proof) return refuse('invalid_dpop_proof', 'The DPoP proof is not a valid signed dpop+jwt.');
  const { payload, jwk } = proof;
  if (payload.htm !== ctx.method) refuse('invalid_dpop_proof', 'The DPoP proof is for another method.');
  if (!sameResource(payload.htu, ctx.href)) refuse('invalid_dpop_proof', 'The DPoP proof is for another URL.');
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > PROOF_WINDOW)
    refuse('invalid_dpop_proof', 'The DPoP proof is not recent.');
  if (payload.ath !== createHash('sha256').update(presented.value).digest('base64url'))
    refuse('invalid_dpop_proof', 'The DPoP proof is for another access token.');
  if ((await calculateJwkThumbprint(jwk)) !== jkt)
    refuse('invalid_dpop_proof', 'The DPoP proof is signed by another key than the token is bound to.');
  if (typeof payload.jti !== 'string' || !payload.jti || payload.jti.length > 200)
    refuse('invalid_dpop_proof', 'The DPoP proof has no jti.');
  // Kept past the last moment the window could accept the proof: iat + window.
  const expiresAt = new Date((Math.max(now, payload.iat as number) + PROOF_WINDOW) * 1000);
  if (!(await proofs.firstUse(jkt, payload.jti as string, expiresAt)))
    refuse('invalid_dpop_proof', 'The DPoP proof was already used.');
}

/** RFC 9449 §4.2–§4.3: a dpop+jwt, signed by the public key in its header, with an allowed algorithm. */
async function verifyProof(proof: string) {
  try {
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: [...FAPI_SIGNING_ALGS],
    });
    return { payload, jwk: protectedHeader.jwk as JWK };
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) return undefined;
    throw err;
  }
}

/** RFC 9449 §4.3 (9): `htu` names this URI, without query and fragment. */
function sameResource(htu: unknown, requested: string): boolean {
  if (typeof htu !== 'string' || !URL.canParse(htu)) return false;
  const claimed = new URL(htu);
  const actual = new URL(requested);
  for (const url of [claimed, actual]) {
    url.search = '';
    url.hash = '';
  }
  return claimed.href === actual.href;
}
