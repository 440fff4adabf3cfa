/**
 * Normalizes and checks identity document numbers before any verification provider is called, so
 * a typo costs the person a message instead of a paid provider call. Pure: no I/O, no clock unless
 * `options.today` is omitted. Messages never echo the number (CONVENTIONS "never log identity data").
 */

export const DOCUMENT_TYPES = [
  'cn_resident_id',
  'passport',
  'hk_macao_permit',
  'taiwan_permit',
  'foreign_permanent_id',
  'military_officer',
  'other',
] as const;

export type DocumentType = (typeof DOCUMENT_TYPES)[number];

export type DocumentCheck =
  | { ok: true; type: DocumentType; number: string; birthDate?: string; gender?: 'male' | 'female' }
  | { ok: false; code: 'empty' | 'format' | 'checksum' | 'birth_date' | 'unknown_type'; message: string };

type Failure = Extract<DocumentCheck, { ok: false }>;
type Success = Omit<Extract<DocumentCheck, { ok: true }>, 'ok' | 'type' | 'number'>;
type Checker = (number: string, today: string) => Success | Failure;

// Far longer than any document number; refusing early keeps NFKC and the regexes cheap.
const MAX_RAW_LENGTH = 256;

// Whitespace, dashes (U+2010–U+2015, minus sign, small/full-width hyphen), dots (full stop,
// middle dots, ideographic full stop), underscore, and invisible format characters (ZWSP, BOM,
// soft hyphen: \p{Cf}) that copy-paste from PDFs and chat apps leaves in numbers.
const SEPARATORS = /[\s\p{Cf}\-_\u2010-\u2015\u2212\uFE58\uFE63.\u00B7\u2022\u2027\u30FB\u3002]/gu;

/** NFKC (full-width → ASCII), drop separators, uppercase (so a lowercase check `x` becomes `X`). */
export function normalizeDocumentNumber(raw: string): string {
  return raw.normalize('NFKC').replace(SEPARATORS, '').toUpperCase();
}

export function checkDocumentNumber(type: string, raw: string, options: { today?: Date } = {}): DocumentCheck {
  if (!isDocumentType(type)) return fail('unknown_type', 'Unknown document type.');
  if (typeof raw !== 'string') return fail('empty', 'Enter the document number.');
  if (raw.length > MAX_RAW_LENGTH) return fail('format', 'The document number is too long.');
  const number = normalizeDocumentNumber(raw);
  if (number === '') return fail('empty', 'Enter the document number.');
  const result = CHECKERS[type](number, chinaDate(options.today ?? new Date()));
  return 'code' in result ? result : { ok: true, type, number, ...result };
}

function isDocumentType(type: string): type is DocumentType {
  return (DOCUMENT_TYPES as readonly string[]).includes(type);
}

const CHECKERS: Record<DocumentType, Checker> = {
  cn_resident_id: checkResidentId,
  foreign_permanent_id: checkForeignPermanentId,
  passport: checkPassport,
  hk_macao_permit: checkHkMacaoPermit,
  taiwan_permit: checkTaiwanPermit,
  military_officer: checkOfficerCard,
  other: (n) =>
    /^[A-Z0-9\p{Script=Han}]{4,40}$/u.test(n) ? {} : formatError('a document number (4–40 letters and digits)'),
};

/**
 * Passports. Chinese ordinary e-passports are `E` + 8 digits (2012–), `E` + letter + 7 digits once
 * the E series ran out, and `G` + 8 digits (before 2012); foreign passports vary by issuer (ICAO
 * Doc 9303's machine-readable zone has a 9-character number field, but issuers differ in length
 * and alphabet). All of these fit the permissive bound: 5–20 letters and digits, at least one
 * digit. The provider, not this shape check, decides whether the passport exists.
 */
function checkPassport(n: string): Success | Failure {
  return /^(?=.*\d)[A-Z0-9]{5,20}$/.test(n) ? {} : formatError('a passport number (5–20 letters and digits)');
}

/**
 * Both directions between the mainland and Hong Kong/Macao:
 * - 往来港澳通行证 (mainland residents' card, 2014–): `C` + 8 digits, or `C` + a letter other than
 *   I/O + 7 digits once the all-digit series ran out.
 * - 港澳居民来往内地通行证 (Home Return Permit): `H` (Hong Kong) or `M` (Macao) + 8 digits as
 *   printed on the card, or + 10 digits where the 2-digit issue count is appended (older records).
 */
function checkHkMacaoPermit(n: string): Success | Failure {
  return /^(?:C\d{8}|C[A-HJ-NP-Z]\d{7}|[HM]\d{8}(?:\d{2})?)$/.test(n)
    ? {}
    : formatError('a Hong Kong/Macao permit number (C + 8 characters, or H/M + 8 or 10 digits)');
}

/**
 * 台湾居民来往大陆通行证: the card (2015–) carries an 8-digit number that stays the same across
 * renewals; the older booklets carried 10 characters (digits, sometimes with letters). The
 * booklet's bracketed issue-count letter, e.g. "(B)", is not part of the number and is refused.
 */
function checkTaiwanPermit(n: string): Success | Failure {
  return /^(?:\d{8}|(?=.*\d)[A-Z0-9]{10})$/.test(n)
    ? {}
    : formatError('a Taiwan residents permit number (8 digits, or 10 letters and digits)');
}

/**
 * 军官证: no published national format. Printed numbers look like `南字第012345号` (an optional
 * unit character, 字第, 4–10 digits, an optional 号); systems that re-key them use 6–12 letters
 * and digits. Both are accepted, bounded.
 */
function checkOfficerCard(n: string): Success | Failure {
  return /^(?:\p{Script=Han}?字第\d{4,10}号?|(?=.*\d)[A-Z0-9]{6,12})$/u.test(n)
    ? {}
    : formatError('an officer card number (such as 南字第012345号, or 6–12 letters and digits)');
}

/**
 * Citizen identity number, GB 11643-1999 §5–§7: 6-digit address code (GB/T 2260; first digit is
 * the region 1–8, where 81/82/83 are the Hong Kong/Macao/Taiwan residence permits of 2018, which
 * share this format), 8-digit birth date (GB/T 7408), 3-digit sequence (odd = male, even = female)
 * and an ISO 7064 MOD 11-2 check character. The 15-digit first-generation numbers stopped being
 * valid on 2013-01-01 (Resident Identity Card Law, 2011 amendment) and are refused.
 */
function checkResidentId(n: string, today: string): Success | Failure {
  if (/^\d{15}$/.test(n)) {
    return fail(
      'format',
      'This is a retired 15-digit first-generation ID number; enter the 18-digit number on the current card.',
    );
  }
  if (/^9\d{16}[\dX]$/.test(n)) {
    return fail(
      'format',
      'Numbers starting with 9 are foreign permanent resident ID numbers; choose that document type.',
    );
  }
  if (!/^[1-8]\d{16}[\dX]$/.test(n)) return formatError('an 18-character citizen ID number');
  return checkGb11643Body(n, today);
}

/**
 * Foreign Permanent Resident ID Card (外国人永久居留身份证).
 * - 2023 card (issued from 2023-12-01; National Immigration Administration, 《新版外国人永久居留
 *   身份证适配性改造要点》): 18 characters modelled on GB 11643 — `9` (foreigner marker), 2-digit
 *   code of the accepting province, 3-digit nationality code (the old 3-letter code made numeric),
 *   8-digit birth date, 3-digit sequence, MOD 11-2 check character "the same as the citizen
 *   identity number". The notice does not say the sequence encodes sex, so no gender is returned.
 * - 2004/2017 cards: 15 characters, "3 Latin letters + 12 digits": ISO 3166-1 alpha-3 nationality,
 *   4-digit accepting-authority code, birth date YYMMDD, 2 more digits (e.g. KAZ110090123105).
 *   Its check algorithm is not published, so only the shape and a real month/day are checked; the
 *   century is not encoded, so no birth date is returned.
 */
function checkForeignPermanentId(n: string, today: string): Success | Failure {
  if (/^[A-Z]{3}\d{12}$/.test(n)) {
    const [yy, mm, dd] = [n.slice(7, 9), n.slice(9, 11), n.slice(11, 13)];
    const real = ['19', '20'].some((century) => isCalendarDate(`${century}${yy}-${mm}-${dd}`));
    return real ? {} : fail('birth_date', 'The birth date in the number is not a real date.');
  }
  if (!/^9[1-8]\d{15}[\dX]$/.test(n)) {
    return formatError(
      'a foreign permanent resident ID number (18 characters starting with 9, or 3 letters + 12 digits)',
    );
  }
  const result = checkGb11643Body(n, today);
  return 'code' in result ? result : { birthDate: result.birthDate };
}

/** Birth date (positions 7–14), then the MOD 11-2 check character (position 18). */
function checkGb11643Body(n: string, today: string): Success | Failure {
  const birthDate = `${n.slice(6, 10)}-${n.slice(10, 12)}-${n.slice(12, 14)}`;
  if (!isCalendarDate(birthDate)) return fail('birth_date', 'The birth date in the number is not a real date.');
  if (birthDate < '1900-01-01' || birthDate > today) {
    return fail('birth_date', 'The birth date in the number is outside the possible range.');
  }
  if (mod11_2CheckCharacter(n.slice(0, 17)) !== n[17]) {
    return fail('checksum', 'The number is mistyped: its last character does not match the others.');
  }
  return { birthDate, gender: Number(n[16]) % 2 === 1 ? 'male' : 'female' };
}

// ISO 7064 MOD 11-2 as GB 11643-1999 §7.2 applies it: weight 2^(i-1) mod 11 for position i
// counted from the right (the check character is i = 1); remainder r maps to this table.
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARACTERS = '10X98765432';

function mod11_2CheckCharacter(body: string): string {
  const sum = WEIGHTS.reduce((total, weight, i) => total + weight * Number(body[i]), 0);
  return CHECK_CHARACTERS[sum % 11]!;
}

function isCalendarDate(iso: string): boolean {
  const date = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === iso;
}

// A birth date is "in the future" by the calendar in China (UTC+8, no daylight saving since 1991),
// so a number issued to a baby born just after midnight Beijing time is not refused.
function chinaDate(now: Date): string {
  return new Date(now.getTime() + 8 * 3_600_000).toISOString().slice(0, 10);
}

function formatError(expected: string): Failure {
  return fail('format', `The number does not have the form of ${expected}.`);
}

function fail(code: Failure['code'], message: string): Failure {
  return { ok: false, code, message };
}
