import { z } from 'zod';

/** A login is an email address or a mobile number, stored in one normalized form. */
export interface NormalizedLogin {
  login: string;
  type: 'email' | 'phone';
}

const email = z.email();

/**
 * Normalizes what a person typed as their login. Full-width characters are folded (NFKC) since
 * Chinese IMEs produce them; emails are lowercased; mobile numbers become E.164 (ITU-T E.164),
 * with mainland numbers (11 digits starting 1[3-9]) given +86. Returns null when it is neither.
 */
export function normalizeLogin(raw: string): NormalizedLogin | null {
  const text = raw.normalize('NFKC').trim();
  if (text.length === 0 || text.length > 254) return null;
  if (text.includes('@')) {
    const lower = text.toLowerCase();
    return email.safeParse(lower).success ? { login: lower, type: 'email' } : null;
  }
  const compact = text.replace(/[\s()-]/g, '');
  const mainland = /^(?:\+86|0086|86)?(1[3-9]\d{9})$/.exec(compact);
  if (mainland) return { login: `+86${mainland[1]}`, type: 'phone' };
  if (/^\+[1-9]\d{7,14}$/.test(compact)) return { login: compact, type: 'phone' };
  return null;
}
