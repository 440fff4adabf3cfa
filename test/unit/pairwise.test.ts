import { createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { pairwiseSubject } from '../../src/oidc/pairwise.js';

const SALT = 'platform-pairwise-salt';

describe('pairwiseSubject', () => {
  it('is deterministic for one (salt, sector, account)', () => {
    expect(pairwiseSubject(SALT, 'shop.example.cn', 'acct-1')).toBe(pairwiseSubject(SALT, 'shop.example.cn', 'acct-1'));
  });

  it('is HMAC-SHA256(salt, sector NUL account) in base64url (stable across releases)', () => {
    const expected = createHmac('sha256', SALT).update('shop.example.cn\u0000acct-1').digest('base64url');
    const sub = pairwiseSubject(SALT, 'shop.example.cn', 'acct-1');
    expect(sub).toBe(expected);
    expect(sub).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('differs across sectors for the same account', () => {
    expect(pairwiseSubject(SALT, 'shop.example.cn', 'acct-1')).not.toBe(
      pairwiseSubject(SALT, 'bank.example.cn', 'acct-1'),
    );
  });

  it('differs across accounts in the same sector', () => {
    expect(pairwiseSubject(SALT, 'shop.example.cn', 'acct-1')).not.toBe(
      pairwiseSubject(SALT, 'shop.example.cn', 'acct-2'),
    );
  });

  it('depends on the salt', () => {
    expect(pairwiseSubject(SALT, 'shop.example.cn', 'acct-1')).not.toBe(
      pairwiseSubject(`${SALT}-2`, 'shop.example.cn', 'acct-1'),
    );
  });

  it('separates sector from account, so shifted boundaries do not collide', () => {
    expect(pairwiseSubject(SALT, 'shop.example.cn', 'acct-1')).not.toBe(
      pairwiseSubject(SALT, 'shop.example.c', 'nacct-1'),
    );
    expect(pairwiseSubject(SALT, 'ab', 'c')).not.toBe(pairwiseSubject(SALT, 'a', 'bc'));
  });

  it('never returns the account id or sector in the clear', () => {
    const sub = pairwiseSubject(SALT, 'shop.example.cn', 'acct-1');
    expect(sub).not.toContain('acct-1');
    expect(sub).not.toContain('shop');
  });

  it('gives distinct subjects across many accounts and sectors', () => {
    const subs = new Set<string>();
    for (const sector of ['a.example', 'b.example', 'c.example']) {
      for (let i = 0; i < 200; i += 1) subs.add(pairwiseSubject(SALT, sector, String(i)));
    }
    expect(subs.size).toBe(600);
  });
});
