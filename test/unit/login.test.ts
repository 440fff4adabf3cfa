import { describe, expect, it } from '@jest/globals';
import { normalizeLogin } from '../../src/accounts/login.js';

describe('normalizeLogin: email', () => {
  it.each([
    ['alice@example.com', 'alice@example.com'],
    ['Alice@Example.COM', 'alice@example.com'],
    ['  bob@example.cn\t', 'bob@example.cn'],
    ['ａｌｉｃｅ＠ｅｘａｍｐｌｅ．ｃｏｍ', 'alice@example.com'], // full-width IME input, NFKC-folded
    ['first.last+tag@sub.example.org', 'first.last+tag@sub.example.org'],
  ])('%j → %j', (raw, login) => {
    expect(normalizeLogin(raw)).toEqual({ login, type: 'email' });
  });

  it.each([
    'alice@',
    '@example.com',
    'alice@example',
    'alice smith@example.com',
    'a@@example.com',
    'alice@exa mple.com',
    '13800138000@',
  ])('rejects %j', (raw) => {
    expect(normalizeLogin(raw)).toBeNull();
  });

  it('rejects logins longer than 254 characters', () => {
    const local = 'a'.repeat(64);
    const domain = `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(57)}.cn`;
    const tooLong = `${local}@${domain}`;
    expect(tooLong.length).toBeGreaterThan(254);
    expect(normalizeLogin(tooLong)).toBeNull();
  });
});

describe('normalizeLogin: mobile numbers', () => {
  it.each([
    '13800138000',
    '138 0013 8000',
    '138-0013-8000',
    ' 138 - 0013 - 8000 ',
    '(138) 0013 8000',
    '+8613800138000',
    '+86 138 0013 8000',
    '+86-138-0013-8000',
    '(+86) 138 0013 8000',
    '86 13800138000',
    '＋８６ １３８ ００１３ ８０００', // full-width
    '138\u30000013\u30008000', // ideographic spaces
  ])('%j → +8613800138000', (raw) => {
    expect(normalizeLogin(raw)).toEqual({ login: '+8613800138000', type: 'phone' });
  });

  it.each(['13000000000', '14512345678', '15912345678', '16612345678', '17712345678', '18888888888', '19912345678'])(
    'accepts the mainland prefix of %s',
    (raw) => {
      expect(normalizeLogin(raw)).toEqual({ login: `+86${raw}`, type: 'phone' });
    },
  );

  it('accepts the 0086 prefix', () => {
    expect(normalizeLogin('0086 138 0013 8000')).toEqual({ login: '+8613800138000', type: 'phone' });
  });

  it.each([
    ['+1 (415) 555-2671', '+14155552671'],
    ['+44 20 7946 0958', '+442079460958'],
    ['+852 9123 4567', '+85291234567'],
  ])('keeps other E.164 numbers: %j → %j', (raw, login) => {
    expect(normalizeLogin(raw)).toEqual({ login, type: 'phone' });
  });

  it.each([
    ['', 'empty'],
    ['   ', 'blank'],
    ['hello', 'a word'],
    ['12345', 'too short'],
    ['12800138000', 'mainland number not starting 1[3-9]'],
    ['1380013800', '10 digits'],
    ['138001380001', '12 digits'],
    ['23800138000', 'not starting with 1'],
    ['+0123456789', 'E.164 country code cannot start with 0'],
    ['+1234567', 'E.164 too short'],
    ['+1234567890123456', 'E.164 too long'],
    ['++8613800138000', 'doubled plus'],
    ['138.0013.8000', 'dots'],
    ['138O0138000', 'letter O for zero'],
    ['tel:+8613800138000', 'a URI'],
  ])('rejects %j (%s)', (raw) => {
    expect(normalizeLogin(raw)).toBeNull();
  });
});
