import { parseClientJwks } from '../../src/clients/keys.js';
import { InvalidInput } from '../../src/errors.js';

const rsa = { kty: 'RSA', n: 'AQAB', e: 'AQAB' };
const p256 = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' };
const ed25519 = { kty: 'OKP', crv: 'Ed25519', x: 'x' };

/** The codes of the refusal, or [] when the set is accepted. */
function refusal(keys: object[], needs: { fapi: boolean; encryptionAlgs?: string[] }): string[] {
  try {
    parseClientJwks({ keys }, { fapi: needs.fapi, encryptionAlgs: needs.encryptionAlgs ?? [] });
    return [];
  } catch (err) {
    if (!(err instanceof InvalidInput)) throw err;
    return (err.extra.errors ?? []).map((e) => e.code);
  }
}

// What a client may register as its keys (src/clients/keys.ts), under FAPI 2.0 and otherwise.
describe('a client key set', () => {
  it('takes public keys a FAPI 2.0 client can sign with: PS256, ES256 or EdDSA', () => {
    expect(refusal([p256], { fapi: true })).toEqual([]);
    expect(refusal([ed25519], { fapi: true })).toEqual([]);
    expect(refusal([{ ...rsa, alg: 'PS256' }], { fapi: true })).toEqual([]);
    expect(refusal([rsa], { fapi: true })).toEqual([]); // an RSA key without alg may sign PS256
  });

  it('refuses an RS256-only set, or a curve FAPI 2.0 does not allow, under FAPI 2.0 alone', () => {
    expect(refusal([{ ...rsa, alg: 'RS256' }], { fapi: true })).toEqual(['no_fapi_signing_key']);
    expect(refusal([{ ...p256, crv: 'P-384' }], { fapi: true })).toEqual(['no_fapi_signing_key']);
    expect(refusal([{ ...p256, use: 'enc' }], { fapi: true })).toEqual(['no_fapi_signing_key']);
    expect(refusal([{ ...rsa, alg: 'RS256' }], { fapi: false })).toEqual([]);
  });

  it('refuses private or symmetric keys, unknown key types and an empty set', () => {
    expect(refusal([{ ...p256, d: 'secret' }], { fapi: false })).toEqual(['custom']);
    expect(refusal([{ kty: 'oct', k: 'secret' }], { fapi: false })).toEqual(['invalid_value']);
    expect(refusal([], { fapi: false })).toEqual(['too_small']);
  });

  it('needs a key for each encryption algorithm the client asks for', () => {
    expect(refusal([p256], { fapi: false, encryptionAlgs: ['ECDH-ES'] })).toEqual([]);
    expect(refusal([p256], { fapi: false, encryptionAlgs: ['RSA-OAEP-256'] })).toEqual(['no_encryption_key']);
    expect(refusal([{ ...rsa, use: 'sig' }], { fapi: false, encryptionAlgs: ['RSA-OAEP-256'] })).toEqual([
      'no_encryption_key',
    ]);
    expect(refusal([{ ...rsa, alg: 'RSA-OAEP-256' }], { fapi: false, encryptionAlgs: ['RSA-OAEP-256'] })).toEqual([]);
  });
});
