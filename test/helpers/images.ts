/** A real 1×1 PNG (signature, IHDR, IDAT, IEND). */
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
/** A JPEG reduced to its frame markers: SOI, a JFIF APP0 segment, EOI. */
export const JPEG = Buffer.from('ffd8ffe000104a46494600010100000100010000ffd9', 'hex');
/** Starts like a PNG, but is cut off. */
export const TRUNCATED_PNG = PNG.subarray(0, 30);
