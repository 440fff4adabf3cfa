/**
 * Why a master key cannot be a production key, or undefined when it looks like 32 random bytes.
 *
 * A key made by `openssl rand -base64 32` passes every test below except with negligible
 * probability: a random 32-byte key has about 30 distinct byte values; 16 or fewer happen with
 * probability under 1e-13, all 32 bytes printable ASCII under 2e-14, an arithmetic sequence
 * 2^-240. What they catch are keys a person typed or a script filled: all zero, one byte repeated,
 * a short pattern repeated, a counter, a passphrase padded to 32 bytes (as the development key is).
 */
export function weakMasterKeyReason(base64: string): string | undefined {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32) return 'not 32 bytes';
  const distinct = new Set(key).size;
  if (distinct === 1) return 'one byte repeated (all zero or the like)';
  if (distinct <= 16) return `only ${distinct} distinct byte values: not random`;
  const step = (key[1]! - key[0]! + 256) % 256;
  if (key.every((byte, i) => i === 0 || (byte - key[i - 1]! + 256) % 256 === step)) return 'a counter, not random';
  if (key.every((byte) => byte >= 0x20 && byte <= 0x7e)) return 'printable text, not random bytes';
  return undefined;
}
