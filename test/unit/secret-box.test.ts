import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { SecretBox } from '../../src/crypto/secret-box.js';

const CONTEXT = 'accounts.totp_secret:42';
const newKey = () => randomBytes(32);

/** The sealed value with one byte of part `index` flipped. */
function tamper(sealed: string, index: number, byte = 0): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[byte] = bytes[byte]! ^ 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

function replacePart(sealed: string, index: number, value: string): string {
  const parts = sealed.split('.');
  parts[index] = value;
  return parts.join('.');
}

describe('SecretBox', () => {
  it('round-trips text and binary data', () => {
    const box = new SecretBox(newKey());
    for (const text of ['hello', '', '实名认证 ✓', 'x'.repeat(10_000)]) {
      expect(box.openText(box.seal(text, CONTEXT), CONTEXT)).toBe(text);
    }
    const binary = randomBytes(257);
    expect(box.open(box.seal(binary, CONTEXT), CONTEXT).equals(binary)).toBe(true);
  });

  it('seals in the format v1.<kid>.<nonce>.<ciphertext>.<tag> with base64url parts', () => {
    const box = new SecretBox(newKey());
    const sealed = box.seal('sixteen bytes!!!', CONTEXT);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/);
    const [version, kid, nonce, ciphertext, tag] = sealed.split('.');
    expect(version).toBe('v1');
    expect(kid).toBe(box.currentKeyId);
    expect(kid).toHaveLength(12);
    expect(Buffer.from(nonce!, 'base64url')).toHaveLength(12);
    expect(Buffer.from(ciphertext!, 'base64url')).toHaveLength(16);
    expect(Buffer.from(tag!, 'base64url')).toHaveLength(16);
    expect(sealed).not.toContain('sixteen');
  });

  it('uses a fresh nonce for every seal', () => {
    const box = new SecretBox(newKey());
    const a = box.seal('same', CONTEXT);
    const b = box.seal('same', CONTEXT);
    expect(a).not.toBe(b);
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
  });

  it('derives a stable key id from the key that does not contain the key', () => {
    const key = newKey();
    expect(new SecretBox(key).currentKeyId).toBe(new SecretBox(Buffer.from(key)).currentKeyId);
    expect(new SecretBox(newKey()).currentKeyId).not.toBe(new SecretBox(key).currentKeyId);
    expect(key.toString('base64url')).not.toContain(new SecretBox(key).currentKeyId);
  });

  it('fails to open under another context (AAD)', () => {
    const box = new SecretBox(newKey());
    const sealed = box.seal('secret', CONTEXT);
    expect(() => box.open(sealed, 'accounts.totp_secret:43')).toThrow();
    expect(() => box.open(sealed, '')).toThrow();
    expect(() => box.open(box.seal('secret', ''), CONTEXT)).toThrow();
  });

  it.each([
    ['nonce', 2],
    ['ciphertext', 3],
    ['tag', 4],
  ])('fails to open when the %s is tampered with', (_part, index) => {
    const box = new SecretBox(newKey());
    const sealed = box.seal('secret value', CONTEXT);
    expect(box.openText(sealed, CONTEXT)).toBe('secret value');
    expect(() => box.open(tamper(sealed, index), CONTEXT)).toThrow();
    expect(() => box.open(tamper(sealed, index, 5), CONTEXT)).toThrow();
  });

  it('fails to open when the ciphertext is truncated or extended', () => {
    const box = new SecretBox(newKey());
    const sealed = box.seal('secret value', CONTEXT);
    const ciphertext = Buffer.from(sealed.split('.')[3]!, 'base64url');
    expect(() => box.open(replacePart(sealed, 3, ciphertext.subarray(1).toString('base64url')), CONTEXT)).toThrow();
    expect(() =>
      box.open(replacePart(sealed, 3, Buffer.concat([ciphertext, Buffer.from([0])]).toString('base64url')), CONTEXT),
    ).toThrow();
  });

  it('fails to open when the tag is missing', () => {
    const box = new SecretBox(newKey());
    expect(() => box.open(replacePart(box.seal('x', CONTEXT), 4, ''), CONTEXT)).toThrow(/malformed/);
  });

  // A truncated GCM tag would lower the forgery bound from 2^-128 to 2^-32.
  it('fails to open when the tag is truncated', () => {
    const box = new SecretBox(newKey());
    const sealed = box.seal('secret value', CONTEXT);
    const tag = Buffer.from(sealed.split('.')[4]!, 'base64url');
    expect(() => box.open(replacePart(sealed, 4, tag.subarray(0, 4).toString('base64url')), CONTEXT)).toThrow();
  });

  it('fails to open under a different key even when the key id is swapped in', () => {
    const sealed = new SecretBox(newKey()).seal('secret', CONTEXT);
    const other = new SecretBox(newKey());
    expect(() => other.open(replacePart(sealed, 1, other.currentKeyId), CONTEXT)).toThrow();
  });

  it.each([
    ['another version', (s: string) => replacePart(s, 0, 'v2')],
    ['too few parts', (s: string) => s.split('.').slice(0, 4).join('.')],
    ['too many parts', (s: string) => `${s}.extra`],
    ['an empty key id', (s: string) => replacePart(s, 1, '')],
    ['no structure', () => 'not-a-sealed-value'],
  ])('rejects a malformed value: %s', (_name, mangle) => {
    const box = new SecretBox(newKey());
    expect(() => box.open(mangle(box.seal('secret', CONTEXT)), CONTEXT)).toThrow(/malformed/);
  });

  it('rejects an unknown key id', () => {
    const sealed = new SecretBox(newKey()).seal('secret', CONTEXT);
    const box = new SecretBox(newKey());
    expect(() => box.open(sealed, CONTEXT)).toThrow(/unknown key id/);
    expect(() => box.open(replacePart(box.seal('x', CONTEXT), 1, 'AAAAAAAAAAAA'), CONTEXT)).toThrow(
      /unknown key id AAAAAAAAAAAA/,
    );
  });

  describe('key rotation', () => {
    const oldKey = newKey();
    const currentKey = newKey();
    const before = new SecretBox(oldKey);
    const after = new SecretBox(currentKey, [oldKey]);

    it('opens values sealed with a previous key', () => {
      const sealed = before.seal('old secret', CONTEXT);
      expect(after.openText(sealed, CONTEXT)).toBe('old secret');
    });

    it('seals new values with the current key', () => {
      expect(after.currentKeyId).not.toBe(before.currentKeyId);
      expect(after.seal('new', CONTEXT).split('.')[1]).toBe(after.currentKeyId);
      expect(() => before.open(after.seal('new', CONTEXT), CONTEXT)).toThrow(/unknown key id/);
    });

    it('still binds the context for previous keys', () => {
      expect(() => after.open(before.seal('old', CONTEXT), 'other')).toThrow();
    });

    it('forgets keys that are no longer listed', () => {
      const later = new SecretBox(newKey(), [currentKey]);
      expect(later.openText(after.seal('kept', CONTEXT), CONTEXT)).toBe('kept');
      expect(() => later.open(before.seal('dropped', CONTEXT), CONTEXT)).toThrow(/unknown key id/);
    });
  });

  it('requires 32-byte keys', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
    expect(() => new SecretBox(randomBytes(33))).toThrow(/32 bytes/);
    expect(() => new SecretBox(newKey(), [randomBytes(31)])).toThrow(/32 bytes/);
  });

  it('builds from base64 keys', () => {
    const current = newKey();
    const previous = newKey();
    const box = SecretBox.fromBase64(current.toString('base64'), [previous.toString('base64')]);
    expect(box.currentKeyId).toBe(new SecretBox(current).currentKeyId);
    expect(box.openText(new SecretBox(previous).seal('p', CONTEXT), CONTEXT)).toBe('p');
    expect(() => SecretBox.fromBase64('c2hvcnQ=')).toThrow(/32 bytes/);
  });
});
