import busboy from 'busboy';
import type { Context } from 'koa';
import { PlatformError } from '../errors.js';
import { isStorableText } from '../db/text.js';

export interface UploadedFile {
  data: Buffer;
  /** As the browser declared it; never trusted (check the bytes). */
  declaredType: string;
}

export interface MultipartLimits {
  fileBytes: number;
  files: string[];
  fields: string[];
  fieldBytes: number;
}

/**
 * A part's name for a message. busboy gives `undefined` (whatever its types say) for a part whose
 * Content-Disposition has no name or one it cannot parse; a throw in its event handlers would be
 * an uncaught exception, taking the process down.
 */
const shown = (name: string | undefined) => JSON.stringify(String(name ?? '').slice(0, 40));

/**
 * Reads a multipart/form-data body (RFC 7578) into memory within hard limits: only the named
 * fields and files, each file at most `fileBytes` (413 beyond), text fields single-valued and
 * storable. An empty file input (no file chosen) is left out.
 */
export async function parseMultipart(
  ctx: Context,
  limits: MultipartLimits,
): Promise<{ fields: Record<string, string>; files: Record<string, UploadedFile> }> {
  if (!ctx.is('multipart/form-data'))
    throw new PlatformError('unsupported-media-type', 415, 'Send the form as multipart/form-data.');
  const fields: Record<string, string> = {};
  const files: Record<string, UploadedFile> = {};
  let failure: PlatformError | undefined;
  const fail = (error: PlatformError) => (failure ??= error);

  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: ctx.req.headers,
      defParamCharset: 'utf8',
      limits: {
        fileSize: limits.fileBytes,
        files: limits.files.length,
        fields: limits.fields.length,
        fieldSize: limits.fieldBytes,
        // busboy signals the parts limit when it is reached, not passed: allow one more.
        parts: limits.files.length + limits.fields.length + 1,
      },
    });
  } catch {
    throw new PlatformError('malformed-request', 400, 'The form could not be read.');
  }
  parser.on('field', (name, value, info) => {
    if (!limits.fields.includes(name))
      return fail(new PlatformError('malformed-request', 400, `Unexpected field ${shown(name)}.`));
    if (name in fields) return fail(new PlatformError('malformed-request', 400, `Field ${name} was sent twice.`));
    if (info.valueTruncated || !isStorableText(value, limits.fieldBytes))
      return fail(new PlatformError('malformed-request', 400, `Field ${name} is not valid text.`));
    fields[name] = value;
  });
  parser.on('file', (name, stream, info) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('limit', () =>
      fail(new PlatformError('payload-too-large', 413, `The file ${name} is larger than ${limits.fileBytes} bytes.`)),
    );
    // A form that ends inside a file ("Unexpected end of form") destroys the file stream with the
    // error: unheard, it would be an uncaught exception. The parser's own error answers the request.
    stream.on('error', () => fail(new PlatformError('malformed-request', 400, 'The form could not be read.')));
    stream.on('close', () => {
      if (!limits.files.includes(name))
        return fail(new PlatformError('malformed-request', 400, `Unexpected file ${shown(name)}.`));
      if (name in files) return fail(new PlatformError('malformed-request', 400, `File ${name} was sent twice.`));
      const data = Buffer.concat(chunks);
      if (data.length > 0) files[name] = { data, declaredType: info.mimeType };
    });
  });
  parser.on('partsLimit', () => fail(new PlatformError('malformed-request', 400, 'The form has too many parts.')));
  parser.on('filesLimit', () => fail(new PlatformError('malformed-request', 400, 'The form has too many files.')));
  parser.on('fieldsLimit', () => fail(new PlatformError('malformed-request', 400, 'The form has too many fields.')));

  await new Promise<void>((resolve, reject) => {
    parser.on('close', resolve);
    parser.on('error', () => reject(new PlatformError('malformed-request', 400, 'The form could not be read.')));
    ctx.req.on('error', reject);
    ctx.req.pipe(parser);
  });
  if (failure) throw failure;
  return { fields, files };
}
