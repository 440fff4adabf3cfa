// What a passkey proves, in RFC 8176's vocabulary of authentication methods (`amr`).

/** The facts of one passkey use that decide its methods. */
export interface PasskeyUse {
  /** The BE flag of the authenticator data (WebAuthn L3 §6.1): a synced passkey is `multiDevice`. */
  deviceType: 'singleDevice' | 'multiDevice';
  /** The UV flag: the authenticator checked a PIN or a biometric before it signed (§6.1). */
  userVerified: boolean;
}

/**
 * RFC 8176 §2 methods of a passkey use:
 * - `hwk` (proof of possession of a hardware-secured key) when the credential is bound to one
 *   device (backup eligibility, BE, clear); `swk` (software-secured key) when it is backup eligible,
 *   since its private key then leaves the device to be synced. BE is signed inside the
 *   authenticator data; `authenticatorAttachment` is reported by the browser, unsigned, so it
 *   decides nothing.
 * - `user` when the authenticator verified the person (UV); UV includes the user presence that
 *   RFC 8176 names `user`.
 * - With `afterPassword`, `pwd` first and `mfa` last: two independent factors were checked. A
 *   passkey alone is one factor to this platform, even when the authenticator verified a PIN or a
 *   fingerprint: only the authenticator saw that.
 */
export function passkeyAmr(use: PasskeyUse, afterPassword = false): string[] {
  return [
    ...(afterPassword ? ['pwd'] : []),
    use.deviceType === 'singleDevice' ? 'hwk' : 'swk',
    ...(use.userVerified ? ['user'] : []),
    ...(afterPassword ? ['mfa'] : []),
  ];
}

/** Whether a session's methods include a passkey. */
export function usedPasskey(amr: readonly string[] | undefined): boolean {
  return !!amr && (amr.includes('hwk') || amr.includes('swk'));
}
