import { describe, expect, it } from '@jest/globals';
import { DOCUMENT_TYPES, checkDocumentNumber, normalizeDocumentNumber } from '../../src/identity/document-number.js';

// A fixed "today" (2025-06-15 08:00 in Beijing) keeps the birth-date range checks deterministic.
const today = new Date('2025-06-15T00:00:00Z');
const check = (type: string, raw: string) => checkDocumentNumber(type, raw, { today });

// Independent GB 11643-1999 §7.2 check character: weights 2^(i-1) mod 11 from the right.
function withCheckCharacter(body17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i += 1) sum += Number(body17[i]) * (2 ** (17 - i) % 11);
  return body17 + '10X98765432'[sum % 11];
}

describe('DOCUMENT_TYPES', () => {
  it('lists the stable type names of docs/product.md#document-types', () => {
    expect(DOCUMENT_TYPES).toEqual([
      'cn_resident_id',
      'passport',
      'hk_macao_permit',
      'taiwan_permit',
      'foreign_permanent_id',
      'military_officer',
      'other',
    ]);
  });
});

describe('normalizeDocumentNumber', () => {
  it('turns full-width digits and letters into ASCII and uppercases the check character', () => {
    expect(normalizeDocumentNumber('１１０１０５１９４９１２３１００２ｘ')).toBe('11010519491231002X');
  });

  it('drops spaces, dashes, dots and invisible characters', () => {
    expect(normalizeDocumentNumber(' 110105 1949-1231.002x ')).toBe('11010519491231002X');
    expect(normalizeDocumentNumber('110105\u3000194912\u201431\u00B7002\u200BX\uFEFF')).toBe('11010519491231002X');
    expect(normalizeDocumentNumber('e12_345－678')).toBe('E12345678');
  });

  it('keeps Han characters, which officer card numbers carry', () => {
    expect(normalizeDocumentNumber('南字第 012345 号')).toBe('南字第012345号');
  });
});

describe('checkDocumentNumber for cn_resident_id', () => {
  it('accepts the published sample and returns its birth date and gender (even sequence = female)', () => {
    expect(check('cn_resident_id', '11010519491231002X')).toEqual({
      ok: true,
      type: 'cn_resident_id',
      number: '11010519491231002X',
      birthDate: '1949-12-31',
      gender: 'female',
    });
  });

  it('reads an odd sequence as male', () => {
    expect(check('cn_resident_id', withCheckCharacter('44030419900101123'))).toMatchObject({
      ok: true,
      birthDate: '1990-01-01',
      gender: 'male',
    });
  });

  it('accepts full-width input, separators and a lowercase x', () => {
    for (const raw of [
      '１１０１０５１９４９１２３１００２ｘ',
      '110105-19491231-002x',
      '110105 1949 1231 002X',
      '11010519491231002x',
    ]) {
      expect(check('cn_resident_id', raw)).toMatchObject({ ok: true, number: '11010519491231002X' });
    }
  });

  it('accepts exactly one check character per body', () => {
    const passing = [...'0123456789X'].filter((c) => check('cn_resident_id', `11010519491231002${c}`).ok);
    expect(passing).toEqual(['X']);
  });

  it('refuses a wrong check character with code checksum', () => {
    expect(check('cn_resident_id', '110105194912310021')).toMatchObject({ ok: false, code: 'checksum' });
    expect(check('cn_resident_id', '110105194912310120')).toMatchObject({ ok: false, code: 'checksum' });
  });

  it('refuses Feb 29 in a non-leap year and accepts it in a leap year', () => {
    expect(check('cn_resident_id', withCheckCharacter('11010520230229001'))).toMatchObject({
      ok: false,
      code: 'birth_date',
    });
    expect(check('cn_resident_id', withCheckCharacter('11010519000229001'))).toMatchObject({
      ok: false,
      code: 'birth_date',
    });
    expect(check('cn_resident_id', withCheckCharacter('11010520240229001'))).toMatchObject({
      ok: true,
      birthDate: '2024-02-29',
    });
  });

  it('refuses impossible months and days', () => {
    for (const body of ['11010519901301001', '11010519900001001', '11010519900431001', '11010519900100001']) {
      expect(check('cn_resident_id', withCheckCharacter(body))).toMatchObject({ ok: false, code: 'birth_date' });
    }
  });

  it('refuses a birth date in the future', () => {
    expect(check('cn_resident_id', withCheckCharacter('11010520991231001'))).toMatchObject({
      ok: false,
      code: 'birth_date',
    });
    expect(check('cn_resident_id', withCheckCharacter('11010520250616001'))).toMatchObject({
      ok: false,
      code: 'birth_date',
    });
  });

  it('judges "today" by the calendar in Beijing (UTC+8)', () => {
    const bornToday = withCheckCharacter('11010520250615001');
    expect(checkDocumentNumber('cn_resident_id', bornToday, { today: new Date('2025-06-14T16:30:00Z') }).ok).toBe(true);
    expect(checkDocumentNumber('cn_resident_id', bornToday, { today: new Date('2025-06-14T15:30:00Z') })).toMatchObject(
      { code: 'birth_date' },
    );
  });

  it('refuses birth dates before 1900-01-01 and accepts 1900-01-01', () => {
    expect(check('cn_resident_id', withCheckCharacter('31011518991231000'))).toMatchObject({
      ok: false,
      code: 'birth_date',
    });
    expect(check('cn_resident_id', withCheckCharacter('31011519000101000'))).toMatchObject({
      ok: true,
      birthDate: '1900-01-01',
    });
  });

  it('refuses retired 15-digit first-generation numbers, saying so', () => {
    const result = check('cn_resident_id', '110105491231002');
    expect(result).toMatchObject({ ok: false, code: 'format' });
    expect(!result.ok && result.message).toMatch(/retired/);
  });

  it('points a foreign permanent resident number to its own type', () => {
    const result = check('cn_resident_id', '932682198501010017');
    expect(result).toMatchObject({ ok: false, code: 'format' });
    expect(!result.ok && result.message).toMatch(/foreign permanent/i);
  });

  it('refuses wrong lengths, a region digit of 0 and an X anywhere but last', () => {
    for (const raw of [
      '11010519491231002',
      '11010519491231002XX',
      withCheckCharacter('01010519491231002'),
      '1101051949123100X2',
      'A10105194912310021',
    ]) {
      expect(check('cn_resident_id', raw)).toMatchObject({ ok: false, code: 'format' });
    }
  });

  it('accepts the 2018 Hong Kong/Macao/Taiwan residence permit numbers, which share the format', () => {
    expect(check('cn_resident_id', withCheckCharacter('81000019900101001')).ok).toBe(true);
  });

  it('never echoes the number in its message', () => {
    const result = check('cn_resident_id', '110105194912310021');
    expect(!result.ok && result.message).not.toContain('11010519491231002');
  });
});

describe('checkDocumentNumber for foreign_permanent_id', () => {
  it('accepts a 2023 number (9 + province + nationality + birth date + sequence + MOD 11-2)', () => {
    expect(check('foreign_permanent_id', '932682198501010017')).toEqual({
      ok: true,
      type: 'foreign_permanent_id',
      number: '932682198501010017',
      birthDate: '1985-01-01',
    });
  });

  it('refuses a 2023 number with a wrong check character or an impossible birth date', () => {
    expect(check('foreign_permanent_id', '932682198501010018')).toMatchObject({ ok: false, code: 'checksum' });
    expect(check('foreign_permanent_id', withCheckCharacter('93268219850230001'))).toMatchObject({
      ok: false,
      code: 'birth_date',
    });
    expect(check('foreign_permanent_id', withCheckCharacter('93268220990101001'))).toMatchObject({
      ok: false,
      code: 'birth_date',
    });
  });

  it('accepts the older 15-character number (3 letters + 12 digits), normalized', () => {
    expect(check('foreign_permanent_id', 'KAZ110090123105')).toEqual({
      ok: true,
      type: 'foreign_permanent_id',
      number: 'KAZ110090123105',
    });
    expect(check('foreign_permanent_id', 'usa 1100 741104 19')).toMatchObject({ ok: true, number: 'USA110074110419' });
  });

  it('refuses an older number whose month and day are not a date', () => {
    expect(check('foreign_permanent_id', 'USA110074130419')).toMatchObject({ ok: false, code: 'birth_date' });
    expect(check('foreign_permanent_id', 'USA110074023019')).toMatchObject({ ok: false, code: 'birth_date' });
  });

  it('refuses citizen numbers and other shapes', () => {
    for (const raw of [
      '11010519491231002X',
      'US1100741104190',
      'USA11007411041',
      withCheckCharacter('90268219850101001'),
    ]) {
      expect(check('foreign_permanent_id', raw)).toMatchObject({ ok: false, code: 'format' });
    }
  });
});

describe('checkDocumentNumber for passport', () => {
  it('accepts Chinese ordinary passports and foreign passports', () => {
    for (const raw of ['E12345678', 'EA1234567', 'G12345678', 'e 1234 5678', '123456789', 'K1234567', 'AB1234567890']) {
      expect(check('passport', raw)).toMatchObject({ ok: true, type: 'passport' });
    }
  });

  it('refuses numbers too short, too long, without digits or with symbols', () => {
    for (const raw of ['E123', 'A'.repeat(19) + '12', 'ABCDEFGH', 'E1234567!', '护照12345']) {
      expect(check('passport', raw)).toMatchObject({ ok: false, code: 'format' });
    }
  });
});

describe('checkDocumentNumber for hk_macao_permit', () => {
  it('accepts mainland residents\u2019 permits and Home Return Permits', () => {
    for (const raw of ['C12345678', 'CA1234567', 'c-a1234567', 'H12345678', 'M12345678', 'H1234567801']) {
      expect(check('hk_macao_permit', raw)).toMatchObject({ ok: true, type: 'hk_macao_permit' });
    }
  });

  it('refuses other shapes', () => {
    for (const raw of ['CI1234567', 'CO1234567', 'C1234567', 'H123456789', 'X12345678', 'E12345678']) {
      expect(check('hk_macao_permit', raw)).toMatchObject({ ok: false, code: 'format' });
    }
  });
});

describe('checkDocumentNumber for taiwan_permit', () => {
  it('accepts the 8-digit card number and the older 10-character numbers', () => {
    for (const raw of ['12345678', '１２３４５６７８', '0123456789', 'T123456789']) {
      expect(check('taiwan_permit', raw)).toMatchObject({ ok: true, type: 'taiwan_permit' });
    }
  });

  it('refuses other lengths and a bracketed issue letter', () => {
    for (const raw of ['1234567', '123456789', '12345678901', '0123456789(B)', 'ABCDEFGHIJ']) {
      expect(check('taiwan_permit', raw)).toMatchObject({ ok: false, code: 'format' });
    }
  });
});

describe('checkDocumentNumber for military_officer', () => {
  it('accepts printed 字第 numbers and re-keyed alphanumerics', () => {
    for (const raw of ['南字第012345号', '政字第 00123456 号', '字第0123456', 'JG12345678']) {
      expect(check('military_officer', raw)).toMatchObject({ ok: true, type: 'military_officer' });
    }
  });

  it('refuses numbers outside the bounds', () => {
    for (const raw of [
      '南字第123号',
      '南北字第012345号',
      '南字第01234567890号',
      'ABCDEFG',
      'A1234',
      'A1234567890123',
    ]) {
      expect(check('military_officer', raw)).toMatchObject({ ok: false, code: 'format' });
    }
  });
});

describe('checkDocumentNumber for other', () => {
  it('accepts 4–40 letters and digits', () => {
    expect(check('other', 'ab-12')).toEqual({ ok: true, type: 'other', number: 'AB12' });
    expect(check('other', 'Z'.repeat(40)).ok).toBe(true);
    expect(check('other', '士字第123456号').ok).toBe(true);
  });

  it('refuses too short, too long or symbols', () => {
    for (const raw of ['AB1', 'Z'.repeat(41), 'AB@12', 'AB/12']) {
      expect(check('other', raw)).toMatchObject({ ok: false, code: 'format' });
    }
  });
});

describe('checkDocumentNumber input handling', () => {
  it('refuses unknown types, including differently cased names', () => {
    for (const type of ['driver_license', 'CN_RESIDENT_ID', '', 'toString']) {
      expect(check(type, '11010519491231002X')).toMatchObject({ ok: false, code: 'unknown_type' });
    }
  });

  it('reports an empty number, also when only separators were given', () => {
    for (const raw of ['', '   ', ' - . ', '\u3000']) {
      expect(check('passport', raw)).toMatchObject({ ok: false, code: 'empty' });
    }
  });

  it('refuses overlong input without normalizing it', () => {
    expect(check('other', '1'.repeat(10_000))).toMatchObject({ ok: false, code: 'format' });
  });

  it('uses the current date when no today is given', () => {
    expect(checkDocumentNumber('cn_resident_id', '11010519491231002X').ok).toBe(true);
    expect(checkDocumentNumber('cn_resident_id', withCheckCharacter('11010529991231001'))).toMatchObject({
      code: 'birth_date',
    });
  });
});
