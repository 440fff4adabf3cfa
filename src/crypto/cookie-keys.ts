import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * The cookie signing keys, as the `cookies` package (Koa's, and oidc-provider's) uses them: signs
 * with the first, accepts a signature by any (a rotated key verifies until it is dropped). The
 * signatures are Keygrip's (HMAC-SHA1, base64 with `/+` as `_-` and no padding), so cookies signed
 * before carry over. Unlike Keygrip given an array, which `cookies` builds again for every request,
 * the keys are prepared once, and a signature is compared with `timingSafeEqual` rather than by
 * hashing both sides again with a fresh random key.
 */
export class CookieKeys {
  private readonly keys: KeyObject[];

  constructor(secrets: readonly string[]) {
    if (!secrets.length) throw new Error('at least one cookie key is needed');
    this.keys = secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
  }

  sign(data: string): string {
    return signature(data, this.keys[0]!);
  }

  verify(data: string, digest: string): boolean {
    return this.index(data, digest) > -1;
  }

  /** Which key signed `data` as `digest`, or -1. */
  index(data: string, digest: string): number {
    const given = Buffer.from(digest);
    return this.keys.findIndex((key) => {
      const expected = Buffer.from(signature(data, key));
      return expected.length === given.length && timingSafeEqual(expected, given);
    });
  }
}

function signature(data: string, key: KeyObject): string {
  return createHmac('sha1', key).update(data).digest('base64url');
}
