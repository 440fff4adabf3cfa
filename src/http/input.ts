import type { Context, Next } from 'koa';
import type { z } from 'zod';
import { InvalidInput, PlatformError } from '../errors.js';
import { parseInput } from '../validation.js';

/** Parses a request body (form or JSON object) with a zod schema. */
export function parseBody<T extends z.ZodType>(ctx: Context, schema: T): z.output<T> {
  const body = (ctx.request as { body?: unknown }).body;
  if (Array.isArray(body))
    throw new InvalidInput([{ field: '(body)', code: 'invalid_type', message: 'expected a JSON object' }]);
  return parseInput(body && typeof body === 'object' ? body : {}, schema);
}

/** Parses a query string with a zod schema; a repeated parameter is refused by the schema. */
export function parseQuery<T extends z.ZodType>(ctx: Context, schema: T): z.output<T> {
  return parseInput({ ...ctx.query }, schema);
}

/** Bytes in a size like "16kb" (the config's `bodyLimit` format). */
export function byteSize(size: string): number {
  const match = /^(\d+)(b|kb|mb)$/.exec(size);
  if (!match) throw new Error(`not a size: ${size}`);
  return Number(match[1]) * { b: 1, kb: 1024, mb: 1024 * 1024 }[match[2] as 'b' | 'kb' | 'mb'];
}

/** True when every `name=value` pair of a urlencoded form decodes as UTF-8. */
export function isWellFormedForm(raw: string): boolean {
  try {
    for (const part of raw.split('&')) decodeURIComponent(part.replace(/\+/g, ' '));
    return true;
  } catch {
    return false;
  }
}

/** JSON in: a body of another media type is refused plainly rather than parsed as empty. */
export async function requireJson(ctx: Context, next: Next) {
  if (!ctx.request.type) throw new PlatformError('malformed-request', 400, 'A JSON request body is required.');
  if (!ctx.is('application/json'))
    throw new PlatformError('unsupported-media-type', 415, 'Send the request body as application/json.');
  return next();
}

/** `host[:port]` (RFC 9110 §7.2, RFC 3986 §3.2.2): an ASCII reg-name or IPv4, or an IPv6 literal. */
const AUTHORITY = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(:\d{1,5})?$/;

/**
 * Refuses a request whose Host (behind a trusted proxy, the first X-Forwarded-Host, as Koa reads
 * it) is not a valid host: oidc-provider builds absolute URLs from it and would fail on `new URL`,
 * a 500 for the caller's mistake. A request without one (HTTP/1.0) passes.
 */
export async function requireValidHost(ctx: Context, next: Next) {
  const host = ((ctx.app.proxy && ctx.get('X-Forwarded-Host')) || ctx.get('Host')).split(',')[0]!.trim();
  if (host && !(AUTHORITY.test(host) && URL.canParse(`http://${host}/`))) {
    throw new PlatformError('malformed-request', 400, 'The Host header is not a valid host name.');
  }
  return next();
}
