// A client's own public keys (RFC 7591 §2 `jwks` / `jwks_uri`): what a registration may hold, and
// what the FAPI 2.0 Security Profile asks of them.
import { z } from 'zod';
import { InvalidInput } from '../errors.js';

/**
 * The algorithms a FAPI 2.0 client may sign with (FAPI 2.0 Security Profile §5.4.1: PS256, ES256 or
 * EdDSA with Ed25519, which RFC 9864 names `Ed25519`); the same list serves its client assertions
 * and its DPoP proofs.
 */
export const FAPI_SIGNING_ALGS = ['PS256', 'ES256', 'EdDSA', 'Ed25519'] as const;
/** ID tokens of a FAPI 2.0 client are signed with one of these (the platform has RSA and P-256 keys). */
export const FAPI_ID_TOKEN_ALGS = ['PS256', 'ES256'] as const;
/** What the platform signs a JWT userinfo answer with, when a client registers one. */
export const USERINFO_SIGNING_ALGS = ['RS256', 'PS256', 'ES256'] as const;
/** Key management algorithms the platform encrypts ID tokens and userinfo to (RFC 7518 §4). */
export const ENCRYPTION_ALGS = ['RSA-OAEP-256', 'ECDH-ES', 'ECDH-ES+A256KW'] as const;
/** Content encryption the platform uses (RFC 7518 §5). */
export const ENCRYPTION_ENCS = ['A256GCM', 'A128GCM'] as const;

/** Members of a private or symmetric key: a client registers public keys only. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const jwk = z
  .object({
    kty: z.enum(['RSA', 'EC', 'OKP']),
    kid: z.string().min(1).max(200).optional(),
    use: z.enum(['sig', 'enc']).optional(),
    alg: z.string().min(1).max(50).optional(),
    crv: z.string().optional(),
  })
  .loose()
  .refine((key) => PRIVATE_MEMBERS.every((member) => !(member in key)), 'a public key, without private members');

export const jwksSchema = z.object({ keys: z.array(jwk).min(1).max(20) });
export type ClientJwks = z.infer<typeof jwksSchema>;
type Jwk = ClientJwks['keys'][number];

/** Whether a key can verify signatures made with one of the FAPI 2.0 algorithms. */
function signsUnderFapi(key: Jwk): boolean {
  if (key.use === 'enc') return false;
  if (key.alg) return (FAPI_SIGNING_ALGS as readonly string[]).includes(key.alg);
  if (key.kty === 'EC') return key.crv === 'P-256';
  if (key.kty === 'OKP') return key.crv === 'Ed25519';
  return true; // an RSA key without `alg` may sign with PS256
}

/** Whether a key can receive content encrypted with `alg`. */
function encryptsTo(key: Jwk, alg: string): boolean {
  if (key.use === 'sig') return false;
  if (key.alg) return key.alg === alg;
  return alg.startsWith('RSA') ? key.kty === 'RSA' : key.kty === 'EC' || (key.kty === 'OKP' && key.crv === 'X25519');
}

/**
 * Parses a JWKS a client registers, refusing what could not work: private keys, and under FAPI 2.0
 * a set with no key for PS256, ES256 or EdDSA (an RS256-only client, FAPI 2.0 §5.4.1); with an
 * encrypted response, a set with no key for its algorithm.
 */
export function parseClientJwks(
  value: unknown,
  needs: { fapi: boolean; encryptionAlgs: string[] },
  field = 'jwks',
): ClientJwks {
  const parsed = jwksSchema.safeParse(value);
  if (!parsed.success) {
    throw new InvalidInput(
      parsed.error.issues.map((i) => ({ field: [field, ...i.path].join('.'), code: i.code, message: i.message })),
    );
  }
  const { keys } = parsed.data;
  if (needs.fapi && !keys.some(signsUnderFapi)) {
    throw new InvalidInput([
      {
        field,
        code: 'no_fapi_signing_key',
        message: `a FAPI 2.0 client needs a key for ${FAPI_SIGNING_ALGS.join(', ')}`,
      },
    ]);
  }
  for (const alg of needs.encryptionAlgs) {
    if (!keys.some((key) => encryptsTo(key, alg))) {
      throw new InvalidInput([{ field, code: 'no_encryption_key', message: `no key to encrypt to with ${alg}` }]);
    }
  }
  return parsed.data;
}
