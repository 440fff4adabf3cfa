import type { Image } from './providers/types.js';

// What an uploaded file really is, by its bytes (never by its name or declared type).

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The image type the bytes begin with (magic bytes), or undefined. */
export function sniffImageType(data: Buffer): Image['contentType'] | undefined {
  if (data.length >= 8 && data.subarray(0, 8).equals(PNG_SIGNATURE)) return 'image/png';
  if (data.length >= 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) return 'image/jpeg';
  return undefined;
}

/**
 * True when the bytes are a structurally whole PNG (signature, IHDR first, IEND last; PNG spec
 * §5.2–5.6) or JPEG (SOI … EOI markers; ITU T.81 Annex B), not just a file with the right
 * first bytes.
 */
export function isWholeImage(data: Buffer): boolean {
  const type = sniffImageType(data);
  if (type === 'image/png') {
    if (data.length < 8 + 25 + 12) return false;
    const firstChunk = data.toString('latin1', 12, 16);
    const lastChunk = data.toString('latin1', data.length - 8, data.length - 4);
    const width = data.readUInt32BE(16);
    const height = data.readUInt32BE(20);
    return firstChunk === 'IHDR' && lastChunk === 'IEND' && width > 0 && height > 0;
  }
  if (type === 'image/jpeg') {
    return data.length > 4 && data[data.length - 2] === 0xff && data[data.length - 1] === 0xd9;
  }
  return false;
}
