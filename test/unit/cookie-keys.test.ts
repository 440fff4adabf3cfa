import { createHmac } from 'node:crypto';
import { CookieKeys } from '../../src/crypto/cookie-keys.js';

// Keygrip's signature, as the `cookies` package signed every cookie before: HMAC-SHA1 under the
// key's UTF-8 bytes, base64 with `/` `+` `=` replaced by `_` `-` and nothing.
function keygripSignature(data: string, key: string): string {
  return createHmac('sha1', key)
    .update(data)
    .digest('base64')
    .replace(/\/|\+|=/g, (x) => ({ '/': '_', '+': '-', '=': '' })[x]!);
}

describe('cookie keys', () => {
  const data = '_session=4kZ7qv9S2cJfP0wA; path=/';

  it('signs as Keygrip did, so the cookies a browser holds stay valid', () => {
    const keys = new CookieKeys(['current-key', 'older-key']);
    expect(keys.sign(data)).toBe(keygripSignature(data, 'current-key'));
    for (const value of ['', 'a', 'é字', 'x'.repeat(500)])
      expect(keys.sign(value)).toBe(keygripSignature(value, 'current-key'));
  });

  it('accepts a signature by any of its keys, saying which, and nothing else', () => {
    const keys = new CookieKeys(['current-key', 'older-key']);
    expect(keys.index(data, keygripSignature(data, 'current-key'))).toBe(0);
    expect(keys.index(data, keygripSignature(data, 'older-key'))).toBe(1);
    expect(keys.verify(data, keygripSignature(data, 'older-key'))).toBe(true);
    expect(keys.index(data, keygripSignature(data, 'dropped-key'))).toBe(-1);
    expect(keys.index(`${data}x`, keys.sign(data))).toBe(-1);
    const signature = keys.sign(data);
    const flipped = `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`;
    expect(keys.verify(data, flipped)).toBe(false);
    expect(keys.verify(data, signature.slice(0, -1))).toBe(false);
    expect(keys.verify(data, '')).toBe(false);
  });

  it('needs a key', () => {
    expect(() => new CookieKeys([])).toThrow(/at least one cookie key/);
  });
});
