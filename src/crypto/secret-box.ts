import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

/**
 * AES-256-GCM encryption at rest with a fresh 96-bit nonce per record (NIST SP 800-38D §8.2.2)
 * and the key's id stored beside the ciphertext, so keys can rotate: new records use the current
 * key, old records name the key that can open them.
 *
 * Sealed format: `v1.<key id>.<nonce>.<ciphertext>.<tag>` (base64url parts).
 * `context` is bound as additional authenticated data: a ciphertext moved to another row or
 * column fails to open instead of decrypting as someone else's secret.
 */
export class SecretBox {
  // KeyObjects, made once: a cipher given raw bytes prepares a key at every call.
  private readonly keys = new Map<string, KeyObject>();
  readonly currentKeyId: string;

  constructor(currentKey: Buffer, previousKeys: Buffer[] = []) {
    for (const key of [currentKey, ...previousKeys]) {
      if (key.length !== 32) throw new Error('SecretBox keys must be 32 bytes');
      this.keys.set(keyIdOf(key), createSecretKey(key));
    }
    this.currentKeyId = keyIdOf(currentKey);
  }

  static fromBase64(current: string, previous: string[] = []): SecretBox {
    return new SecretBox(
      Buffer.from(current, 'base64'),
      previous.map((k) => Buffer.from(k, 'base64')),
    );
  }

  /**
   * A box that seals under `key` (a data key of its own, e.g. one natural person's) and still
   * opens what this box's keys sealed: a value is opened by the key its id names.
   */
  withCurrentKey(key: Buffer): SecretBox {
    const box = new SecretBox(key);
    for (const [id, known] of this.keys) if (!box.keys.has(id)) box.keys.set(id, known);
    return box;
  }

  seal(plaintext: Buffer | string, context: string): string {
    const key = this.keys.get(this.currentKeyId)!;
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return ['v1', this.currentKeyId, nonce, ciphertext, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  open(sealed: string, context: string): Buffer {
    const [version, keyId, nonce, ciphertext, tag, ...rest] = sealed.split('.');
    if (version !== 'v1' || !keyId || nonce === undefined || ciphertext === undefined || !tag || rest.length) {
      throw new Error('SecretBox: malformed sealed value');
    }
    const key = this.keys.get(keyId);
    if (!key) throw new Error(`SecretBox: unknown key id ${keyId}`);
    // The tag length is fixed: GCM would otherwise accept a truncated (forgeable) tag.
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
  }

  openText(sealed: string, context: string): string {
    return this.open(sealed, context).toString('utf8');
  }
}

/** A key's public id: a short hash of it, so the id reveals nothing usable about the key. */
function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('secret-box-key-id').update(key).digest('base64url').slice(0, 12);
}
