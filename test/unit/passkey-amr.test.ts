import { passkeyAmr, usedPasskey } from '../../src/passkeys/amr.js';

// RFC 8176 methods of a passkey use (src/passkeys/amr.ts): the signed BE flag decides hwk or swk.
describe('passkey amr', () => {
  it('says hwk for a device-bound passkey and swk for a synced one', () => {
    expect(passkeyAmr({ deviceType: 'singleDevice', userVerified: true })).toEqual(['hwk', 'user']);
    expect(passkeyAmr({ deviceType: 'multiDevice', userVerified: true })).toEqual(['swk', 'user']);
  });

  it('says user only when the authenticator verified the person', () => {
    expect(passkeyAmr({ deviceType: 'singleDevice', userVerified: false })).toEqual(['hwk']);
  });

  it('says pwd and mfa only after a password', () => {
    expect(passkeyAmr({ deviceType: 'multiDevice', userVerified: false }, true)).toEqual(['pwd', 'swk', 'mfa']);
    expect(passkeyAmr({ deviceType: 'singleDevice', userVerified: true }, true)).toEqual(['pwd', 'hwk', 'user', 'mfa']);
  });

  it('finds a passkey in a session’s methods', () => {
    expect(usedPasskey(['pwd'])).toBe(false);
    expect(usedPasskey(undefined)).toBe(false);
    expect(usedPasskey(['pwd', 'face'])).toBe(false);
    expect(usedPasskey(['swk', 'user'])).toBe(true);
    expect(usedPasskey(['hwk', 'user', 'face'])).toBe(true);
  });
});
