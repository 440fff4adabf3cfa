import type { IncomingMessage } from 'node:http';
import { parse, type ParsedUrlQuery } from 'node:querystring';
import type { Context } from 'koa';
import { PlatformError } from '../errors.js';

/** oidc-provider reads at most this much of a body (lib/shared/selective_body.js `LIMIT`). */
const PROVIDER_BODY_LIMIT = 56 * 1024;

const PEEKED = Symbol('peeked provider form');

/**
 * The urlencoded form of a request bound for oidc-provider's endpoints, read without taking the
 * body from oidc-provider, which reads the stream itself and warns about upstream parsers: the
 * bytes are put back with `unshift` before the stream ends. Parsed with node:querystring, as
 * oidc-provider parses it (lib/shared/selective_body.js), so both see the same parameters.
 * Undefined for another media type, or a body without a declared length or over oidc-provider's
 * limit. Read once per request.
 */
export function peekProviderForm(ctx: Context): Promise<ParsedUrlQuery | undefined> {
  const state = ctx.state as { [PEEKED]?: Promise<ParsedUrlQuery | undefined> };
  return (state[PEEKED] ??= readForm(ctx));
}

async function readForm(ctx: Context): Promise<ParsedUrlQuery | undefined> {
  const length = ctx.request.length;
  if (!ctx.is('application/x-www-form-urlencoded') || !length || length > PROVIDER_BODY_LIMIT) return undefined;
  return parse((await peekBody(ctx.req, length)).toString('utf8'));
}

/**
 * Reads `length` bytes of the request body and puts them back (Node.js stream.unshift), so the
 * next reader gets the whole body. They are put back in the same tick as the last read, before
 * the stream can emit 'end' (after which unshift is not allowed).
 */
function peekBody(req: IncomingMessage, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('readable', read);
      req.off('end', ended);
      req.off('error', failed);
      req.off('close', closed);
    };
    const failed = (err: Error) => {
      stop();
      reject(err);
    };
    const ended = () =>
      failed(new PlatformError('malformed-request', 400, 'The body is shorter than its Content-Length.'));
    const closed = () =>
      failed(new PlatformError('malformed-request', 400, 'The request was closed before its body arrived.'));
    function read() {
      let chunk: Buffer | null;
      while (size < length && (chunk = req.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        size += chunk.length;
      }
      if (size < length) return;
      stop();
      const body = Buffer.concat(chunks, size);
      req.unshift(body);
      resolve(body);
    }
    req.on('readable', read);
    req.on('end', ended);
    req.on('error', failed);
    req.on('close', closed);
  });
}
