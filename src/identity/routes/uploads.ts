import { sniffImageType } from '../images.js';
import type { Image } from '../providers/types.js';

/**
 * A photo a form uploaded, typed by its magic bytes (never by its name or declared type). A file
 * of no readable type is handed on as an empty PNG, so the service reports that field by name
 * (`image_type`); no file at all is undefined.
 */
export function uploadedImage(files: Record<string, { data: Buffer } | undefined>, name: string): Image | undefined {
  const file = files[name];
  const type = file && sniffImageType(file.data);
  return file ? { contentType: type ?? 'image/png', data: type ? file.data : Buffer.alloc(0) } : undefined;
}
