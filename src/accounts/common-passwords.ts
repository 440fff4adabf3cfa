import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * The passwords people pick most: the `passwords-common` list of zxcvbn-ts (49,233 passwords
 * ranked by how often they appear in published breach corpora; npm `@zxcvbn-ts/language-common`,
 * MIT). OWASP ASVS 5.0 §6.2.4 asks for at least the top 3,000; NIST SP 800-63B §3.1.1.2 for a
 * blocklist of values known to be commonly used or compromised. Built once, on first use.
 */
let common: Set<string> | undefined;

function commonPasswords(): Set<string> {
  common ??= new Set(dictionary['passwords-common'] as string[]);
  return common;
}

/**
 * True when the password is a common one, ignoring case and full-width forms, also with the
 * digits and symbols people append to satisfy a rule taken off (`Passw0rd!`, `woaini1314`).
 */
export function isCommonPassword(password: string): boolean {
  const folded = password.normalize('NFKC').toLowerCase();
  const list = commonPasswords();
  if (list.has(folded)) return true;
  const stem = folded.replace(/[^\p{L}]+$/u, '');
  return stem.length >= 4 && stem !== folded && list.has(stem);
}
